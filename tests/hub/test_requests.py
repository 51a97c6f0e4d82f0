"""Responses requests read into the hub and written for Chat and Messages backends: what
other bridges lost (freeform tools, namespaces, opaque reasoning) and hostile input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.golden.corpus import translated_request
from turnout.core.dialects.context import Context
from turnout.core.errors import BadRequest
from turnout.core.hub.chat_request import write_request as to_chat
from turnout.core.hub.chat_upstream import read_answer as read_chat_answer
from turnout.core.hub.conversation import Reasoning
from turnout.core.hub.messages_request import write_request as to_messages
from turnout.core.hub.messages_upstream import read_answer as read_messages_answer
from turnout.core.hub.responses_answer import write_answer
from turnout.core.hub.responses_request import read_request
from turnout.core.hub.seal import seal
from turnout.core.models import Quirks

GRAMMAR = 'start: "*** Begin Patch" LF hunk+ "*** End Patch"'
PATCH = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"
CODEX_TOOLS: list[dict[str, Any]] = [
    {"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {}}},
    {
        "type": "custom",
        "name": "apply_patch",
        "description": "Edit files.",
        "format": {"type": "grammar", "syntax": "lark", "definition": GRAMMAR},
    },
    {
        "type": "namespace",
        "name": "agents",
        "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object"}}],
    },
    {"type": "web_search"},
    {"type": "image_generation"},
]


def codex_body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-5.5",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Rules."}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Fix it."}]},
            {
                "type": "custom_tool_call",
                "call_id": "call_a-t0123456789ab",
                "name": "apply_patch",
                "input": PATCH,
            },
            {"type": "custom_tool_call_output", "call_id": "call_a-t0123456789ab", "output": "Done!"},
        ],
        "tools": CODEX_TOOLS,
        "stream": True,
        **extra,
    }


def test_freeform_tools_become_one_string_argument_for_chat() -> None:
    out, names, adjusted = to_chat(read_request(codex_body()), model="m", quirks=Quirks())
    tools = {t["function"]["name"]: t["function"] for t in out["tools"]}
    assert set(tools) == {"exec_command", "apply_patch", "agents__spawn"}
    assert tools["apply_patch"]["parameters"]["required"] == ["input"]
    assert GRAMMAR in tools["apply_patch"]["description"]
    assert {"tools: web_search", "tools: image_generation"} <= set(adjusted)
    call = out["messages"][2]["tool_calls"][0]
    assert call["id"] == "call_a"  # turnout's nonce suffix taken off: the upstream's own id
    assert json.loads(call["function"]["arguments"]) == {"input": PATCH}
    assert out["messages"][3] == {"role": "tool", "tool_call_id": "call_a", "content": "Done!"}
    assert out["messages"][0] == {"role": "system", "content": "Rules."}
    assert names.custom == ["apply_patch"] and names.namespaces == {"agents__spawn": ["agents", "spawn"]}


def test_freeform_tools_for_messages() -> None:
    out, _, _ = to_messages(read_request(codex_body()), model="claude", quirks=Quirks())
    assert out["system"] == [{"type": "text", "text": "Rules."}]
    use = out["messages"][1]["content"][0]
    assert use == {"type": "tool_use", "id": "call_a", "name": "apply_patch", "input": {"input": PATCH}}
    result = out["messages"][2]["content"][0]
    assert result["tool_use_id"] == "call_a" and result["content"] == [{"type": "text", "text": "Done!"}]


@pytest.mark.parametrize("read", [read_chat_answer, read_messages_answer])
def test_calls_come_back_as_the_clients_own_tools(read: Any) -> None:
    _, names, _ = to_chat(read_request(codex_body()), model="m", quirks=Quirks())
    ctx = Context(
        "openai", "openai", "gpt-5.5", api="responses", custom_tools=names.custom, namespaces=names.namespaces
    )
    if read is read_chat_answer:
        calls = [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "apply_patch", "arguments": json.dumps({"input": PATCH})},
            },
            {"id": "c2", "type": "function", "function": {"name": "agents__spawn", "arguments": "{}"}},
        ]
        body: dict[str, Any] = {
            "choices": [{"message": {"content": None, "tool_calls": calls}, "finish_reason": "stop"}]
        }
    else:
        body = {
            "content": [
                {"type": "tool_use", "id": "c1", "name": "apply_patch", "input": {"input": PATCH}},
                {"type": "tool_use", "id": "c2", "name": "agents__spawn", "input": {}},
            ],
            "stop_reason": "tool_use",
        }
    output = write_answer(read(body), ctx)["output"]
    assert (
        output[0]["type"] == "custom_tool_call"
        and output[0]["input"] == PATCH
        and output[0]["name"] == "apply_patch"
    )
    assert output[1]["type"] == "function_call" and (output[1]["namespace"], output[1]["name"]) == (
        "agents",
        "spawn",
    )
    assert output[0]["call_id"] != output[1]["call_id"]


def test_anthropic_thinking_survives_a_codex_round_trip_and_goes_only_to_anthropic() -> None:
    sealed = seal(Reasoning("I should patch.", "anthropic", signature="sig-123"))
    item = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "I should patch."}],
        "encrypted_content": sealed,
    }
    openai_item = {
        "type": "reasoning",
        "id": "rs_2",
        "summary": [],
        "encrypted_content": "gAAAA-openai-opaque",
    }
    body = codex_body()
    body["input"][2:2] = [item, openai_item]
    out, _, _ = to_messages(read_request(body), model="claude", quirks=Quirks())
    blocks = out["messages"][1]["content"]
    assert blocks[0] == {"type": "thinking", "thinking": "I should patch.", "signature": "sig-123"}
    assert not any("gAAAA" in json.dumps(b) for b in blocks)  # OpenAI's blob goes nowhere else
    chat, _, _ = to_chat(
        read_request(body), model="deepseek", quirks=Quirks(reasoning_field="reasoning_content")
    )
    assert chat["messages"][2]["reasoning_content"] == "I should patch."  # the readable part only
    assert "sig-123" not in json.dumps(chat) and "gAAAA" not in json.dumps(chat)


def test_a_damaged_seal_keeps_only_the_readable_part() -> None:
    item = {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "t"}],
        "encrypted_content": "dHVybm91dDE6!!!",  # sealed, then damaged
    }
    body = codex_body()
    body["input"].insert(2, item)
    out, _, _ = to_messages(read_request(body), model="claude", quirks=Quirks())
    assert not any(b["type"] == "thinking" for m in out["messages"] for b in m["content"])


def test_thinking_relaxes_what_it_forbids_and_says_so() -> None:
    body = codex_body(reasoning={"effort": "high"}, temperature=0.5, tool_choice="required")
    out, _, adjusted = to_messages(read_request(body), model="claude", quirks=Quirks())
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert "temperature" not in out and out["tool_choice"] == {"type": "auto"}
    assert {"temperature", "tool_choice"} <= set(adjusted)
    assert out["max_tokens"] > 24576


def test_a_string_input_and_settings() -> None:
    body = {
        "input": "hello",
        "instructions": "Be brief.",
        "max_output_tokens": 50,
        "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
        "parallel_tool_calls": False,
        "tools": CODEX_TOOLS[:1],
        "tool_choice": {"type": "function", "name": "exec_command"},
    }
    out, _, _ = to_chat(read_request(body), model="m", quirks=Quirks())
    assert out["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    assert out["max_tokens"] == 50 and out["parallel_tool_calls"] is False
    assert out["tool_choice"] == {"type": "function", "function": {"name": "exec_command"}}
    assert out["response_format"]["json_schema"]["schema"] == {"type": "object"}
    messages, _, _ = to_messages(read_request(body), model="c", quirks=Quirks())
    assert messages["tool_choice"] == {
        "type": "tool",
        "name": "exec_command",
        "disable_parallel_tool_use": True,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": {"a": 1}}, "input"),
        ({"input": ["x"]}, "input[0]"),
        ({"input": [{"type": "custom_tool_call", "call_id": "c"}]}, "input[0].name"),
        ({"input": "x", "tools": [{"type": "custom", "name": 5}]}, "tools[0].name"),
        (
            {"input": "x", "tools": [{"type": "namespace", "tools": [{"type": "function"}]}]},
            "tools[0].tools[0].name",
        ),
        ({"input": "x", "max_output_tokens": -1}, "max_output_tokens"),
        ({"input": "x", "reasoning": "high"}, "reasoning"),
        (
            {
                "input": [
                    {"type": "message", "role": "user", "content": [{"type": "input_image", "file_id": "f"}]}
                ]
            },
            "input_image",
        ),
    ],
)
def test_malformed_requests_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest, match=f"^{field.replace('[', '.').replace(']', '.')}"):
        read_request(body)


def test_a_forced_tool_without_a_name_forces_nothing() -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "tool_choice": {"type": "function", "function": {}},
    }
    for kind in ("anthropic", "openai-responses", "gemini"):
        out, _ = translated_request(body, "chat", kind, model="m")
        assert "tool_choice" not in out and "toolConfig" not in out, kind

"""Gemini requests read into the hub: both spellings, calls without ids, Gemini's schema
subset, thinking settings, Google's own tools, and signatures that must go home."""

from __future__ import annotations

from typing import Any

import pytest

from turnout.core.errors import BadRequest
from turnout.core.hub.chat_request import write_request as to_chat
from turnout.core.hub.conversation import Reasoning, ToolCall, ToolResult
from turnout.core.hub.gemini_request import json_schema, read_request
from turnout.core.hub.messages_request import write_request as to_messages
from turnout.core.hub.seal import seal
from turnout.core.models import Quirks


def ask(*contents: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"contents": list(contents), **extra}


def user(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "parts": list(parts)}


def model(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "model", "parts": list(parts)}


def test_calls_without_ids_are_paired_with_their_responses_by_name() -> None:
    request = read_request(
        ask(
            user({"text": "read both"}),
            model(
                {"functionCall": {"name": "read", "args": {"p": "a"}}},
                {"functionCall": {"name": "read", "args": {"p": "b"}}},
            ),
            user(
                {"functionResponse": {"name": "read", "response": {"output": "A"}}},
                {"function_response": {"name": "read", "response": {"content": "B"}}},
            ),
        )
    )
    calls = [p for p in request.turns[1].parts if isinstance(p, ToolCall)]
    results = [p for p in request.turns[2].parts if isinstance(p, ToolResult)]
    assert [c.id for c in calls] == [r.call_id for r in results]  # in order, each answered once
    assert len({c.id for c in calls}) == 2
    assert [r.content[0].text for r in results] == ["A", "B"]  # type: ignore[union-attr]
    out, _, _ = to_chat(request, model="m", quirks=Quirks())
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "tool", "tool"]


def test_geminis_schema_subset_becomes_json_schema() -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "n": {"type": "INTEGER", "nullable": True},
            "l": {"type": "ARRAY", "items": {"type": "STRING"}},
        },
    }
    assert json_schema(schema) == {
        "type": "object",
        "properties": {
            "n": {"type": ["integer", "null"]},
            "l": {"type": "array", "items": {"type": "string"}},
        },
    }
    body = ask(
        user({"text": "x"}),
        tools=[
            {"functionDeclarations": [{"name": "f", "parameters": schema}]},
            {"googleSearch": {}},
            {"codeExecution": {}},
        ],
        toolConfig={"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
        generationConfig={"responseMimeType": "application/json", "responseJsonSchema": {"type": "OBJECT"}},
    )
    out, _, adjusted = to_chat(read_request(body), model="m", quirks=Quirks())
    assert out["tools"][0]["function"]["parameters"]["type"] == "object"
    assert {"tools: googleSearch", "tools: codeExecution"} <= set(adjusted)
    assert out["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert out["response_format"]["json_schema"]["schema"] == {"type": "object"}


@pytest.mark.parametrize(
    ("thinking", "effort"),
    [
        ({"thinkingLevel": "HIGH"}, "high"),
        ({"thinkingBudget": 0}, "none"),
        ({"thinking_budget": 500}, "minimal"),
        ({"thinkingBudget": -1}, None),
    ],
)
def test_thinking_settings(thinking: dict[str, Any], effort: str | None) -> None:
    request = read_request(
        ask(user({"text": "x"}), generation_config={"thinking_config": thinking, "max_output_tokens": 99})
    )
    assert request.effort == effort and request.max_tokens == 99


def test_an_anthropic_signature_sealed_for_gemini_goes_back_to_anthropic_only() -> None:
    sealed = seal(Reasoning("plan", "anthropic", signature="sig-9"), native="gemini")
    assert sealed is not None
    body = ask(
        user({"text": "go"}),
        model(
            {"text": "plan", "thought": True, "thoughtSignature": sealed},
            {"functionCall": {"name": "f", "args": {}}},
        ),
        user({"functionResponse": {"name": "f", "response": {"output": "ok"}}}),
    )
    out, _, _ = to_messages(read_request(body), model="claude", quirks=Quirks())
    assert out["messages"][1]["content"][0] == {"type": "thinking", "thinking": "plan", "signature": "sig-9"}
    chat, _, _ = to_chat(read_request(body), model="m", quirks=Quirks())
    assert "sig-9" not in str(chat)
    google = ask(
        user({"text": "go"}),
        model({"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "R29vZ2xl"}),
    )
    messages, _, _ = to_messages(read_request(google), model="claude", quirks=Quirks())
    assert "R29vZ2xl" not in str(messages)  # Google's own signature: for Google only


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contents": "hi"}, "contents"),
        ({"contents": [{"parts": "x"}]}, "contents[0].parts"),
        ({"contents": [{"parts": [{"inlineData": {"data": 5}}]}]}, "contents[0].parts[0].inlineData.data"),
        (
            {
                "contents": [{"parts": [{"text": "x"}]}],
                "tools": [{"functionDeclarations": [{"description": "d"}]}],
            },
            "tools[0].functionDeclarations[0].name",
        ),
        (
            {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"candidateCount": 2}},
            "generationConfig.candidateCount",
        ),
        ({"contents": [{"parts": [{"text": ""}]}]}, "contents"),
    ],
)
def test_malformed_requests_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(BadRequest) as refused:
        read_request(body)
    assert refused.value.message.startswith(field)

"""Request translation details the golden corpus does not pin down."""

from __future__ import annotations

import pytest

from tests.golden.corpus import translated_request
from turnout.core.dialects.context import Context
from turnout.core.dialects.ids import (
    ToolIds,
    message_id,
    sanitize_tool_id,
    shorten_tool_name,
    synthetic_tool_id,
    upstream_tool_id,
)
from turnout.core.dialects.schema import clean_schema
from turnout.core.errors import BadRequest
from turnout.core.models import Quirks

LONG = "mcp__server_with_a_long_name__tool_with_an_even_longer_descriptive_name_v2"


def anthropic_to_openai(
    body: dict, *, model: str, requested: str, quirks: Quirks, window: int | None = None
) -> tuple[dict, Context]:
    return translated_request(
        body, "messages", "openai-compat", model=model, requested=requested, quirks=quirks, window=window
    )


def openai_to_anthropic(body: dict, *, model: str, requested: str, quirks: Quirks) -> tuple[dict, Context]:
    return translated_request(body, "chat", "anthropic", model=model, requested=requested, quirks=quirks)


def a2o(body: dict, quirks: Quirks | None = None, model: str = "up") -> dict:
    return anthropic_to_openai(body, model=model, requested="asked", quirks=quirks or Quirks())[0]


def o2a(body: dict, quirks: Quirks | None = None) -> dict:
    return openai_to_anthropic(body, model="up", requested="asked", quirks=quirks or Quirks())[0]


def test_long_tool_names_are_shortened_and_mapped_back() -> None:
    body = {
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": LONG, "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": LONG},
    }
    out, ctx = anthropic_to_openai(body, model="up", requested="asked", quirks=Quirks())
    short = out["tools"][0]["function"]["name"]
    assert len(short) == 64 and short == shorten_tool_name(LONG)
    assert out["tool_choice"] == {"type": "function", "function": {"name": short}}
    assert ctx.client_tool_name(short) == LONG and ctx.client_tool_name("other") == "other"


def test_server_tools_dropped_and_custom_type_not_leaked() -> None:
    out = a2o(
        {
            "messages": [],
            "tools": [
                {"type": "web_search_20250305", "name": "web_search"},
                {"type": "custom", "name": "t", "input_schema": {"type": "object"}},
            ],
        }
    )
    assert out["tools"] == [{"type": "function", "function": {"name": "t", "parameters": {"type": "object"}}}]


def test_quirks_token_param_cap_cache_schema_and_usage() -> None:
    body = {
        "max_tokens": 64000,
        "stream": True,
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "x"}],
        "tools": [
            {
                "name": "t",
                "input_schema": {
                    "type": "object",
                    "$schema": "x",
                    "additionalProperties": False,
                    "properties": {"d": {"type": "string", "format": "uri"}},
                },
            }
        ],
    }
    plain = a2o(body)
    assert plain["max_tokens"] == 64000 and plain["messages"][0] == {"role": "system", "content": "s"}
    assert plain["stream_options"] == {"include_usage": True}
    q = Quirks(
        max_tokens_param="max_completion_tokens",
        max_tokens_cap=8192,
        cache_control=True,
        clean_schema=True,
        stream_usage=False,
    )
    tuned = a2o(body, q)
    assert (
        tuned["max_completion_tokens"] == 8192 and "max_tokens" not in tuned and "stream_options" not in tuned
    )
    assert tuned["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert tuned["tools"][0]["function"]["parameters"] == {
        "type": "object",
        "properties": {"d": {"type": "string"}},
    }


@pytest.mark.parametrize(
    ("thinking", "model", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, "o3", "low"),
        ({"type": "enabled", "budget_tokens": 10000}, "gpt-5-mini", "medium"),
        ({"type": "enabled", "budget_tokens": 32000}, "o3", "high"),
        ({"type": "adaptive"}, "openai/gpt-oss-120b", "medium"),
        ({"type": "enabled", "budget_tokens": 32000}, "gpt-4o", None),  # rejects reasoning_effort
        ({"type": "enabled", "budget_tokens": 10000}, "llama-3.3-70b", None),  # not known to take it
        ({"type": "enabled", "budget_tokens": 10000}, "qwen3-32b", None),  # takes only none/default
        ({"type": "disabled"}, "o3", None),
    ],
)
def test_thinking_becomes_reasoning_effort(thinking: dict, model: str, effort: str | None) -> None:
    out, ctx = anthropic_to_openai(
        {"messages": [], "thinking": thinking}, model=model, requested="asked", quirks=Quirks()
    )
    assert out.get("reasoning_effort") == effort
    assert ("reasoning_effort" in ctx.adjusted) == (effort is None and thinking["type"] != "disabled")


def test_the_reasoning_effort_quirk_overrides_the_model_list() -> None:
    ask = {"messages": [], "thinking": {"type": "enabled", "budget_tokens": 10000}}
    assert a2o(ask, Quirks(reasoning_effort=True), model="my-local-r1")["reasoning_effort"] == "medium"
    assert "reasoning_effort" not in a2o(ask, Quirks(reasoning_effort=False), model="o3")


CLAUDE_CODE_ASK = {
    "max_tokens": 32000,
    "system": [{"type": "text", "text": "You are Claude Code. " * 200}],  # ~1,050 tokens
    "messages": [{"role": "user", "content": "hi"}],
}


@pytest.mark.parametrize(
    ("quirks", "window", "sent"),
    [
        (Quirks(), None, 32000),  # nothing known: as asked
        (Quirks(max_tokens_cap=8192), None, 8192),
        (Quirks(), 4096, 4096 - 1060),  # the window minus the prompt
        (Quirks(context_window=2048), 131072, 2048 - 1060),  # configured beats learned
        (Quirks(max_tokens_cap=512), 4096, 512),
        (Quirks(), 1024, 64),  # the prompt fills it: the server says so, turnout does not guess
    ],
)
def test_max_tokens_fits_the_backend(quirks: Quirks, window: int | None, sent: int) -> None:
    out, ctx = anthropic_to_openai(
        CLAUDE_CODE_ASK, model="m", requested="asked", quirks=quirks, window=window
    )
    assert abs(out["max_tokens"] - sent) <= 8, out["max_tokens"]
    assert ("max_tokens" in ctx.adjusted) == (sent != 32000)


def test_openai_to_anthropic_defaults_and_clamps() -> None:
    out = o2a({"messages": [{"role": "assistant", "content": "hi"}], "temperature": 2})
    assert out["max_tokens"] == 8192 and out["temperature"] == 1.0
    assert out["messages"][0] == {"role": "user", "content": [{"type": "text", "text": "(continue)"}]}
    thinking = o2a(
        {
            "messages": [],
            "reasoning_effort": "medium",
            "max_tokens": 100,
            "temperature": 0.2,
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": "required",
        }
    )
    assert thinking["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert thinking["max_tokens"] > 8192 and "temperature" not in thinking
    assert thinking["tool_choice"] == {"type": "auto"}
    assert "thinking" not in o2a({"messages": [], "reasoning_effort": "none"})


def test_openai_to_anthropic_rejects_what_it_cannot_carry() -> None:
    with pytest.raises(BadRequest, match="n > 1"):
        o2a({"messages": [], "n": 3})
    with pytest.raises(BadRequest, match="input_audio"):
        o2a({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]})
    with pytest.raises(BadRequest, match="JPEG, PNG"):
        o2a(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AA"}}],
                    }
                ]
            }
        )


def test_legacy_functions_and_json_schema_format() -> None:
    out = o2a(
        {
            "messages": [{"role": "user", "content": "x"}],
            "functions": [{"name": "f", "parameters": {"type": "object"}}],
            "function_call": {"type": "function", "function": {"name": "f"}},
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "n", "schema": {"type": "object"}},
            },
        }
    )
    assert out["tools"] == [{"name": "f", "input_schema": {"type": "object"}}]
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}}}


def test_ids() -> None:
    assert sanitize_tool_id("functions.Bash:0", "x") == "functions_Bash_0"
    assert sanitize_tool_id("", "fallback") == "fallback" and sanitize_tool_id(7, "f") == "7"  # type: ignore[arg-type]
    assert synthetic_tool_id("s", 1) == synthetic_tool_id("s", 1) != synthetic_tool_id("s", 2)
    assert shorten_tool_name("short") == "short"


def test_clean_schema_nested() -> None:
    schema = {
        "type": "object",
        "properties": {
            "o": {"type": "object", "properties": {}, "required": []},
            "l": {"type": "array", "items": [{"type": "string", "format": "date-time"}]},
        },
    }
    assert clean_schema(schema) == {
        "type": "object",
        "properties": {
            "o": {"type": "object"},
            "l": {"type": "array", "items": [{"type": "string", "format": "date-time"}]},
        },
    }


CLAUDE_CODE_USER = "user_3f2a_account__session_9c1e-device"


def test_client_user_ids_do_not_cross_dialects_unless_the_backend_opts_in() -> None:
    ask = {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    out = a2o({**ask, "metadata": {"user_id": CLAUDE_CODE_USER}})
    assert "user" not in out and CLAUDE_CODE_USER not in str(out)
    opted = a2o({**ask, "metadata": {"user_id": CLAUDE_CODE_USER}}, Quirks(forward_user_id=True))
    assert opted["user"] == CLAUDE_CODE_USER
    for field in ("user", "safety_identifier"):
        assert "metadata" not in o2a({**ask, field: "u-1"})
        assert o2a({**ask, field: "u-1"}, Quirks(forward_user_id=True))["metadata"] == {"user_id": "u-1"}


def test_translated_ids_are_unique_per_response_and_restored_for_the_upstream() -> None:
    ids = ToolIds("0123456789ab")
    first, again = ids.mint("call_0", 0), ids.mint("call_0", 1)  # repeated inside one response
    assert first == "call_0-t0123456789ab" and again == "call_0_1-t0123456789ab"
    assert ToolIds("ba9876543210").mint("call_0", 0) != first  # and across responses
    assert ids.mint(None, 2) == "call_2-t0123456789ab" and ids.mint("functions.Bash:0", 3).startswith(
        "functions_Bash_0-t"
    )
    assert message_id("chatcmpl-7", "0123456789ab") == "msg_chatcmpl-7_0123456789ab"
    assert message_id("msg_x", "0123456789ab") == "msg_x_0123456789ab" != message_id("msg_x", "ba9876543210")
    assert upstream_tool_id(first) == "call_0" and upstream_tool_id("toolu_01abc") == "toolu_01abc"
    history = {
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": first, "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first, "content": "ok"}]},
        ],
    }
    messages = a2o(history)["messages"]
    assert messages[1]["tool_calls"][0]["id"] == "call_0" and messages[2]["tool_call_id"] == "call_0"

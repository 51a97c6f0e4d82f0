"""What a target model refuses is taken out before sending, and said; a request sent to
the model its client named passes untouched."""

from __future__ import annotations

from typing import Any

from tests.golden.corpus import translated_request
from turnout.core.hub.cleaning import clean_messages
from turnout.core.models import Quirks

HISTORY: dict[str, Any] = {
    "model": "claude-opus-4-1",
    "max_tokens": 100,
    "messages": [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hm", "signature": "sig-of-opus"},
                {"type": "redacted_thinking", "data": "xyz"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ],
}


def test_another_models_thinking_is_taken_out_of_the_history() -> None:
    adjusted: dict[str, str] = {}
    out = clean_messages(
        HISTORY, model="claude-opus-4-0", other_model=True, quirks=Quirks(), adjusted=adjusted
    )
    assert out is not None and out["messages"][1]["content"] == [
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    ]
    assert HISTORY["messages"][1]["content"][0]["type"] == "thinking"  # the client's body is not touched
    assert "thinking history" in adjusted
    assert (
        clean_messages(HISTORY, model="claude-opus-4-0", other_model=False, quirks=Quirks(), adjusted={})
        is None
    )


def test_the_newest_claude_models_limits() -> None:
    body = {
        **HISTORY,
        "temperature": 0.2,
        "top_p": 0.9,
        "thinking": {"type": "disabled"},
        "tool_choice": {"type": "tool", "name": "f"},
    }
    adjusted: dict[str, str] = {}
    out = clean_messages(
        body, model="claude-sonnet-5-5", other_model=False, quirks=Quirks(), adjusted=adjusted
    )
    assert out is not None
    assert "temperature" not in out and "top_p" not in out and "thinking" not in out
    assert out["tool_choice"] == {"type": "auto"}
    assert set(adjusted) == {"sampling", "thinking", "tool_choice"}
    # a quirk says this model takes sampling after all; an older model has no such limits
    assert (
        clean_messages(
            body, model="claude-sonnet-5-5", other_model=False, quirks=Quirks(sampling=True), adjusted={}
        )
        is None
    )
    assert (
        clean_messages(body, model="claude-3-7-sonnet", other_model=False, quirks=Quirks(), adjusted={})
        is None
    )


def test_a_chat_client_sent_to_the_newest_claude() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "temperature": 0.3, "tool_choice": "required",
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}  # fmt: skip
    out, ctx = translated_request(body, "chat", "anthropic", model="claude-opus-5-5")
    assert "temperature" not in out and out["tool_choice"] == {"type": "auto"}
    assert "sampling" in ctx.adjusted and "tool_choice" in ctx.adjusted
    older, _ = translated_request(body, "chat", "anthropic", model="claude-3-5-haiku")
    assert older["temperature"] == 0.3 and older["tool_choice"] == {"type": "any"}

"""turnout's translators held to the golden corpus, and the official SDKs parse the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from tests.golden.corpus import ROOT, build, to_anthropic_ctx, to_openai_ctx
from tests.golden.scenarios import SCENARIOS, Scenario

STREAMING = [s for s in SCENARIOS if not s.http_error]
WHOLE = [s for s in STREAMING if not s.error_mid_stream]


def ids(s: Scenario) -> str:
    return s.name


@pytest.mark.parametrize("scenario", SCENARIOS, ids=ids)
def test_corpus_matches_the_translators(scenario: Scenario) -> None:
    """Every committed file equals what the scenario and the translators produce now."""
    folder = ROOT / scenario.name
    built = build(scenario)
    assert sorted(p.name for p in folder.iterdir()) == sorted(built)
    for name, content in built.items():
        on_disk: str | bytes = (
            (folder / name).read_bytes() if isinstance(content, bytes) else (folder / name).read_text()
        )
        assert on_disk == content, (
            f"{scenario.name}/{name} differs: run `python -m tests.golden.corpus --write` and review"
        )


def claude(payload: bytes, content_type: str) -> anthropic.Anthropic:
    """The real SDK, its HTTP answered from ``payload`` (it uses httpx2)."""
    transport = httpx2.MockTransport(
        lambda request: httpx2.Response(200, content=payload, headers={"content-type": content_type})
    )
    return anthropic.Anthropic(
        api_key="x", base_url="http://t", max_retries=0, http_client=httpx2.Client(transport=transport)
    )


def gpt(payload: bytes, content_type: str) -> openai.OpenAI:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=payload, headers={"content-type": content_type})
    )
    return openai.OpenAI(
        api_key="x", base_url="http://t/v1", max_retries=0, http_client=httpx.Client(transport=transport)
    )


def accumulate(chunks: list[Any]) -> tuple[str | None, list[tuple[str, str, Any]], str | None, Any]:
    """(content, tool calls, finish_reason, usage) from SDK-parsed chunks, as a client would."""
    text, calls, finish, usage = "", {}, None, None
    for chunk in chunks:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += call.id or ""
                if call.function:
                    entry["name"] += call.function.name or ""
                    entry["arguments"] += call.function.arguments or ""
    tools = [(c["id"], c["name"], json.loads(c["arguments"])) for _, c in sorted(calls.items())]
    return text or None, tools, finish, usage


ASK = {"model": "client-model", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}


@pytest.mark.parametrize("scenario", WHOLE, ids=ids)
def test_anthropic_sdk_gets_the_same_message_streamed_or_not(scenario: Scenario) -> None:
    folder = ROOT / scenario.name
    with claude((folder / "client_anthropic.sse").read_bytes(), "text/event-stream").messages.stream(
        **ASK
    ) as s:
        streamed = s.get_final_message()
    whole = claude((folder / "client_anthropic.json").read_bytes(), "application/json").messages.create(**ASK)
    assert [b.model_dump(exclude={"parsed_output"}) for b in streamed.content] == [
        b.model_dump() for b in whole.content
    ]
    assert streamed.stop_reason == whole.stop_reason
    if scenario.stream_usage:
        assert streamed.usage.output_tokens == whole.usage.output_tokens
        assert streamed.usage.input_tokens == whole.usage.input_tokens
    else:  # the upstream never said: turnout estimates the output, chars/4 (no request here: input 0)
        text = "".join(b.text for b in streamed.content if b.type == "text")
        assert streamed.usage.output_tokens == -(-len(text) // 4) > 0
    if scenario.tools:
        assert streamed.stop_reason == "tool_use"
        assert [b.input for b in streamed.content if b.type == "tool_use"] == [
            json.loads("".join(t.pieces)) for t in scenario.tools
        ]
    if scenario.thinking:
        assert streamed.content[0].type == "thinking" and streamed.content[0].thinking == "".join(
            scenario.thinking
        )


@pytest.mark.parametrize("scenario", WHOLE, ids=ids)
def test_openai_sdk_gets_the_same_completion_streamed_or_not(scenario: Scenario) -> None:
    folder = ROOT / scenario.name
    ask: dict[str, Any] = {"model": "client-model", "messages": [{"role": "user", "content": "x"}]}
    stream = gpt((folder / "client_openai.sse").read_bytes(), "text/event-stream")
    text, calls, finish, usage = accumulate(list(stream.chat.completions.create(**ask, stream=True)))
    whole = gpt((folder / "client_openai.json").read_bytes(), "application/json").chat.completions.create(
        **ask
    )
    b = whole.choices[0]
    assert finish == b.finish_reason
    assert text == b.message.content
    assert calls == [
        (c.id, c.function.name, json.loads(c.function.arguments)) for c in b.message.tool_calls or []
    ]
    assert calls == [(t.id, t.name, json.loads("".join(t.pieces))) for t in scenario.tools]
    assert usage is not None and whole.usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        whole.usage.prompt_tokens,
        whole.usage.completion_tokens,
    )
    if scenario.thinking:
        assert b.message.reasoning_content == "".join(scenario.thinking)  # type: ignore[attr-defined]


@pytest.mark.parametrize("scenario", [s for s in STREAMING if s.error_mid_stream], ids=ids)
def test_mid_stream_errors_raise_in_both_sdks(scenario: Scenario) -> None:
    folder = ROOT / scenario.name
    client = claude((folder / "client_anthropic.sse").read_bytes(), "text/event-stream")
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"), client.messages.stream(**ASK) as s:
        s.get_final_message()
    with pytest.raises(openai.APIError, match="Overloaded"):
        ask = {"model": "client-model", "messages": [{"role": "user", "content": "x"}], "stream": True}
        list(
            gpt((folder / "client_openai.sse").read_bytes(), "text/event-stream").chat.completions.create(
                **ask
            )
        )


def test_errors_before_the_stream_keep_status_and_message() -> None:
    folder = ROOT / "error_before_stream"
    a = json.loads((folder / "client_anthropic_error.json").read_text())
    assert a == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Rate limit reached for requests"},
    }
    o = json.loads((folder / "client_openai_error.json").read_text())
    assert (
        o["error"]["message"] == "Rate limit reached for requests"
        and o["error"]["code"] == "rate_limit_exceeded"
    )


def test_stream_without_usage_still_finishes() -> None:
    events = (ROOT / "stream_without_usage" / "client_anthropic.sse").read_text()
    assert events.count("event: message_start") == 1 and events.rstrip().endswith('{"type":"message_stop"}')


def test_golden_contexts_are_fixed() -> None:
    assert to_anthropic_ctx().created == to_openai_ctx().created == 1700000000
    assert Path(ROOT / "long_stream" / "openai.sse").read_bytes().count(b"\ndata: ") >= 2000

"""The directions to the Responses-only and Gemini backends, held to the golden corpus:
each client's own SDK reads the streamed and the whole answer alike and gets what the
scenario said (text, reasoning, tool calls), any split of the upstream's bytes gives the
same stream, and garbage from the upstream always ends the client's stream properly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.dialects.test_golden import ASK, accumulate, claude
from tests.dialects.test_golden import gpt as chat_client
from tests.dialects.test_stream_splits import split
from tests.golden.corpus import CLIENTS, NEW_BACKENDS, ROOT, client_ctx, run_stream
from tests.golden.scenarios import SCENARIOS, Scenario
from tests.hub.test_gemini_stream import gemini, parts_of
from tests.hub.test_responses_stream import gpt as responses_client

STREAMING = [s for s in SCENARIOS if not s.http_error]
WHOLE = [s for s in STREAMING if not s.error_mid_stream]
PAIRS = [(c, b) for b in NEW_BACKENDS for c in CLIENTS if c != b]
# for the stream properties, the hub's new clients from the older backends too
STREAM_PAIRS = PAIRS + [(c, b) for b in ("openai", "anthropic") for c in ("responses", "gemini")]
SMALL = [s.name for s in STREAMING if s.name != "long_stream"]


def got(client: str, payload: bytes, stream: bool) -> tuple[str, str, list[tuple[str, Any]]]:
    """(text, reasoning, calls) as the client's SDK reads ``payload``."""
    kind = "text/event-stream" if stream else "application/json"
    if client == "anthropic":
        if stream:
            with claude(payload, kind).messages.stream(**ASK) as s:
                message = s.get_final_message()
        else:
            message = claude(payload, kind).messages.create(**ASK)
        text = "".join(b.text for b in message.content if b.type == "text")
        thinking = "".join(b.thinking for b in message.content if b.type == "thinking")
        return text, thinking, [(b.name, b.input) for b in message.content if b.type == "tool_use"]
    if client == "openai":
        ask: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        if stream:
            text, calls, _, _ = accumulate(
                list(chat_client(payload, kind).chat.completions.create(**ask, stream=True))
            )
            return text or "", "", [(name, args) for _, name, args in calls]
        message = chat_client(payload, kind).chat.completions.create(**ask).choices[0].message
        calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
        return message.content or "", getattr(message, "reasoning_content", None) or "", calls
    if client == "responses":
        if stream:
            with responses_client(payload, kind).responses.stream(model="m", input="x") as s:
                response = list(s)[-1].response  # type: ignore[union-attr]
        else:
            response = responses_client(payload, kind).responses.create(model="m", input="x")
        calls = [(o.name, json.loads(o.arguments)) for o in response.output if o.type == "function_call"]
        thinking = "".join(s.text for o in response.output if o.type == "reasoning" for s in o.summary)
        return response.output_text, thinking, calls
    sdk = gemini(payload, kind)
    answers = (
        list(sdk.models.generate_content_stream(model="m", contents="x"))
        if stream
        else [sdk.models.generate_content(model="m", contents="x")]
    )
    return parts_of(answers)


@pytest.mark.parametrize(("client", "backend"), PAIRS)
@pytest.mark.parametrize("scenario", WHOLE, ids=lambda s: s.name)
def test_every_client_reads_what_the_scenario_said(scenario: Scenario, client: str, backend: str) -> None:
    folder = ROOT / scenario.name
    streamed = got(client, (folder / f"client_{client}_from_{backend}.sse").read_bytes(), stream=True)
    whole = got(client, (folder / f"client_{client}_from_{backend}.json").read_bytes(), stream=False)
    text, thinking, calls = streamed
    assert (text, calls) == (whole[0], whole[2])
    assert text == "".join(scenario.text)
    assert calls == [(t.name, json.loads("".join(t.pieces))) for t in scenario.tools]
    assert whole[1] == "".join(scenario.thinking)
    if client != "openai":  # the accumulator above keeps no reasoning deltas
        assert thinking == whole[1]


@pytest.mark.parametrize(("client", "backend"), STREAM_PAIRS)
@pytest.mark.parametrize("name", SMALL)
@settings(max_examples=10, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0), max_size=60))
def test_any_split_of_the_upstream_gives_the_same_stream(
    name: str, client: str, backend: str, cuts: list[int]
) -> None:
    upstream = (ROOT / name / f"{backend}.sse").read_bytes()
    expected = (ROOT / name / f"client_{client}_from_{backend}.sse").read_bytes()
    assert run_stream(client_ctx(client, backend), split(upstream, cuts)) == expected


@pytest.mark.parametrize(("client", "backend"), STREAM_PAIRS)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(min_value=0), max_size=20))
@settings(max_examples=60, deadline=None)
def test_garbage_never_raises_and_always_ends_the_stream(
    client: str, backend: str, data: bytes, cuts: list[int]
) -> None:
    out = run_stream(client_ctx(client, backend), split(data, cuts))
    last = out.rstrip().replace(b"\r\n", b"\n").rsplit(b"\n\n", 1)[-1]
    ends = {
        "anthropic": (b"event: message_stop", b"event: error"),
        "openai": (b"data: [DONE]", b'data: {"error"'),
        "responses": (b"event: response.completed", b"event: response.failed", b"event: response.incomplete"),
        "gemini": (b'data: {"error"', b'data: {"candidates"'),
    }[client]
    assert last.startswith(ends), last[:200]
    if client == "gemini" and last.startswith(b'data: {"candidates"'):
        assert json.loads(last[6:])["candidates"][0].get("finishReason")


@pytest.mark.parametrize(("client", "backend"), PAIRS)
def test_a_failure_mid_stream_reaches_every_client(client: str, backend: str) -> None:
    stream = (ROOT / "error_during_stream" / f"client_{client}_from_{backend}.sse").read_bytes()
    assert b"Overloaded" in stream[-400:]  # the stream's last event says what went wrong
    with pytest.raises(Exception, match="Overloaded"):
        got(client, stream, stream=True) if client != "responses" else _responses_fails(stream)


def _responses_fails(stream: bytes) -> None:
    with responses_client(stream, "text/event-stream").responses.stream(model="m", input="x") as s:
        last = list(s)[-1]
    if last.type == "response.failed" and last.response.error is not None:
        raise RuntimeError(last.response.error.message)

"""The Responses stream writer, held to the golden corpus and read by the real ``openai``
SDK's stream accumulator (which refuses events out of order), whatever the upstream's
splits and whatever garbage it sends."""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx
import openai
import pytest

from tests.golden.corpus import ROOT
from tests.golden.scenarios import SCENARIOS, Scenario

STREAMING = [s for s in SCENARIOS if not s.http_error]
WHOLE = [s for s in STREAMING if not s.error_mid_stream]
BACKENDS: list[Literal["openai", "anthropic"]] = ["openai", "anthropic"]
SMALL = [s.name for s in STREAMING if s.name != "long_stream"]


def gpt(payload: bytes, content_type: str) -> openai.OpenAI:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=payload, headers={"content-type": content_type})
    )
    return openai.OpenAI(
        api_key="x", base_url="http://t/v1", max_retries=0, http_client=httpx.Client(transport=transport)
    )


def plain(value: Any) -> Any:
    """An SDK object as data, without the fields its stream parser adds (``parsed…``)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump()
    if isinstance(value, dict):  # arguments compared as JSON: upstreams space them differently
        return {
            k: json.loads(v) if k == "arguments" else plain(v)
            for k, v in value.items()
            if not k.startswith("parsed")
        }
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def calls_of(output: list[Any]) -> list[tuple[str, Any]]:
    return [(o.name, json.loads(o.arguments)) for o in output if o.type == "function_call"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scenario", WHOLE, ids=lambda s: s.name)
def test_the_sdk_gets_the_same_response_streamed_or_not(scenario: Scenario, backend: str) -> None:
    folder = ROOT / scenario.name
    stream = gpt((folder / f"client_responses_from_{backend}.sse").read_bytes(), "text/event-stream")
    with stream.responses.stream(model="client-model", input="x") as events:
        seen = list(events)
    kinds = [e.type for e in seen]
    streamed = seen[-1].response  # type: ignore[union-attr]  # completed, or incomplete (cut at its limit)
    whole = gpt((folder / f"client_responses_from_{backend}.json").read_bytes(), "application/json")
    created = whole.responses.create(model="client-model", input="x")
    assert plain(streamed.output) == plain(created.output)
    assert streamed.output_text == created.output_text == "".join(scenario.text)
    assert calls_of(streamed.output) == [(t.name, json.loads("".join(t.pieces))) for t in scenario.tools]
    assert len({o.call_id for o in streamed.output if o.type == "function_call"}) == len(scenario.tools)
    assert streamed.usage is not None and created.usage is not None
    if scenario.stream_usage or backend == "anthropic":
        assert streamed.usage.output_tokens == created.usage.output_tokens
        assert streamed.usage.input_tokens == scenario.usage[0]
    else:  # the upstream never said: turnout estimates the output, chars/4 (no request here: input 0)
        assert streamed.usage.output_tokens == -(-len(streamed.output_text) // 4) > 0
    reasoning = [o for o in streamed.output if o.type == "reasoning"]
    assert ["".join(s.text for s in r.summary) for r in reasoning] == (
        ["".join(scenario.thinking)] if scenario.thinking else []
    )
    assert kinds[:2] == ["response.created", "response.in_progress"]
    cut = scenario.finish == "length"
    assert kinds[-1] == ("response.incomplete" if cut else "response.completed")
    assert streamed.status == created.status == ("incomplete" if cut else "completed")
    if scenario.text:
        assert "response.output_text.delta" in kinds and "response.content_part.added" in kinds


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scenario", [s for s in STREAMING if s.error_mid_stream], ids=lambda s: s.name)
def test_a_failure_mid_stream_is_response_failed(scenario: Scenario, backend: str) -> None:
    stream = gpt(
        (ROOT / scenario.name / f"client_responses_from_{backend}.sse").read_bytes(), "text/event-stream"
    )
    with stream.responses.stream(model="client-model", input="x") as events:
        last = list(events)[-1]
    assert last.type == "response.failed"
    assert last.response.error is not None and last.response.error.message == scenario.error_mid_stream

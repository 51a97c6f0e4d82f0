"""Gemini answers written from both backend dialects, held to the golden corpus and read by
Google's ``google-genai`` SDK, whatever the upstream's splits and whatever garbage it sends."""

from __future__ import annotations

import json
from typing import Any, Literal

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.golden.corpus import ROOT
from tests.golden.scenarios import SCENARIOS, Scenario

STREAMING = [s for s in SCENARIOS if not s.http_error]
WHOLE = [s for s in STREAMING if not s.error_mid_stream]
BACKENDS: list[Literal["openai", "anthropic"]] = ["openai", "anthropic"]
SMALL = [s.name for s in STREAMING if s.name != "long_stream"]


def gemini(payload: bytes, content_type: str, status: int = 200) -> genai.Client:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(status, content=payload, headers={"content-type": content_type})
    )
    options = types.HttpOptions(base_url="http://t", httpx_client=httpx.Client(transport=transport))
    return genai.Client(api_key="x", http_options=options)


def parts_of(responses: list[Any]) -> tuple[str, str, list[tuple[str, Any]]]:
    """(text, thoughts, calls) gathered from the SDK's responses, as a client does."""
    text = thoughts = ""
    calls = []
    for response in responses:
        for part in response.candidates[0].content.parts or []:
            if part.thought:
                thoughts += part.text or ""
            elif part.text:
                text += part.text
            if part.function_call:
                calls.append((part.function_call.name, part.function_call.args))
    return text, thoughts, calls


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scenario", WHOLE, ids=lambda s: s.name)
def test_the_sdk_gets_the_same_answer_streamed_or_not(scenario: Scenario, backend: str) -> None:
    folder = ROOT / scenario.name
    streamed_client = gemini((folder / f"client_gemini_from_{backend}.sse").read_bytes(), "text/event-stream")
    chunks = list(streamed_client.models.generate_content_stream(model="client-model", contents="x"))
    whole_client = gemini((folder / f"client_gemini_from_{backend}.json").read_bytes(), "application/json")
    whole = whole_client.models.generate_content(model="client-model", contents="x")
    assert parts_of(chunks) == parts_of([whole])
    text, thoughts, calls = parts_of(chunks)
    assert text == "".join(scenario.text) and thoughts == "".join(scenario.thinking)
    assert calls == [(t.name, json.loads("".join(t.pieces))) for t in scenario.tools]
    assert chunks[-1].candidates[0].finish_reason == whole.candidates[0].finish_reason
    expected = types.FinishReason.MAX_TOKENS if scenario.finish == "length" else types.FinishReason.STOP
    assert whole.candidates[0].finish_reason == expected
    streamed_usage, whole_usage = chunks[-1].usage_metadata, whole.usage_metadata
    assert streamed_usage is not None and whole_usage is not None
    if scenario.stream_usage or backend == "anthropic":
        assert streamed_usage.prompt_token_count == whole_usage.prompt_token_count == scenario.usage[0]
        assert streamed_usage.candidates_token_count == whole_usage.candidates_token_count


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scenario", [s for s in STREAMING if s.error_mid_stream], ids=lambda s: s.name)
def test_a_failure_mid_stream_raises_in_the_sdk(scenario: Scenario, backend: str) -> None:
    client = gemini(
        (ROOT / scenario.name / f"client_gemini_from_{backend}.sse").read_bytes(), "text/event-stream"
    )
    with pytest.raises(errors.APIError, match="Overloaded"):
        list(client.models.generate_content_stream(model="client-model", contents="x"))


def test_an_error_before_the_stream_is_googles_shape() -> None:
    body = (ROOT / "error_before_stream" / "client_gemini_error.json").read_bytes()
    assert json.loads(body)["error"] == {
        "code": 429,
        "message": "Rate limit reached for requests",
        "status": "RESOURCE_EXHAUSTED",
    }
    with pytest.raises(errors.ClientError) as raised:
        gemini(body, "application/json", 429).models.generate_content(model="m", contents="x")
    assert raised.value.code == 429

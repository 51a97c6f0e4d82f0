from __future__ import annotations

import orjson
from mitmproxy import http

from tests.addons.helpers import flow, routed, runtime
from turnout.addons._flows import Exchanges
from turnout.addons.translator import Translator, prompt_estimate
from turnout.core.dialects.context import Context
from turnout.core.dialects.translate import StreamAdapter


def translated(content_type: str, status: int = 200, body: bytes = b"") -> tuple[http.HTTPFlow, Translator]:
    exchanges = Exchanges()
    f, exchange = routed(runtime(), exchanges, "/v1/messages", {"model": "m"}, backend="oai")
    exchange.translation = Context("anthropic", "openai", "asked")
    f.response = http.Response.make(
        status, body, {"content-type": content_type, "content-length": str(len(body))}
    )
    return f, Translator(exchanges)


def test_streams_get_an_adapter_and_chunked_framing() -> None:
    f, translator = translated("text/event-stream")
    translator.responseheaders(f)
    assert isinstance(f.response.stream, StreamAdapter)
    assert "content-length" not in f.response.headers and f.response.headers["transfer-encoding"] == "chunked"


def test_whole_bodies_and_errors_are_translated_in_response() -> None:
    body = orjson.dumps({"id": "c", "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]})
    f, translator = translated("application/json", body=body)
    translator.responseheaders(f)
    translator.response(f)
    assert orjson.loads(f.response.content)["content"] == [{"type": "text", "text": "hi"}]
    err, translator = translated("application/json", 429, orjson.dumps({"error": {"message": "slow down"}}))
    translator.response(err)
    assert orjson.loads(err.response.content) == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "slow down"},
    }


def test_untranslated_flows_are_untouched() -> None:
    exchanges = Exchanges()
    f, _ = routed(runtime(), exchanges, "/v1/messages", {"model": "m"}, backend="anth")
    f.response = http.Response.make(200, b"raw", {"content-type": "text/event-stream"})
    Translator(exchanges).responseheaders(f)
    Translator(exchanges).response(f)
    assert f.response.stream is False and f.response.content == b"raw"


def test_the_prompt_estimate_reads_the_translated_request() -> None:
    f = flow("/v1/chat/completions", {"messages": [{"role": "user", "content": "abcd" * 25}]})
    assert prompt_estimate(f.request) == 25 + 4
    f.request.content = b"not json"
    assert prompt_estimate(f.request) == 0

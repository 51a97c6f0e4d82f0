from __future__ import annotations

import orjson
from mitmproxy import http

from tests.addons.helpers import flow
from turnout.addons._flows import Meta
from turnout.addons.translator import Translator
from turnout.core.dialects.context import Context
from turnout.core.dialects.translate import StreamAdapter


def translated(content_type: str, status: int = 200, body: bytes = b"") -> http.HTTPFlow:
    f = flow("/v1/messages", {"model": "m"})
    f.metadata[Meta.translation] = Context("anthropic", "openai", "asked").to_metadata()
    f.response = http.Response.make(
        status, body, {"content-type": content_type, "content-length": str(len(body))}
    )
    return f


def test_streams_get_an_adapter_and_chunked_framing() -> None:
    f = translated("text/event-stream")
    Translator().responseheaders(f)
    assert isinstance(f.response.stream, StreamAdapter)
    assert "content-length" not in f.response.headers and f.response.headers["transfer-encoding"] == "chunked"


def test_whole_bodies_and_errors_are_translated_in_response() -> None:
    body = orjson.dumps({"id": "c", "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]})
    f = translated("application/json", body=body)
    Translator().responseheaders(f)
    Translator().response(f)
    assert orjson.loads(f.response.content)["content"] == [{"type": "text", "text": "hi"}]
    err = translated("application/json", 429, orjson.dumps({"error": {"message": "slow down"}}))
    Translator().response(err)
    assert orjson.loads(err.response.content) == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "slow down"},
    }


def test_untranslated_flows_are_untouched() -> None:
    f = flow("/v1/messages", {"model": "m"})
    f.response = http.Response.make(200, b"raw", {"content-type": "text/event-stream"})
    Translator().responseheaders(f)
    Translator().response(f)
    assert f.response.stream is False and f.response.content == b"raw"

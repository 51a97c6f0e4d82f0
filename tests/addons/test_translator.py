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
    f.response.stream = content_type == "text/event-stream"  # as relay.py sets it
    return f, Translator(runtime(), exchanges)


def test_streams_get_an_adapter() -> None:
    f, translator = translated("text/event-stream")
    translator.responseheaders(f)
    assert isinstance(f.response.stream, StreamAdapter)


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
    Translator(runtime(), exchanges).responseheaders(f)
    Translator(runtime(), exchanges).response(f)
    assert f.response.stream is False and f.response.content == b"raw"
    f.response = http.Response.make(
        200, b'{"id": "msg_1", "whatever": []}', {"content-type": "application/json"}
    )
    Translator(runtime(), exchanges).response(f)
    assert f.response.content == b'{"id": "msg_1", "whatever": []}'  # the provider's JSON, as it is


def test_same_dialect_bodies_the_client_cannot_read_are_made_readable() -> None:
    exchanges = Exchanges()
    f, _ = routed(runtime(), exchanges, "/v1/chat/completions", {"model": "m"}, backend="oai")
    html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    f.response = http.Response.make(502, html, {"content-type": "text/html"})
    Translator(runtime(), exchanges).response(f)
    assert f.response.status_code == 502 and f.response.headers["content-type"] == "application/json"
    message = orjson.loads(f.response.content)["error"]["message"]
    assert message == "The backend answered HTTP 502 with an HTML page (502 Bad Gateway)."
    f.response = http.Response.make(200, b'{"id": "chatcmpl-1", "choi', {"content-type": "application/json"})
    Translator(runtime(), exchanges).response(f)
    assert f.response.status_code == 502
    assert orjson.loads(f.response.content)["error"]["message"].startswith(
        "The backend's answer could not be read"
    )


def test_compressed_bodies_are_decoded_within_the_limit() -> None:
    import gzip

    exchanges = Exchanges()
    rt = runtime()
    f, _ = routed(rt, exchanges, "/v1/chat/completions", {"model": "m"}, backend="oai")
    body = b'{"id": "chatcmpl-1", "choices": []}'
    f.response = http.Response.make(200, b"", {"content-encoding": "gzip"})
    f.response.raw_content = gzip.compress(body)  # as received
    Translator(rt, exchanges).response(f)
    assert f.response.raw_content == body and "content-encoding" not in f.response.headers
    bomb = gzip.compress(b"{" + b" " * (rt.config.limits.max_body_bytes + 10) + b"}")
    f.response = http.Response.make(200, b"", {"content-encoding": "gzip"})
    f.response.raw_content = bomb
    Translator(rt, exchanges).response(f)
    assert f.response.status_code == 502 and b"inflates past" in f.response.content


def test_the_prompt_estimate_reads_the_translated_request() -> None:
    f = flow("/v1/chat/completions", {"messages": [{"role": "user", "content": "abcd" * 25}]})
    assert prompt_estimate(f.request) == 25 + 4
    f.request.content = b"not json"
    assert prompt_estimate(f.request) == 0

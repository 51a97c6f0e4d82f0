from __future__ import annotations

from mitmproxy import http

from tests.addons.helpers import flow, routed, runtime
from turnout.addons._flows import Exchanges
from turnout.addons.relay import Relay


def relayed(content_type: str, **headers: str) -> http.HTTPFlow:
    exchanges = Exchanges()
    f, _ = routed(runtime(), exchanges, "/v1/messages", {"model": "m"}, backend="anth")
    f.response = http.Response.make(200, b"", {"content-type": content_type})
    f.response.headers.update({"content-length": "99", **headers})  # as received (make drops some)
    Relay(exchanges).responseheaders(f)
    return f


def test_sse_is_streamed_and_backend_named() -> None:
    f = relayed("text/event-stream; charset=utf-8")
    assert f.response.stream is True and f.response.headers["x-turnout-backend"] == "anth"
    assert f.response.headers["x-turnout-attempts"] == "1"
    # Chunked, not a length: an error event may still have to end it.
    assert "content-length" not in f.response.headers and f.response.headers["transfer-encoding"] == "chunked"


def test_a_compressed_stream_is_decoded_on_the_way() -> None:
    f = relayed("text/event-stream", **{"content-encoding": "gzip"})
    assert "content-encoding" not in f.response.headers
    unknown = relayed("text/event-stream", **{"content-encoding": "compress"})
    assert unknown.response.status_code == 502 and b"unsupported content-encoding" in b"".join(
        unknown.response.stream(b"") if callable(unknown.response.stream) else []
    )


def test_json_is_buffered() -> None:
    f = relayed("application/json")
    assert not f.response.stream and f.response.headers["x-turnout-backend"] == "anth"


def test_flows_without_an_exchange_are_untouched() -> None:
    f = flow("/status", method="GET")
    f.response = http.Response.make(200, b"", {"content-type": "text/event-stream"})
    Relay(Exchanges()).responseheaders(f)
    assert "x-turnout-backend" not in f.response.headers and not f.response.stream

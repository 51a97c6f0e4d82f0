from __future__ import annotations

from mitmproxy import http

from tests.addons.helpers import flow, routed, runtime
from turnout.addons._flows import Exchanges
from turnout.addons.relay import Relay


def relayed(content_type: str) -> http.HTTPFlow:
    exchanges = Exchanges()
    f, _ = routed(runtime(), exchanges, "/v1/messages", {"model": "m"}, backend="anth")
    f.response = http.Response.make(200, b"", {"content-type": content_type})
    Relay(exchanges).responseheaders(f)
    return f


def test_sse_is_streamed_and_backend_named() -> None:
    f = relayed("text/event-stream; charset=utf-8")
    assert f.response.stream is True and f.response.headers["x-turnout-backend"] == "anth"
    assert f.response.headers["x-turnout-attempts"] == "1"


def test_json_is_buffered() -> None:
    f = relayed("application/json")
    assert not f.response.stream and f.response.headers["x-turnout-backend"] == "anth"


def test_flows_without_an_exchange_are_untouched() -> None:
    f = flow("/status", method="GET")
    f.response = http.Response.make(200, b"", {"content-type": "text/event-stream"})
    Relay(Exchanges()).responseheaders(f)
    assert "x-turnout-backend" not in f.response.headers and not f.response.stream

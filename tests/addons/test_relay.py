from __future__ import annotations

from mitmproxy import http

from tests.addons.helpers import flow
from turnout.addons._flows import META
from turnout.addons.relay import Relay


def relayed(content_type: str, backend: str | None = "anth", local: bool = False) -> http.HTTPFlow:
    f = flow("/v1/messages", {"model": "m"})
    if backend:
        f.metadata[META + "backend"] = backend
    if local:
        f.metadata[META + "local"] = "/status"
    f.response = http.Response.make(200, b"", {"content-type": content_type})
    Relay().responseheaders(f)
    return f


def test_sse_is_streamed_and_backend_named() -> None:
    f = relayed("text/event-stream; charset=utf-8")
    assert f.response.stream is True and f.response.headers["x-turnout-backend"] == "anth"


def test_json_is_buffered() -> None:
    f = relayed("application/json")
    assert not f.response.stream and f.response.headers["x-turnout-backend"] == "anth"


def test_unrouted_and_local_responses_untouched() -> None:
    assert "x-turnout-backend" not in relayed("text/event-stream", backend=None).response.headers
    assert "x-turnout-backend" not in relayed("application/json", local=True).response.headers

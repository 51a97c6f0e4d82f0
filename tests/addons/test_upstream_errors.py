from __future__ import annotations

import asyncio

import orjson
from mitmproxy import flow as mflow
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.test import taddons

from tests.addons.helpers import flow, runtime
from turnout.addons._flows import META
from turnout.addons.upstream_errors import (
    UpstreamErrors,
    install_reply_patch,
    json_error_response,
    uninstall_reply_patch,
)


def failed(backend: str, *, timed_out: bool = False, path: str = "/v1/chat/completions"):
    addon = UpstreamErrors(runtime())
    f = flow(path, {"model": "m"})
    f.metadata[META + "backend"] = backend
    if timed_out:
        f.metadata[META + "timed_out"] = True
    f.error = mflow.Error("Connect call failed")
    with taddons.context(addon):
        addon.error(f)
    return f


def split(reply: bytes) -> tuple[bytes, dict]:
    head, _, body = reply.partition(b"\r\n\r\n")
    return head, orjson.loads(body)


def test_unreachable_prepares_a_json_502_in_the_clients_dialect() -> None:
    f = failed("local")
    head, body = split(f.request._turnout_reply)
    assert head.startswith(b"HTTP/1.1 502") and b"x-turnout-backend: local" in head
    assert body["error"]["code"] == "backend_unreachable"
    assert (
        "Cannot reach backend local (http://127.0.0.1:11434/v1): Connect call failed"
        in body["error"]["message"]
    )
    head, body = split(failed("anth", path="/v1/messages").request._turnout_reply)
    assert body["type"] == "error" and body["error"]["type"] == "api_error"


def test_timeout_prepares_a_504() -> None:
    head, body = split(failed("local", timed_out=True).request._turnout_reply)
    assert head.startswith(b"HTTP/1.1 504") and "within 2 s" in body["error"]["message"]


def test_unrouted_or_answered_flows_get_nothing() -> None:
    addon = UpstreamErrors(runtime())
    f = flow("/v1/messages", {"model": "m"})
    f.error = mflow.Error("client disconnected")
    with taddons.context(addon):
        addon.error(f)
    assert not hasattr(f.request, "_turnout_reply")


async def test_deadline_set_on_request_and_cleared_on_response_headers() -> None:
    addon = UpstreamErrors(runtime())
    f = flow("/v1/chat/completions", {"model": "m"})
    f.metadata[META + "backend"] = "local"
    with taddons.context(addon):
        addon.request(f)
        assert f.id in addon._deadlines
        addon.responseheaders(f)
        assert f.id not in addon._deadlines
        addon.request(f)
        addon.done()
        assert addon._deadlines == {}


async def test_the_sweeper_expires_flows_past_their_deadline() -> None:
    addon = UpstreamErrors(runtime())
    addon.SWEEP = 0.01
    f = flow("/v1/chat/completions", {"model": "m"})
    f.metadata[META + "backend"] = "local"
    with taddons.context(addon):
        addon.running()
        addon.request(f)
        addon._deadlines[f.id] = (0.0, f)  # already due
        await asyncio.sleep(0.05)
        addon.done()
    assert f.metadata[META + "timed_out"] is True and f.id not in addon._deadlines


def test_patch_installs_once_and_uninstalls() -> None:
    original_send, original_page = _http1.Http1Server.send, _http1.make_error_response
    install_reply_patch()
    install_reply_patch()
    assert _http1.Http1Server.send.__turnout_original__ is original_send
    assert _http1.make_error_response is json_error_response
    uninstall_reply_patch()
    assert _http1.Http1Server.send is original_send and _http1.make_error_response is original_page


def test_json_error_response_is_readable_by_both_sdks() -> None:
    head, body = split(json_error_response(400, "Bad request line"))
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
    assert body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "Bad request line"},
    }

from __future__ import annotations

import asyncio

import orjson
from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.connection import ConnectionState
from mitmproxy.test import taddons

from tests.addons.helpers import routed, runtime
from turnout.addons._flows import Exchanges
from turnout.addons._mitm import Replies
from turnout.addons.upstream_errors import UpstreamErrors


def failed(
    backend: str, *, timed_out: bool = False, path: str = "/v1/chat/completions"
) -> tuple[http.Response, dict]:
    rt, exchanges, replies = runtime(), Exchanges(), Replies()
    addon = UpstreamErrors(rt, exchanges, replies)
    f, exchange = routed(rt, exchanges, path, {"model": "m"}, backend=backend)
    exchange.timed_out = timed_out
    f.error = mflow.Error("Connect call failed")
    with taddons.context(addon):
        addon.error(f)
    reply = replies.prepared(f)
    assert reply is not None
    return reply, orjson.loads(reply.content or b"")


def test_unreachable_prepares_a_json_502_in_the_clients_dialect() -> None:
    reply, body = failed("local")
    assert reply.status_code == 502 and reply.headers["x-turnout-backend"] == "local"
    assert reply.headers["connection"] == "close"  # HTTP/1: the upstream side is broken
    assert body["error"]["code"] == "backend_unreachable"
    assert (
        "Cannot reach backend local (http://127.0.0.1:11434/v1): Connect call failed"
        in body["error"]["message"]
    )
    reply, body = failed("anth", path="/v1/messages")
    assert body["type"] == "error" and body["error"]["type"] == "api_error"


def test_timeout_prepares_a_504() -> None:
    reply, body = failed("local", timed_out="timed out")
    assert reply.status_code == 504 and "within 2 s" in body["error"]["message"]


def test_unrouted_answered_or_abandoned_flows_get_nothing() -> None:
    rt, exchanges, replies = runtime(), Exchanges(), Replies()
    addon = UpstreamErrors(rt, exchanges, replies)
    f, _ = routed(rt, exchanges)
    f.client_conn.state = ConnectionState.CAN_WRITE
    f.error = mflow.Error("Client disconnected.")
    with taddons.context(addon):
        addon.error(f)
    assert replies.prepared(f) is None


async def test_deadline_set_on_request_and_cleared_on_response_headers() -> None:
    rt, exchanges = runtime(), Exchanges()
    addon = UpstreamErrors(rt, exchanges, Replies())
    f, _ = routed(rt, exchanges, backend="local")
    with taddons.context(addon):
        addon.request(f)
        assert f.id in addon._deadlines
        addon.responseheaders(f)
        assert f.id not in addon._deadlines and f.id in addon._reading
        addon.response(f)
        assert f.id not in addon._reading
        addon.request(f)
        addon.done()
        assert not addon._deadlines


async def test_the_sweeper_expires_flows_past_their_deadline() -> None:
    rt, exchanges = runtime(), Exchanges()
    addon = UpstreamErrors(rt, exchanges, Replies())
    addon.sweeper.seconds = 0.01
    f, exchange = routed(rt, exchanges, backend="local")
    over, _ = routed(rt, exchanges, backend="local")
    f.live, over.live = True, False  # in flight; ended without a hook for it (never expected, but)
    with taddons.context(addon):
        addon.running()
        addon.request(f)
        addon._deadlines[f.id] = (f, 0.0)  # already due
        addon._reading[over.id] = (over, 0.0)
        await asyncio.sleep(0.05)
        addon.done()
    assert exchange.timed_out == "timed out" and f.id not in addon._deadlines
    assert over.id not in addon._reading

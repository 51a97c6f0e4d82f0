from __future__ import annotations

from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.connection import ConnectionState
from mitmproxy.test import taddons

from tests.addons.helpers import routed, runtime
from turnout.addons._flows import Exchanges
from turnout.addons.ratelimits import RateLimits
from turnout.core.ratelimit import headers_from_fields


def test_headers_feed_the_pool_and_a_429_cools_the_key() -> None:
    rt, exchanges = runtime(), Exchanges()
    addon = RateLimits(rt, exchanges)
    f, _ = routed(rt, exchanges)
    f.response = http.Response.make(
        429,
        b"",
        {
            "retry-after": "12",
            "x-ratelimit-limit-requests": "10",
            "x-ratelimit-remaining-requests": "0",
            "X-Other": "1",
        },
    )
    with taddons.context(addon):
        addon.responseheaders(f)
        addon.responseheaders(f)  # observed once per flow
    state = rt.pool.state("oai", "default")
    assert state.status == "cooling" and state.requests == 1 and state.headroom(0) == 0.0


def test_failures_rest_the_key_and_release_the_governor() -> None:
    rt, exchanges = runtime(), Exchanges()
    rt.governors["local"].max_concurrent = 1
    addon = RateLimits(rt, exchanges)
    f, exchange = routed(rt, exchanges, backend="local", model="llama3:8b")
    assert rt.governors["local"].in_flight == 1 and exchange.held is rt.governors["local"]
    f.error = mflow.Error("Connect call failed")
    with taddons.context(addon):
        addon.error(f)
        addon.error(f)  # released once
    assert rt.pool.state("local", "default").status == "cooling"
    assert rt.governors["local"].in_flight == 0 and exchange.held is None


def test_a_client_that_gave_up_leaves_the_key_alone() -> None:
    rt, exchanges = runtime(), Exchanges()
    f, _ = routed(rt, exchanges)
    f.client_conn.state = ConnectionState.CAN_WRITE  # it can no longer send: gone
    f.error = mflow.Error("Client disconnected.")
    RateLimits(rt, exchanges).error(f)
    assert rt.pool.state("oai", "default").status == "ok"


def test_headers_from_fields_keeps_only_rate_limit_fields() -> None:
    headers = http.Headers(**{"Retry-After": "3", "x-ratelimit-reset-tokens": "1s", "content-type": "x"})
    assert headers_from_fields(headers.fields) == {"retry-after": "3", "x-ratelimit-reset-tokens": "1s"}


def test_good_answers_for_a_single_key_are_parsed_only_when_looked_at() -> None:
    rt, exchanges = runtime(), Exchanges()
    addon = RateLimits(rt, exchanges)
    f, _ = routed(rt, exchanges)
    f.response = http.Response.make(
        200, b"", {"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "4"}
    )
    with taddons.context(addon):
        addon.responseheaders(f)
    state = rt.pool.state("oai", "default")
    assert state.pending is not None and state.limits == {} and state.requests == 1
    assert state.headroom(0) == 0.4 and state.pending is None

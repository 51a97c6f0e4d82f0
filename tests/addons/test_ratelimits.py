from __future__ import annotations

from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.test import taddons

from tests.addons.helpers import flow, runtime
from turnout.addons._flows import META, Meta
from turnout.addons.ratelimits import RateLimits
from turnout.core.ratelimit import headers_from_fields


def routed(rt, backend: str = "oai") -> http.HTTPFlow:  # type: ignore[no-untyped-def]
    f = flow("/v1/chat/completions", {"model": "m"})
    f.metadata.update({META + "backend": backend, META + "key": "default"})
    return f


def test_headers_feed_the_pool_and_a_429_cools_the_key() -> None:
    rt = runtime()
    addon = RateLimits(rt)
    f = routed(rt)
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
    rt = runtime()
    rt.governors["local"].max_concurrent = 1
    rt.governors["local"].try_start(0)
    addon = RateLimits(rt)
    f = routed(rt, "local")
    f.metadata[Meta.governed] = "local"
    f.error = mflow.Error("Connect call failed")
    with taddons.context(addon):
        addon.error(f)
    assert rt.pool.state("local", "default").status == "cooling"
    assert rt.governors["local"].in_flight == 0 and Meta.governed not in f.metadata


def test_headers_from_fields_keeps_only_rate_limit_fields() -> None:
    headers = http.Headers(**{"Retry-After": "3", "x-ratelimit-reset-tokens": "1s", "content-type": "x"})
    assert headers_from_fields(headers.fields) == {"retry-after": "3", "x-ratelimit-reset-tokens": "1s"}


def test_good_answers_for_a_single_key_are_parsed_only_when_looked_at() -> None:
    rt = runtime()
    addon = RateLimits(rt)
    f = routed(rt)
    f.response = http.Response.make(
        200, b"", {"x-ratelimit-limit-requests": "10", "x-ratelimit-remaining-requests": "4"}
    )
    with taddons.context(addon):
        addon.responseheaders(f)
    state = rt.pool.state("oai", "default")
    assert state.pending is not None and state.limits == {} and state.requests == 1
    assert state.headroom(0) == 0.4 and state.pending is None

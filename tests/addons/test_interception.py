"""The interception listener's door and host rules, hook by hook (the real listener:
``tests/e2e/test_intercept.py``)."""

from __future__ import annotations

import base64
import dataclasses
import re

import orjson
import pytest
from mitmproxy import http
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow

from tests.addons.helpers import error_json, runtime
from turnout.addons._flows import Exchanges
from turnout.addons._mitm import WireHeaders
from turnout.addons.chain import Chain
from turnout.addons.gate import Gate
from turnout.addons.intake import Intake
from turnout.addons.interception import Interception, proxy_key
from turnout.addons.router import Router
from turnout.core.interception import allow_patterns, intercepted_hosts, provider_hosts
from turnout.core.models import InterceptSettings
from turnout.core.runtime import Runtime

PROXY = ProxyMode.parse("regular@127.0.0.1:3457")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (basic("turnout", "k-1"), b"k-1"),
        (basic("", "k:with:colons"), b"k:with:colons"),
        ("Bearer k-2", b"k-2"),
        ("bearer   k-3 ", b"k-3"),
        ("Basic %%%not-base64", b""),
        ("Basic " + base64.b64encode(b"no-colon").decode(), b""),
        ("Digest whatever", b""),
        ("", b""),
    ],
)
def test_the_key_in_proxy_authorization(header: str, key: bytes) -> None:
    headers = http.Headers(**({"proxy-authorization": header} if header else {}))
    assert proxy_key(headers) == key


def connect(header: str | None = None) -> http.HTTPFlow:
    f = tflow.tflow()
    f.client_conn.proxy_mode = PROXY
    f.request = http.Request.make("CONNECT", "https://api.openai.com:443/")
    f.request.host, f.request.port = "api.openai.com", 443
    if header is not None:
        f.request.headers["proxy-authorization"] = header
    return f


def test_connect_without_the_key_gets_407_and_no_tunnel() -> None:
    door = Interception()
    with taddons.context(door, Gate(runtime(), Exchanges())) as tctx:
        tctx.configure(door, turnout_api_key="k-1")
        for header in (None, basic("turnout", "wrong"), "Bearer wrong"):
            f = connect(header)
            door.http_connect(f)
            assert f.response is not None and f.response.status_code == 407
            assert f.response.headers["proxy-authenticate"] == 'Basic realm="turnout"'
            assert "k-1" not in f.response.text and not door.authorized(f)
        ok = connect(basic("turnout", "k-1"))
        door.http_connect(ok)
        assert ok.response is None and "proxy-authorization" not in ok.request.headers
        assert door.authorized(ok)  # the tunnel's requests come on this client connection
        door.client_disconnected(ok.client_conn)
        assert not door.authorized(ok)


def test_connect_fails_closed_when_the_check_breaks(monkeypatch: pytest.MonkeyPatch) -> None:
    door = Interception()
    with taddons.context(door, Gate(runtime(), Exchanges())) as tctx:
        tctx.configure(door, turnout_api_key="k-1")
        monkeypatch.setattr("turnout.addons.interception.proxy_key", lambda headers: 1 / 0)
        f = connect(basic("turnout", "k-1"))
        door.http_connect(f)
        assert f.response is not None and f.response.status_code == 502


def intercepted_request(host: str, **headers: str) -> http.HTTPFlow:
    f = tflow.tflow()
    f.client_conn.proxy_mode = PROXY
    f.request = http.Request.make("POST", f"https://{host}/v1/chat/completions", b"{}", headers)
    return f


def test_the_gate_takes_provider_hosts_only_and_asks_for_the_proxys_key() -> None:
    rt, exchanges = runtime(), Exchanges()
    door = Interception()
    g = Gate(rt, exchanges, door)
    chain = Chain([Intake(exchanges), door, g], exchanges)
    with taddons.context(door, g) as tctx:
        tctx.configure(g, turnout_api_key="", mode=["reverse:http://127.0.0.1:9@127.0.0.1:3456"])
        f = intercepted_request("api.openai.com", authorization="Bearer sk-client")
        chain.requestheaders(f)  # type: ignore[attr-defined]
        assert f.response is None and "authorization" not in f.request.headers  # a provider: handled
        other = intercepted_request("example.com")
        chain.requestheaders(other)  # type: ignore[attr-defined]
        assert other.response is not None and other.response.status_code == 403
        assert "provider hosts only" in error_json(other)["error"]["message"]
        tctx.configure(g, turnout_api_key="k-1")
        tctx.configure(door, turnout_api_key="k-1")
        missing = intercepted_request("api.openai.com")
        chain.requestheaders(missing)  # type: ignore[attr-defined]
        assert missing.response is not None and missing.response.status_code == 401
        carried = intercepted_request("api.openai.com", **{"proxy-authorization": "Bearer k-1"})
        chain.requestheaders(carried)  # type: ignore[attr-defined]
        assert carried.response is None and "proxy-authorization" not in carried.request.headers


def test_hosts_decrypted_and_the_patterns_for_mitmproxy() -> None:
    rt = runtime()
    hosts = intercepted_hosts(rt.config)
    assert (
        {"api.openai.com", "api.anthropic.com", "generativelanguage.googleapis.com"}
        <= provider_hosts()
        <= hosts
    )
    patterns = allow_patterns(["api.openai.com"], [("127.0.0.1", 9)])
    assert any(re.search(p, "api.openai.com:443") for p in patterns)
    assert not any(re.search(p, "api.openai.com.evil.example:443") for p in patterns)
    assert not any(re.search(p, "xapi.openai.com:443") for p in patterns)
    assert any(re.search(p, "127.0.0.1:9") for p in patterns) and not any(
        re.search(p, "127.0.0.1:99") for p in patterns
    )


def passing_chain(passthrough: bool) -> tuple[Chain, Exchanges, WireHeaders, Runtime]:
    rt, exchanges, wire = runtime(), Exchanges(), WireHeaders()
    rt.install(dataclasses.replace(rt.config, intercept=InterceptSettings(passthrough_unrouted=passthrough)))
    door = Interception()
    members = [Intake(exchanges), door, Gate(rt, exchanges, door), Router(rt, exchanges, wire)]
    return Chain(members, exchanges), exchanges, wire, rt


@pytest.mark.parametrize("passthrough", [False, True])
def test_an_unrouted_request_keeps_the_clients_key_only_to_pass_it_through(passthrough: bool) -> None:
    """With mitmweb (a wire), the key the client sent is on the wire only: the flow shows it
    masked. Without passthrough_unrouted it is dropped, and the answer is turnout's 404."""
    chain, exchanges, wire, _ = passing_chain(passthrough)
    with taddons.context(chain) as tctx:
        tctx.configure(chain, turnout_api_key="", mode=["reverse:http://127.0.0.1:9@127.0.0.1:3456"])
        body = orjson.dumps({"model": "nobody-routes-this", "messages": []})
        f = intercepted_request("api.openai.com", authorization="Bearer sk-client-own-9999")
        f.request.content = body
        chain.requestheaders(f)  # type: ignore[attr-defined]
        chain.request(f)  # type: ignore[attr-defined]
        exchange = exchanges.get(f)
        assert exchange is not None and exchange.own == ()  # kept no longer than the decision
        if not passthrough:
            assert f.response is not None and f.response.status_code == 404
            assert "authorization" not in f.request.headers and wire.held(f) == ()
            return
        assert f.response is None and exchange.passed
        assert f.request.host == "api.openai.com" and f.request.content == body  # untouched
        assert f.request.headers["authorization"] == "Bearer sk-…9999"  # what mitmweb shows
        assert wire.held(f) == ((b"authorization", b"Bearer sk-client-own-9999"),)
        assert "sk-client-own-9999" not in str(exchange.summary()) + f.comment
        assert (
            f.comment
            == "intercepted api.openai.com → passed through unrouted, with the client's own credentials"
        )
        routed = intercepted_request("api.openai.com", authorization="Bearer sk-client-own-9999")
        routed.request.content = orjson.dumps({"model": "gpt-4o", "messages": []})
        chain.requestheaders(routed)  # type: ignore[attr-defined]
        chain.request(routed)  # type: ignore[attr-defined]
        assert routed.response is None and "sk-client-own" not in str(wire.held(routed))
        assert exchanges.get(routed).own == () and not exchanges.get(routed).passed  # type: ignore[union-attr]


def test_a_refused_request_keeps_no_credentials() -> None:
    chain, exchanges, _, _ = passing_chain(True)
    with taddons.context(chain) as tctx:
        tctx.configure(chain, turnout_api_key="", mode=["reverse:http://127.0.0.1:9@127.0.0.1:3456"])
        f = intercepted_request(
            "api.openai.com", authorization="Bearer sk-client-own-9999", origin="https://evil.example"
        )
        chain.requestheaders(f)  # type: ignore[attr-defined]
        assert f.response is not None and f.response.status_code == 403
        assert exchanges.get(f).own == ()  # type: ignore[union-attr]
        plain = tflow.tflow()  # not through the listener: never kept, never passed
        plain.client_conn.proxy_mode = ProxyMode.parse("reverse:http://127.0.0.1:9@127.0.0.1:3456")
        plain.request = http.Request.make(
            "POST", "http://127.0.0.1:3456/v1/chat/completions",
            orjson.dumps({"model": "nobody-routes-this"}), {"authorization": "Bearer sk-client-own-9999"},
        )  # fmt: skip
        chain.requestheaders(plain)  # type: ignore[attr-defined]
        chain.request(plain)  # type: ignore[attr-defined]
        assert plain.response is not None and plain.response.status_code == 404

from __future__ import annotations

import pytest
from mitmproxy import http
from mitmproxy.test import taddons

from tests.addons.helpers import error_json, flow, runtime
from turnout.addons._flows import Exchanges
from turnout.addons.chain import Chain
from turnout.addons.gate import Gate, listen_hosts, presented_key
from turnout.addons.intake import Intake
from turnout.core.models import AccessSettings, Config


def gate(api_key: str = "", access: AccessSettings | None = None) -> tuple[Chain, Gate, object]:
    rt = runtime()
    if access is not None:
        cfg = rt.config
        rt.install(Config(cfg.backends, cfg.routes, cfg.aliases, access=access))
    exchanges = Exchanges()
    g = Gate(rt, exchanges)
    # As the chain runs it: the exchange begun first, a refusal answered in the client's dialect.
    chain = Chain([Intake(exchanges), g], exchanges)
    return chain, g, rt


def run(api_key: str, f: http.HTTPFlow, access: AccessSettings | None = None) -> http.HTTPFlow:
    chain, g, _ = gate(api_key, access)
    with taddons.context(g) as tctx:
        tctx.configure(g, turnout_api_key=api_key, mode=["reverse:http://127.0.0.1:9@127.0.0.1:3456"])
        chain.requestheaders(f)  # type: ignore[attr-defined]
    return f


def test_without_key_everything_passes_and_client_credentials_are_stripped() -> None:
    headers = {
        "host": "127.0.0.1:3456",
        "x-api-key": "placeholder",
        "authorization": "Bearer p",
        "api-key": "p",
        "x-goog-api-key": "AIza-client",
        "cookie": "session=1",
        "proxy-authorization": "Basic x",
        "openai-organization": "o",
        "content-type": "application/json",
    }
    f = run("", flow("/v1/messages", headers=headers))
    assert f.response is None
    assert sorted(f.request.headers.keys()) == ["content-length", "content-type", "host"]


def test_key_required_except_health() -> None:
    denied = run("local-key", flow("/v1/messages", headers={"x-api-key": "wrong"}))
    assert denied.response is not None and denied.response.status_code == 401
    assert error_json(denied)["error"]["type"] == "authentication_error"
    ok = run("local-key", flow("/v1/chat/completions", headers={"authorization": "Bearer local-key"}))
    assert ok.response is None and "authorization" not in ok.request.headers
    health = run("local-key", flow("/health", method="GET"))
    assert health.response is None


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:3456", True),
        ("localhost:3456", True),
        ("[::1]:3456", True),
        ("127.0.0.2", True),
        ("", True),  # no Host at all: not a browser
        ("evil.example.com:3456", False),  # DNS rebinding
        ("192.168.1.5:3456", False),
    ],
)
def test_only_loopback_host_names_without_a_key(host: str, allowed: bool) -> None:
    f = run("", flow("/accounts", method="GET", headers={"host": host} if host else {}))
    assert (f.response is None) == allowed
    if not allowed:
        assert (
            f.response is not None and f.response.status_code == 403 and "access.hosts" in str(error_json(f))
        )


def test_configured_hosts_and_any_host_with_a_key() -> None:
    f = run(
        "",
        flow("/status", method="GET", headers={"host": "box.lan:3456"}),
        AccessSettings(hosts=("box.lan",)),
    )
    assert f.response is None
    f = run("k", flow("/status", method="GET", headers={"host": "evil.example", "x-api-key": "k"}))
    assert f.response is None  # the key guards it: a rebinding page does not have it


def test_web_pages_are_refused_unless_their_origin_is_listed() -> None:
    page = {"host": "127.0.0.1:3456", "origin": "https://evil.example", "content-type": "text/plain"}
    f = run("", flow("/v1/messages", headers=page))
    assert f.response is not None and f.response.status_code == 403
    assert (
        error_json(f)["error"]["type"] == "permission_error"
        and "access.origins" in error_json(f)["error"]["message"]
    )
    allowed = {**page, "origin": "http://localhost:5173", "content-type": "application/json"}
    assert (
        run(
            "", flow("/v1/messages", headers=allowed), AccessSettings(origins=("http://localhost:5173",))
        ).response
        is None
    )


@pytest.mark.parametrize(
    ("content_type", "status"),
    [("text/plain", 415), ("application/x-www-form-urlencoded", 415), ("multipart/form-data; b=1", 415),
     ("application/json; charset=utf-8", None), ("application/vnd.api+json", None), (None, None)],
)  # fmt: skip
def test_api_routes_take_json_only(content_type: str | None, status: int | None) -> None:
    headers = {"host": "127.0.0.1"} | ({"content-type": content_type} if content_type else {})
    f = run("", flow("/v1/chat/completions", headers=headers))
    assert (f.response.status_code if f.response else None) == status


def test_a_request_that_looped_back_is_refused() -> None:
    chain, g, rt = gate()
    f = flow("/v1/messages", headers={"host": "127.0.0.1", "via": f"1.1 other, 1.1 {rt.instance}"})  # type: ignore[attr-defined]
    with taddons.context(g) as tctx:
        tctx.configure(g, turnout_api_key="")
        chain.requestheaders(f)  # type: ignore[attr-defined]
    assert f.response is not None and f.response.status_code == 508 and "base_url" in str(error_json(f))


def test_presented_key_and_listen_hosts() -> None:
    assert presented_key(http.Headers(x_api_key="a")) == "a"
    assert presented_key(http.Headers(authorization="Bearer  b ")) == "b"
    assert presented_key(http.Headers(authorization="Basic c")) is None
    modes = ["reverse:http://x@0.0.0.0:3456", "regular@[::1]:8080", "regular", "nonsense:x"]
    assert listen_hosts(modes) == {"0.0.0.0", "::1", ""}  # "": every interface
    assert listen_hosts(modes, "10.0.0.2") == {"0.0.0.0", "::1", "10.0.0.2"}

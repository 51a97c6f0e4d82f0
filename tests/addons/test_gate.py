from __future__ import annotations

from mitmproxy import http
from mitmproxy.test import taddons

from tests.addons.helpers import error_json, flow
from turnout.addons._flows import Exchanges
from turnout.addons.chain import Chain
from turnout.addons.gate import Gate, presented_key


class _Gated:
    """The gate as the chain runs it: a refusal becomes an answer in the client's dialect."""

    def __init__(self, gate: Gate) -> None:
        exchanges = Exchanges()
        self.chain = Chain([gate], exchanges)

    def requestheaders(self, f: http.HTTPFlow) -> None:
        self.chain.requestheaders(f)  # type: ignore[attr-defined]


def test_without_key_everything_passes_and_client_credentials_are_stripped() -> None:
    gate = Gate()
    with taddons.context(gate) as tctx:
        tctx.configure(gate, turnout_api_key="")
        f = flow(
            "/v1/messages",
            headers={
                "x-api-key": "placeholder",
                "authorization": "Bearer p",
                "api-key": "p",
                "openai-organization": "o",
                "content-type": "x",
            },
        )
        _Gated(gate).requestheaders(f)
        assert f.response is None
        assert sorted(f.request.headers.keys()) == ["content-length", "content-type"]


def test_key_required_except_health() -> None:
    gate = Gate()
    with taddons.context(gate) as tctx:
        tctx.configure(gate, turnout_api_key="local-key")
        denied = flow("/v1/messages", headers={"x-api-key": "wrong"})
        _Gated(gate).requestheaders(denied)
        assert denied.response is not None and denied.response.status_code == 401
        assert error_json(denied)["error"]["type"] == "authentication_error"
        ok = flow("/v1/chat/completions", headers={"authorization": "Bearer local-key"})
        _Gated(gate).requestheaders(ok)
        assert ok.response is None and "authorization" not in ok.request.headers
        health = flow("/health", method="GET")
        _Gated(gate).requestheaders(health)
        assert health.response is None


def test_already_answered_flows_are_left_alone() -> None:
    gate = Gate()
    with taddons.context(gate) as tctx:
        tctx.configure(gate, turnout_api_key="k")
        f = flow("/v1/messages", headers={"x-api-key": "kept"})
        f.response = http.Response.make(200)
        _Gated(gate).requestheaders(f)
        assert f.request.headers["x-api-key"] == "kept"


def test_presented_key_forms() -> None:
    from mitmproxy.http import Headers

    assert presented_key(Headers(x_api_key="a")) == "a"
    assert presented_key(Headers(authorization="Bearer  b ")) == "b"
    assert presented_key(Headers(authorization="Basic c")) is None
    assert presented_key(Headers(authorization="Bearer ")) is None

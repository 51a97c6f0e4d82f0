from __future__ import annotations

from mitmproxy.test import taddons

from tests.addons.helpers import ANTH, OAI, error_json, flow, runtime
from turnout.addons._flows import META
from turnout.addons.credentials import Credentials


def apply(backend: str | None, headers: dict[str, str]):
    addon = Credentials(runtime())
    f = flow("/v1/messages", {"model": "m"}, headers=headers)
    if backend:
        f.metadata[META + "backend"] = backend
    with taddons.context(addon):
        addon.request(f)
    return f


def test_anthropic_gets_x_api_key_and_version_and_keeps_beta() -> None:
    f = apply("anth", {"anthropic-beta": "b1"})
    assert f.request.headers["x-api-key"] == ANTH.key
    assert f.request.headers["anthropic-version"] == "2023-06-01"
    assert f.request.headers["anthropic-beta"] == "b1"
    assert (
        apply("anth", {"anthropic-version": "2026-10-21"}).request.headers["anthropic-version"]
        == "2026-10-21"
    )


def test_openai_gets_bearer_and_loses_anthropic_headers() -> None:
    f = apply("oai", {"anthropic-beta": "b1", "anthropic-version": "2023-06-01"})
    assert f.request.headers["authorization"] == f"Bearer {OAI.key}"
    assert "anthropic-beta" not in f.request.headers and "anthropic-version" not in f.request.headers
    assert f.request.headers["x-extra"] == "1"


def test_keyless_backend_sends_no_auth() -> None:
    f = apply("local", {})
    assert "authorization" not in f.request.headers and "x-api-key" not in f.request.headers


def test_no_decision_fails_closed() -> None:
    f = apply(None, {"anthropic-version": "2023-06-01"})
    assert f.response is not None and f.response.status_code == 500
    assert "Credentials addon's request hook (RuntimeError)" in error_json(f)["error"]["message"]

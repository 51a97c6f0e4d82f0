"""Local access control (TURNOUT_API_KEY), bind safety, and keys that never leak."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import ANTHROPIC_KEY, COMPAT_KEY, OPENAI_KEY, Rig, start_rig
from tests.fakes.upstream import FakeUpstream

LOCAL_KEY = "turnout-local-key-5555"
SECRETS = (ANTHROPIC_KEY, OPENAI_KEY, COMPAT_KEY)


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """A proxy with TURNOUT_API_KEY set."""
    tmp = tmp_path_factory.mktemp("locked")
    with FakeUpstream() as up:
        proxy = start_rig(tmp, up, api_key=LOCAL_KEY)
        try:
            yield Rig(proxy, up, tmp / "config.yaml")
        finally:
            proxy.stop()


def test_health_is_open(locked: Rig) -> None:
    assert httpx.get(locked.url + "/health").status_code == 200


@pytest.mark.parametrize("path", ["/status", "/v1/models"])
def test_other_routes_need_the_key(locked: Rig, path: str) -> None:
    assert httpx.get(locked.url + path).status_code == 401
    assert httpx.get(locked.url + path, headers={"x-api-key": "wrong"}).status_code == 401
    assert httpx.get(locked.url + path, headers={"authorization": f"Bearer {LOCAL_KEY}"}).status_code == 200


def test_sdks_authenticate_with_the_local_key_which_is_not_forwarded(locked: Rig) -> None:
    claude = anthropic.Anthropic(base_url=locked.url, api_key=LOCAL_KEY, max_retries=0)
    claude.messages.create(model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert locked.upstream.last().headers["x-api-key"] == ANTHROPIC_KEY
    gpt = openai.OpenAI(base_url=locked.url + "/v1", api_key=LOCAL_KEY, max_retries=0)
    gpt.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert locked.upstream.last().headers["authorization"] == f"Bearer {OPENAI_KEY}"
    with pytest.raises(anthropic.AuthenticationError) as e:
        anthropic.Anthropic(base_url=locked.url, api_key="nope", max_retries=0).messages.create(
            model="claude-x", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert "TURNOUT_API_KEY" in e.value.message


def test_client_placeholder_key_is_never_forwarded(rig: Rig) -> None:
    httpx.post(
        rig.url + "/v1/chat/completions",
        json={"model": "gpt-4o", "messages": []},
        headers={
            "authorization": "Bearer client-placeholder",
            "x-api-key": "client-placeholder",
            "openai-organization": "org-client",
        },
    )
    sent = rig.upstream.last()
    assert "client-placeholder" not in str(sent.headers)
    assert "openai-organization" not in sent.headers


def test_keys_never_appear_in_logs_errors_or_metadata(
    rig: Rig, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("turnout.requests").setLevel(logging.DEBUG)
    flows: list[object] = []
    recorder = _FlowRecorder(flows)
    addons = rig.proxy._master.addons  # type: ignore[union-attr]
    addons.add(recorder)
    try:
        bodies = []
        for model, path in (
            ("claude-x", "/v1/messages"),
            ("gpt-4o", "/v1/chat/completions"),
            ("dead-model", "/v1/chat/completions"),
            ("groq-error-400", "/v1/chat/completions"),
            ("claude-slow-slow", "/v1/messages"),
            ("nope", "/v1/messages"),
        ):
            r = httpx.post(rig.url + path, json={"model": model, "max_tokens": 5, "messages": []})
            bodies.append(r.text + str(r.headers))
        bodies.append(httpx.get(rig.url + "/status").text)
        bodies.append(httpx.get(rig.url + "/v1/models").text)
    finally:
        addons.remove(recorder)
    out, err = capfd.readouterr()
    seen = "\n".join(
        [caplog.text, out, err, *bodies, *(repr(f.get_state()["metadata"]) + str(f.comment) for f in flows)]
    )
    assert len(flows) == 8
    for secret in SECRETS:
        assert secret not in seen
        assert secret[-20:] not in seen


class _FlowRecorder:
    def __init__(self, flows: list[object]) -> None:
        self.flows = flows

    def response(self, flow: object) -> None:
        self.flows.append(flow)

    def error(self, flow: object) -> None:
        self.flows.append(flow)


def test_non_loopback_bind_without_key_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "turnout", "proxy", "--host", "0.0.0.0", "--port", "0", "--no-discover"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path),
    )
    assert result.returncode == 1
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert "TURNOUT_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_library_refuses_non_loopback_bind_too() -> None:
    from turnout import ConfigError, start_proxy

    with pytest.raises(ConfigError, match="TURNOUT_API_KEY"):
        start_proxy(host="0.0.0.0", port=0, discover=False)


def _env(tmp_path: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "TURNOUT_API_KEY"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    return env

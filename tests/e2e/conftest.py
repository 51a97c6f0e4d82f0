"""A real turnout proxy on a real port, in front of fake upstreams that speak the wire format.

Module-scoped: mitmproxy allows one master per process at a time, and addon unit tests
build their own, so each e2e module starts and stops its own proxy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.upstream import FakeUpstream
from turnout.server import ProxyHandle, ServerSettings, start_proxy_thread

ANTHROPIC_KEY = "sk-ant-api03-REALSECRETanthropic0000000000000000"
OPENAI_KEY = "sk-proj-REALSECREToai111111111111111111111"
COMPAT_KEY = "gsk_REALSECRETcompat2222222222222222"


@dataclass
class Rig:
    proxy: ProxyHandle
    upstream: FakeUpstream
    config: Path

    @property
    def url(self) -> str:
        return self.proxy.url


def write_config(path: Path, upstream_url: str, extra: str = "") -> Path:
    path.write_text(f"""
backends:
  anth:
    kind: anthropic
    base_url: {upstream_url}
    key: {ANTHROPIC_KEY}
  oai:
    kind: openai
    base_url: {upstream_url}/v1
    key: {OPENAI_KEY}
  compat:
    kind: openai-compat
    base_url: {upstream_url}/v1
    key: {COMPAT_KEY}
    models: [local-model-a, groq-error-500, groq-error-400]
    headers: {{X-Title: turnout-tests}}
  limited:
    kind: openai-compat
    base_url: {upstream_url}/v1
    models: [groq-error-429]
    keys:
      - {{alias: first, key: {COMPAT_KEY}-1}}
      - {{alias: second, key: {COMPAT_KEY}-2}}
  dead:
    kind: openai-compat
    base_url: http://127.0.0.1:1/v1
    models: [dead-model]
  slowb:
    kind: anthropic
    base_url: {upstream_url}
    key: {ANTHROPIC_KEY}
    timeout: 0.5
routes:
  - match: "claude-slow*"
    backend: slowb
  - regex: "^house-(.+)$"
    backend: oai
    model: gpt-4o-mini
aliases:
  fast: compat:local-model-a
limits:
  max_body_mb: 1
pool:
  error_cooldown: 0
analytics:
  path: {path.parent / "analytics.sqlite3"}
autodetect: {{environment: false, local: false}}
{extra}""")
    return path


def start_rig(
    tmp: Path, upstream: FakeUpstream, *, api_key: str | None = None, extra: str = ""
) -> ProxyHandle:
    config = write_config(tmp / "config.yaml", upstream.url, extra)
    settings = ServerSettings(
        port=0, config=str(config), confdir=str(tmp / "certs"), discover=False, api_key=api_key or ""
    )
    return start_proxy_thread(settings)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    tmp = tmp_path_factory.mktemp("rig")
    with pytest.MonkeyPatch.context() as mp, FakeUpstream() as up:
        mp.setenv("XDG_CONFIG_HOME", str(tmp / "xdg"))
        proxy = start_rig(tmp, up)
        try:
            yield Rig(proxy, up, tmp / "config.yaml")
        finally:
            proxy.stop()


@contextmanager
def proxy_on(config: str, tmp: Path) -> Iterator[ProxyHandle]:
    """A real proxy on ``config`` (YAML, written to ``tmp``), stopped when the block ends."""
    path = tmp / "config.yaml"
    path.write_text(config)
    proxy = start_proxy_thread(
        ServerSettings(port=0, config=str(path), confdir=str(tmp / "certs"), discover=False, api_key="")
    )
    try:
        yield proxy
    finally:
        proxy.stop()

"""The library surface: start_proxy, list_backends, get_status."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import httpx
import pytest

import turnout
from tests.e2e.conftest import OPENAI_KEY, write_config
from tests.fakes.upstream import FakeUpstream
from turnout.server import ServerSettings, start_proxy_thread


def test_start_proxy_get_status_and_list_backends(tmp_path: Path, upstream: FakeUpstream) -> None:
    config = write_config(tmp_path / "config.yaml", upstream.url)
    backends = {b.name: b for b in turnout.list_backends(config, discover=False)}
    assert set(backends) >= {"anth", "oai", "compat"} and backends["oai"].key == OPENAI_KEY
    assert turnout.mask(backends["oai"].key) == "sk-…1111" and OPENAI_KEY not in repr(backends["oai"])
    with turnout.start_proxy(port=0, config=config, discover=False, api_key="") as proxy:
        assert proxy.url.startswith("http://127.0.0.1:") and proxy.port > 0
        # once started, the start-up addon has frozen the heap and left: turnout is one addon
        addons = [type(a).__name__ for a in proxy._master.addons.chain]  # type: ignore[union-attr]
        assert addons[-1] == "Chain" and "_OnStart" not in addons and gc.get_freeze_count() > 0
        r = httpx.post(proxy.url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": []})
        assert r.status_code == 200
        status = turnout.get_status(proxy.url)
        assert status["requests"] == 1 and {b["name"] for b in status["backends"]} >= {"anth", "oai"}
    with pytest.raises(httpx.HTTPError):
        turnout.get_status(proxy.url, timeout=1)  # stopped


def test_public_api_is_sorted_and_complete() -> None:
    assert turnout.__all__ == sorted(turnout.__all__)
    for name in turnout.__all__:
        assert hasattr(turnout, name), name
    assert {"start_proxy", "list_backends", "get_status"} <= set(turnout.__all__)


def test_start_proxy_raises_turnouts_own_errors(tmp_path: Path) -> None:
    """Never mitmproxy's OptionsError, a SystemExit or a traceback from a thread."""
    missing = tmp_path / "missing.yaml"
    with pytest.raises(turnout.ConfigError, match="no such config file"):
        turnout.start_proxy(port=0, config=missing, discover=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text("backends: {x: {kind: bogus}}")
    with pytest.raises(turnout.ConfigError, match=r"backends\.x\.kind: must be one of"):
        turnout.start_proxy(port=0, config=bad, discover=False)
    with pytest.raises(turnout.ConfigError, match="not a port number"):
        turnout.start_proxy(port=99999, discover=False)
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(turnout.ConfigError, match=f"port {port} on 127.0.0.1 is in use"):
            turnout.start_proxy(port=port, discover=False)


def test_two_proxies_in_one_process_each_keep_their_own_options(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    """mitmproxy's ``ctx`` names the master made last: an addon that read its options there
    would, in the first of two proxies, check the second's key and reload the second's
    config (its live reload runs in the background). Each keeps its own."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    config = write_config(first / "config.yaml", upstream.url)
    empty = second / "config.yaml"
    empty.write_text("backends: {}\nautodetect: {environment: false, local: false}\n")
    fast = {"turnout_reload_interval": 0.05}
    with (
        start_proxy_thread(ServerSettings(port=0, config=str(config), discover=False, api_key="first-key",
                                          confdir=str(first / "certs"), extra=fast)) as one,
        start_proxy_thread(ServerSettings(port=0, config=str(empty), discover=False, api_key="",
                                          confdir=str(second / "certs"), extra=fast)) as two,
    ):  # fmt: skip
        body = {"model": "gpt-4o", "messages": []}
        assert httpx.post(two.url + "/v1/chat/completions", json=body).status_code == 404  # no backends
        empty.write_text(empty.read_text() + "# touched\n")  # the second's file changes: it reloads
        for _ in range(10):  # a few reload ticks of both
            r = httpx.post(one.url + "/v1/chat/completions", json=body, headers={"x-api-key": "first-key"})
            assert r.status_code == 200, r.text
            assert httpx.post(one.url + "/v1/chat/completions", json=body).status_code == 401
            time.sleep(0.05)
        assert turnout.get_status(one.url, api_key="first-key")["requests"] >= 10

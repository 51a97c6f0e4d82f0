"""``turnout top``: the last ten seconds beside the last ten minutes, every 4xx and 5xx an
error, waiting (not failing) while the proxy restarts, and its polling kept out of the
proxy's --verbose log."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from rich.console import Console, Group
from rich.text import Text

from tests.cli.proxy_process import cli_env, proxy_process, run_cli
from tests.e2e.conftest import write_config
from tests.fakes.upstream import FakeUpstream
from turnout.cli._proxy import ProxyClient
from turnout.cli.stats import top_frame
from turnout.core.errors import ConfigError
from turnout.server import ProxyHandle, ServerSettings, start_proxy_thread


def _text(frame: Group | Text) -> str:
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(frame)
    return console.export_text()


def _restart(settings: ServerSettings) -> ProxyHandle:
    """On the same port, once the old listener's socket is gone."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return start_proxy_thread(settings)
        except ConfigError:
            assert time.monotonic() < deadline, "the port stayed in use"
            time.sleep(0.2)


def test_top_shows_the_last_seconds_and_waits_through_a_restart(tmp_path: Path) -> None:
    with FakeUpstream() as up:
        config = write_config(tmp_path / "config.yaml", up.url)
        settings = ServerSettings(
            port=0, config=str(config), confdir=str(tmp_path / "c"), discover=False, api_key=""
        )
        proxy = start_proxy_thread(settings)
        url, port = proxy.url, proxy.port
        for model in ("fast", "fast", "no-such-model"):  # two answers and a 404
            httpx.post(url + "/v1/chat/completions", json={"model": model, "messages": []}, timeout=10)
        client = ProxyClient(url)
        shown = _text(top_frame(client))
        assert "last 10 s" in shown and "last 10 min" in shown
        assert "33.3%" in shown  # the 404 counts as an error
        proxy.stop()
        assert "waiting for turnout at" in _text(top_frame(client))  # down: a line, not an exit
        again = _restart(
            ServerSettings(
                port=port, config=str(config), confdir=str(tmp_path / "c"), discover=False, api_key=""
            )
        )
        try:
            assert "last 10 s" in _text(top_frame(client))  # back, on the same client
        finally:
            again.stop()
            client.close()


def test_tops_polling_stays_out_of_the_verbose_log(tmp_path: Path) -> None:
    with FakeUpstream() as up:
        config = write_config(tmp_path / "config.yaml", up.url)
        env = cli_env(tmp_path)
        with proxy_process("-c", str(config), "-v", env=env) as proxy:
            httpx.post(proxy.url + "/v1/chat/completions", json={"model": "fast", "messages": []}, timeout=10)
            for _ in range(3):
                assert run_cli("top", "--once", "--url", proxy.url, env=env).returncode == 0
            _, err = proxy.stop()
    assert "/chat/completions" in err or "fast →" in err  # the request's own line is there
    assert "/analytics" not in err and "/accounts" not in err

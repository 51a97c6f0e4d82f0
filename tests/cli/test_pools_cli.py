"""`turnout keys`, `turnout stats` and `turnout top`, and live reconfiguration of a running proxy."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.fakes.upstream import FakeUpstream
from turnout.cli.main import app
from turnout.cli.stats import dashboard
from turnout.server import ServerSettings, start_proxy_thread

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "220", "NO_COLOR": "1"})
    return result.exit_code, result.stdout, result.stderr


def config_for(path: Path, up: FakeUpstream) -> Path:
    path.write_text(f"""
backends:
  up: {{kind: openai-compat, base_url: "{up.url}/v1", key: key-default-1111, models: [m]}}
analytics: {{path: {path.parent / "analytics.sqlite3"}}}
autodetect: {{environment: false, local: false}}
""")
    return path


def test_keys_take_effect_live_and_stats_and_top_report(tmp_path: Path, upstream: FakeUpstream) -> None:
    config = config_for(tmp_path / "config.yaml", upstream)
    proxy = start_proxy_thread(
        ServerSettings(
            port=0,
            config=str(config),
            confdir=str(tmp_path / "certs"),
            discover=False,
            api_key="",
            extra={"turnout_reload_interval": 0.2},
        )
    )
    try:
        code, out, _ = run("keys", "add", "up", "second", "--key", "key-second-2222", "-c", str(config))
        assert code == 0 and "key…2222" in out and "key-second-2222" not in out
        deadline = time.monotonic() + 10
        while "up/second" not in {
            f"{k['backend']}/{k['alias']}" for k in httpx.get(proxy.url + "/accounts").json()["keys"]
        }:
            assert time.monotonic() < deadline, "the running proxy did not pick up the new key"
            time.sleep(0.1)
        before = len(upstream.requests)
        for _ in range(4):
            assert (
                httpx.post(
                    proxy.url + "/v1/chat/completions", json={"model": "m", "messages": []}
                ).status_code
                == 200
            )
        used = {r.headers["authorization"] for r in upstream.requests[before:]}
        assert used == {"Bearer key-default-1111", "Bearer key-second-2222"}  # unknown headroom: ties rotate

        code, out, _ = run("keys", "list", "-c", str(config), "--url", proxy.url)
        assert code == 0 and "second" in out and "ok" in out and "key…2222" in out and "key-second" not in out

        code, out, _ = run("top", "--once", "--url", proxy.url)
        assert code == 0 and "Keys" in out and "tokens/min" in out and "second" in out

        config.write_text(config.read_text().replace("models: [m]", "models: [m, renamed-model]"))
        deadline = time.monotonic() + 10
        while (
            httpx.post(
                proxy.url + "/v1/chat/completions", json={"model": "renamed-model", "messages": []}
            ).status_code
            != 200
        ):
            assert time.monotonic() < deadline, "the running proxy did not reload its config file"
            time.sleep(0.1)
    finally:
        proxy.stop()
    code, out, _ = run("stats", "--since", "1h", "-c", str(config))
    assert code == 0 and "By backend" in out and "up" in out
    code, out, _ = run("stats", "--json", "--since", "all", "-c", str(config))
    report = json.loads(out)
    assert report["totals"]["requests"] >= 5 and set(report["by_key"]) == {"up/default", "up/second"}
    code, _, err = run("keys", "remove", "up", "second")
    assert code == 0
    code, _, err = run("keys", "remove", "up", "second")
    assert code == 1 and "no stored key" in err


def test_stats_errors_and_empty(tmp_path: Path, upstream: FakeUpstream) -> None:
    config = config_for(tmp_path / "config.yaml", upstream)
    code, out, _ = run("stats", "-c", str(config))
    assert code == 0 and "No requests recorded" in out
    code, _, err = run("stats", "--since", "yesterday", "-c", str(config))
    assert code == 2 and "30m, 24h, 7d" in err
    code, _, err = run("keys", "add", "nope", "a", "--key", "k", "-c", str(config))
    assert code == 1 and "no backend 'nope'" in err
    code, _, err = run("top", "--once", "--url", "http://127.0.0.1:1")
    assert code == 1 and "not running" in err


def test_dashboard_renders_bars_and_predictions() -> None:
    from rich.console import Console

    analytics = {
        "burn": {"requests_per_minute": 120, "tokens_per_minute": 5000, "dollars_per_hour": 1.5},
        "now": {
            "window_seconds": 10,
            "requests_per_second": 7.5,
            "tokens_per_minute": 900,
            "error_rate": 0.25,
        },
        "last_hour": {"totals": {"error_rate": 0.02}, "by_backend": {}},
    }
    accounts = {
        "waiting": 3,
        "keys": [
            {
                "backend": "b",
                "alias": "k1",
                "status": "cooling",
                "headroom": 0.25,
                "requests": 10,
                "errors": 1,
                "minutes_to_exhaustion": 42.0,
            }
        ],
    }
    console = Console(record=True, width=150)
    console.print(dashboard(analytics, accounts))
    text = console.export_text()
    ten_seconds = next(line for line in text.splitlines() if "last 10 s" in line).split()
    ten_minutes = next(line for line in text.splitlines() if "last 10 min" in line).split()
    assert ten_seconds[3:7] == ["7.50", "900", "0.0000", "25.0%"]
    assert ten_minutes[3:7] == ["2.00", "5,000", "1.5000", "2.0%"]
    assert "waiting for a key: 3" in text
    assert "cooling" in text and "25%" in text and "42 min" in text


def test_cli_calls_to_a_proxy_send_turnout_api_key_and_say_when_it_is_wrong(
    tmp_path: Path, upstream: FakeUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_for(tmp_path / "config.yaml", upstream)
    settings = ServerSettings(
        port=0, config=str(config), confdir=str(tmp_path / "c"), discover=False, api_key="local-key-31"
    )
    with start_proxy_thread(settings) as proxy:
        for command in (["top", "--once"], ["status"]):
            code, out, err = run(*command, "--url", proxy.url)
            assert code == 1 and "requires its API key: set TURNOUT_API_KEY" in err, (command, out, err)
            assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
        code, out, err = run("keys", "list", "--url", proxy.url, "-c", str(config))
        assert code == 0 and "requires its API key" in err and "default" in out
        monkeypatch.setenv("TURNOUT_API_KEY", "wrong")
        code, _, err = run("top", "--once", "--url", proxy.url)
        assert code == 1 and "refused TURNOUT_API_KEY" in err
        monkeypatch.setenv("TURNOUT_API_KEY", "local-key-31")
        code, out, err = run("top", "--once", "--url", proxy.url)
        assert code == 0 and "req/s" in out, err
        code, out, err = run("keys", "list", "--url", proxy.url, "-c", str(config))
        assert code == 0 and "ok" in out and not err
        code, out, _ = run("status", "--url", proxy.url)
        assert code == 0 and "up" in out


def test_keys_remove_takes_the_alias_keys_list_shows_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert runner.invoke(app, ["backend", "add", "groq", "--key", "gsk-first-key-1234"]).exit_code == 0
    added = runner.invoke(app, ["keys", "add", "groq", "second", "--key", "gsk-second-key-5678"])
    assert added.exit_code == 0 and "groq's pool" in added.stdout and "stored in" in added.stdout
    listed = runner.invoke(app, ["keys", "list", "--url", "http://127.0.0.1:9"], env={"COLUMNS": "200"})
    assert "default" in listed.stdout and "second" in listed.stdout
    removed = runner.invoke(app, ["keys", "remove", "groq", "default"])
    assert removed.exit_code == 0, removed.stderr
    assert "credentials" in removed.stdout.replace("\n", "")  # where it was: the backend's own key
    again = runner.invoke(app, ["keys", "remove", "groq", "default"])
    assert again.exit_code == 1 and "no stored key 'default'" in again.stderr
    bad = runner.invoke(app, ["keys", "remove", "groq", "bad alias!"])
    assert (
        bad.exit_code == 1 and "invalid alias 'bad alias!'" in bad.stderr and "backend name" not in bad.stderr
    )

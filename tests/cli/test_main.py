"""CLI commands through typer's CliRunner; the proxy command through a real subprocess."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.fakes.upstream import FakeUpstream
from turnout.cli.main import app
from turnout.core.paths import credentials_dir

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    return result.exit_code, result.stdout, result.stderr


def test_help_everywhere() -> None:
    for args in ([], ["proxy"], ["backend"], ["backend", "add"], ["models"], ["status"], ["doctor"]):
        code, out, _ = run(*args, "--help")
        assert code == 0 and "Usage" in out
    code, out, _ = run("-h")
    assert code == 0 and "proxy" in out and "doctor" in out


def test_backend_add_list_remove(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    code, out, _ = run(
        "backend",
        "add",
        "groq",
        "--kind",
        "openai-compat",
        "--key",
        "gsk-secret-abcd1234",
        "--base-url",
        "https://api.groq.com/openai/v1",
        "-m",
        "llama-3.3-70b",
        "-c",
        str(config),
    )
    assert code == 0 and "gsk…1234" in out and "gsk-secret" not in out
    assert "gsk-secret" not in config.read_text()  # the key lives in the store, not the YAML
    key_file = credentials_dir() / "groq"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    code, out, _ = run("backend", "list", "-c", str(config), "--no-discover")
    assert code == 0 and "groq" in out and "gsk…1234" in out and "gsk-secret" not in out
    code, out, _ = run("models", "-c", str(config), "--offline")
    assert code == 0 and "llama-3.3-70b" in out and "listed by groq" in out
    code, out, _ = run("backend", "remove", "groq", "-c", str(config))
    assert code == 0 and not key_file.exists()
    code, _, err = run("backend", "remove", "groq", "-c", str(config))
    assert code == 1 and "no backend 'groq'" in err


def test_backend_add_rejects_bad_input(tmp_path: Path) -> None:
    code, _, err = run("backend", "add", "x", "--kind", "nope", "-c", str(tmp_path / "c.yaml"))
    assert code == 1 and "--kind must be one of" in err and "Traceback" not in err
    code, _, err = run("backend", "add", "x", "--kind", "openai-compat", "-c", str(tmp_path / "c.yaml"))
    assert code == 1 and "base_url: required" in err


def test_invalid_config_is_one_red_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("backends: {x: {kind: bogus}}")
    for command in (["models"], ["doctor"], ["backend", "list"]):
        code, _, err = run(*command, "-c", str(config))
        assert code == 1 and "backends.x.kind" in err and "Traceback" not in err


def test_doctor_probes_every_backend(tmp_path: Path, upstream: FakeUpstream) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"""
backends:
  good: {{kind: openai-compat, base_url: "{upstream.url}/v1", key: k-good-0000}}
  down: {{kind: openai-compat, base_url: "http://127.0.0.1:1/v1"}}
autodetect: {{environment: false, local: false}}
""")
    code, out, _ = run("doctor", "-c", str(config))
    assert code == 1  # one backend is down
    assert "valid" in out and "good" in out and "ok" in out and "unreachable" in out
    assert "k-good-0000" not in out


def test_status_when_not_running() -> None:
    code, _, err = run("status", "--url", "http://127.0.0.1:1")
    assert code == 1 and "not running" in err


def test_proxy_command_runs_reports_and_stops_on_sigterm(tmp_path: Path, upstream: FakeUpstream) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f'backends: {{up: {{kind: openai, base_url: "{upstream.url}/v1", key: sk-up-7777}}}}\n'
        "autodetect: {environment: false, local: false}\n"
    )
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "turnout", "proxy", "-p", "0", "-c", str(config), "-v"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "turnout listening on http://127.0.0.1:" in line and "up (config)" in line
        url = line.split("listening on ")[1].split()[0]
        r = httpx.post(url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": []})
        assert r.status_code == 200
        code, out, _ = run("status", "--url", url)
        assert code == 0 and "1 requests" in out and "sk-…7777" in out
    finally:
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "gpt-4o → up (default openai models) → 200 in" in err
    assert "sk-up-7777" not in err and "Traceback" not in err


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])
def test_proxy_refuses_public_bind_without_key(host: str) -> None:
    code, _, err = run("proxy", "--host", host, "--no-discover")
    assert code == 1 and f"refusing to listen on {host}" in err


def test_a_stored_key_never_follows_its_name_to_another_url(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    code, _, err = run(
        "backend", "add", "anthropic", "--kind", "anthropic", "--base-url", "http://127.0.0.1:9102",
        "--key", "sk-ant-stored-9102", "-c", str(config),
    )  # fmt: skip
    assert code == 0, err
    config.write_text("backends: {}\nautodetect: {local: false}\n")  # the user removes it by hand
    code, out, _ = run("backend", "list", "-c", str(config), "--no-discover")
    assert code == 0 and "No backends" in out and "env ANTHROPIC_API_KEY" not in out and "9102" not in out
    config.write_text("backends: {anthropic: {kind: anthropic}}\nautodetect: {local: false}\n")
    code, out, _ = run("backend", "list", "-c", str(config), "--no-discover")
    assert code == 0 and "api.anthropic.com" in out and "sk-…9102" not in out  # not for another URL


def test_an_explicit_config_path_that_does_not_exist_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope.yaml"
    for command in (["models"], ["doctor"], ["backend", "list"], ["stats"]):
        code, _, err = run(*command, "-c", str(missing))
        assert code == 1 and f"{missing}: no such config file (given by --config)" in err, (command, err)
    monkeypatch.setenv("TURNOUT_CONFIG", str(missing))
    code, _, err = run("doctor")
    assert code == 1 and "given by TURNOUT_CONFIG" in err and "config: valid" not in err
    monkeypatch.delenv("TURNOUT_CONFIG")
    code, out, _ = run("backend", "list", "--no-discover")  # the default path may be absent
    assert code == 0 and "No backends" in out


COMMENTED = """\
# my turnout config: hand-written, keep my notes
backends:
  # the local one
  local:
    kind: openai-compat
    base_url: "http://127.0.0.1:11434/v1"   # Ollama
aliases: {fast: local:llama3}  # flow style stays
autodetect: {local: false}
"""


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["my backend", "--kind", "openai-compat", "--base-url", "http://h/v1"], "letters, digits"),
        (["groq2", "--kind", "openai-compat"], "base_url: required"),
        (["x", "--kind", "openai-compat", "--base-url", "${TURNOUT_TEST_UNSET}"], "TURNOUT_TEST_UNSET"),
        (["x", "--kind", "openai", "--key", "sk-a\nx-injected: 1"], "control character"),
    ],
)
def test_backend_add_validates_everything_before_writing(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(COMMENTED)
    code, _, err = run("backend", "add", *args, "-c", str(config))
    assert code == 1 and needle in err and "nothing was changed" in err, err
    assert config.read_text() == COMMENTED and not credentials_dir().exists()
    assert "sk-a" not in err
    code, _, _ = run("models", "-c", str(config), "--offline")
    assert code == 0  # still a working config


def test_backend_add_and_remove_keep_the_users_comments_and_layout(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(COMMENTED)
    code, out, err = run(
        "backend", "add", "groq", "--kind", "openai-compat", "--base-url", "https://api.groq.com/openai/v1",
        "--key", "gsk-secret-abcd1234", "-c", str(config),
    )  # fmt: skip
    assert code == 0, err
    assert f"key gsk…1234 stored in {credentials_dir() / 'groq'} (mode 0600)" in out.replace("\n", "")
    text = config.read_text()
    assert text.startswith(COMMENTED.split("aliases:")[0].rstrip("\n"))  # comments and quotes kept
    assert "# Ollama" in text and "aliases: {fast: local:llama3}  # flow style stays" in text
    assert "groq:" in text and "gsk-secret" not in text
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    code, _, err = run("backend", "remove", "groq", "-c", str(config))
    assert code == 0, err
    assert config.read_text() == COMMENTED and not (credentials_dir() / "groq").exists()


def test_backend_remove_deletes_a_name_the_config_rejects(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(COMMENTED.replace("  local:", "  my backend:"))  # written by hand
    code, _, err = run("models", "-c", str(config))
    assert code == 1 and "letters, digits" in err
    code, _, err = run("backend", "remove", "my backend", "-c", str(config))
    assert code == 0, err
    assert "my backend" not in config.read_text()


def test_backend_remove_refuses_to_break_a_route(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(COMMENTED + "routes:\n  - {match: 'x-*', backend: local}\n")
    before = config.read_text()
    code, _, err = run("backend", "remove", "local", "-c", str(config))
    assert code == 1 and "routes[0].backend" in err and config.read_text() == before


@pytest.mark.parametrize(
    ("name", "kind", "url"),
    [
        ("groq", "openai-compat", "https://api.groq.com/openai/v1"),
        ("openrouter", "openai-compat", "https://openrouter.ai/api/v1"),
        ("ollama", "openai-compat", "http://127.0.0.1:11434/v1"),
        ("anthropic", "anthropic", "https://api.anthropic.com"),
    ],
)
def test_backend_add_needs_no_kind_or_url_for_a_known_provider(
    tmp_path: Path, name: str, kind: str, url: str
) -> None:
    config = tmp_path / "c.yaml"
    code, out, err = run("backend", "add", name, "--key", "sk-known-provider-0001", "-c", str(config))
    assert code == 0, err
    code, out, _ = run("backend", "list", "-c", str(config), "--no-discover")
    row = next(line for line in out.splitlines() if f" {name} " in f" {line} ")
    assert kind in row and url in row
    code, _, err = run("backend", "add", "mystery", "--key", "k", "-c", str(config))
    assert code == 1 and "--kind is needed" in err and "groq" in err


def test_version_and_quick_commands_do_not_load_the_proxy(tmp_path: Path) -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.strip() == "turnout 0.1.0"
    config = tmp_path / "c.yaml"
    config.write_text(
        "backends: {groq: {kind: openai-compat, base_url: 'http://127.0.0.1:9/v1', models: [m]}}\n"
    )
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from turnout.cli.main import app\n"
        "config = sys.argv[1]\n"
        "for args in (['models', '-c', config], ['backend', 'list', '--no-discover', '-c', config]):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'mitmproxy')\n"
        "print(len(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "0"  # mitmproxy's ~1 s import is only for the proxy itself


def test_models_reads_each_backends_own_list_and_says_where_a_model_comes_from(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    with FakeUpstream(models=("served-here",)) as up, FakeUpstream(list_status=401) as refusing:
        config.write_text(
            f"""backends:
  lan: {{kind: openai-compat, base_url: "{up.url}/v1"}}
  shut: {{kind: openai, base_url: "{refusing.url}/v1", key: sk-shut-list-key-9999}}
autodetect: {{environment: false, local: false}}
"""
        )
        code, out, err = run("models", "-c", str(config))
        assert code == 0 and "served-here" in out and "in lan's model list" in out
        assert "shut:" in err and "HTTP 401" in err and "sk-shut-list-key" not in out + err
        code, out, _ = run("models", "-c", str(config), "--offline")
        assert code == 0 and "served-here" not in out

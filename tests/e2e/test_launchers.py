"""``turnout run claude -p …`` with the real Claude Code binary, headless: turnout started
for the run when none is listening, or the running one used; Claude's own model names
have no route in this config, so the run names a routable model for the main and the
background requests alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import proxy_on
from tests.e2e.test_claude_code import claude_binary  # noqa: F401  (the pinned CLIs, installed once)
from tests.e2e.test_codex import codex_binary  # noqa: F401
from tests.e2e.test_gemini_cli import gemini_binary  # noqa: F401
from tests.e2e.test_mitmdump_script import free_port
from tests.fakes.upstream import FakeUpstream

KEY = "sk-scripted-upstream-key-0009"


@pytest.fixture
def setup(tmp_path: Path, claude_binary: Path) -> Iterator[tuple[FakeUpstream, Path, dict[str, str]]]:  # noqa: F811
    with FakeUpstream() as up:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
backends:
  scripted:
    kind: openai-compat
    base_url: {up.url}/v1
    key: {KEY}
    models: [scripted-model]
autodetect: {{environment: false, local: false}}
analytics: {{path: {tmp_path / "analytics.sqlite3"}}}
""")
        bin_dir, home, work = tmp_path / "bin", tmp_path / "home", tmp_path / "work"
        for d in (bin_dir, home, work):
            d.mkdir()
        (bin_dir / "claude").symlink_to(claude_binary)
        (work / "note.txt").write_text("the password is swordfish\n")
        env = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "TURNOUT_CONFIG": str(config),
            "ANTHROPIC_API_KEY": "sk-ant-users-real-key-never-used",  # turnout run takes it away
            "DISABLE_TELEMETRY": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        yield up, work, env


def _turnout_run_claude(work: Path, env: dict[str, str], url: str) -> subprocess.CompletedProcess[str]:
    prompt = f"What does FILE:{work / 'note.txt'} say? Use the Read tool."
    claude = ["claude", "-p", prompt, "--allowedTools", "Read", "--output-format", "json", "--max-turns", "5"]
    return _turnout_run(work, env, *claude, url=url)


def test_turnout_run_claude_starts_turnout_for_the_run(
    setup: tuple[FakeUpstream, Path, dict[str, str]],
) -> None:
    up, work, env = setup
    nobody = f"http://127.0.0.1:{free_port()}"
    result = _turnout_run_claude(work, env, nobody)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["result"] == "The file says: the password is swordfish" and report["num_turns"] == 2
    assert f"none at {nobody}; started one on http://127.0.0.1:" in result.stderr
    assert "the tool will use 'scripted-model'" in result.stderr
    chats = [r for r in up.requests if r.path.endswith("/chat/completions")]
    assert chats and all(json.loads(r.body)["model"] == "scripted-model" for r in chats)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in chats)
    assert "sk-ant-users-real-key" not in result.stdout + result.stderr


def test_turnout_run_claude_uses_the_running_turnout(
    setup: tuple[FakeUpstream, Path, dict[str, str]], tmp_path: Path
) -> None:
    _, work, env = setup
    (running := tmp_path / "running").mkdir()
    with proxy_on(Path(env["TURNOUT_CONFIG"]).read_text(), running) as proxy:
        result = _turnout_run_claude(work, env, proxy.url)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert "started one" not in result.stderr
        assert "swordfish" in json.loads(result.stdout)["result"]
        assert proxy.runtime.requests >= 1  # through this proxy


def test_turnout_run_an_unknown_or_missing_tool_says_what_to_do(
    setup: tuple[FakeUpstream, Path, dict[str, str]],
) -> None:
    _, work, env = setup
    result = subprocess.run(
        [sys.executable, "-m", "turnout", "run", "codex", "exec", "x"],
        cwd=work,
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "codex is not on your PATH" in result.stderr
    assert "npm install -g @openai/codex" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture
def route_all(tmp_path: Path) -> Iterator[tuple[FakeUpstream, Path, dict[str, str]]]:
    """Every model to the scripted upstream: the tools keep their own model names."""
    with FakeUpstream() as up:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
backends:
  scripted: {{kind: openai-compat, base_url: "{up.url}/v1", key: {KEY}}}
routes:
  - {{match: "*", backend: scripted, model: scripted-model}}
autodetect: {{environment: false, local: false}}
analytics: {{path: {tmp_path / "analytics.sqlite3"}}}
""")
        home, work = tmp_path / "home", tmp_path / "work"
        home.mkdir()
        work.mkdir()
        (work / "note.txt").write_text("the password is swordfish\n")
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "TURNOUT_CONFIG": str(config),
            "NO_COLOR": "1",
        }
        yield up, work, env


def _turnout_run(
    work: Path, env: dict[str, str], *args: str, url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``turnout run --url URL ARGS`` (no URL: one where nothing listens)."""
    url = url or f"http://127.0.0.1:{free_port()}"
    return subprocess.run(
        [sys.executable, "-m", "turnout", "run", "--url", url, *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def test_turnout_run_codex_gives_it_a_responses_provider_on_the_command_line(
    route_all: tuple[FakeUpstream, Path, dict[str, str]],
    codex_binary: Path,  # noqa: F811
) -> None:
    up, work, env = route_all
    env = {**env, "PATH": f"{codex_binary.parent}{os.pathsep}{env['PATH']}", "CODEX_HOME": env["HOME"]}
    note = work / "note.txt"
    args = ["--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "-C", str(work)]
    result = _turnout_run(
        work, env, "-m", "gpt-5.5", "codex", "exec", *args, f"Shout the password in FILE:{note} please"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert note.read_text() == "the password is SWORDFISH\n"  # no config.toml: the -c flags did it
    assert any(r.path == "/v1/chat/completions" for r in up.requests)


def test_turnout_run_gemini_points_it_at_turnout(
    route_all: tuple[FakeUpstream, Path, dict[str, str]],
    gemini_binary: Path,  # noqa: F811
) -> None:
    up, work, env = route_all
    settings = Path(env["HOME"]) / ".gemini"
    settings.mkdir()
    (settings / "settings.json").write_text(
        json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}})
    )
    env = {
        **env,
        "PATH": f"{gemini_binary.parent}{os.pathsep}{env['PATH']}",
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
        "GOOGLE_API_KEY": "a-real-google-key-that-must-not-win",
    }
    prompt = f"What does FILE:{work / 'note.txt'} say? Use read_file."
    result = _turnout_run(
        work, env, "gemini", "-m", "gemini-2.5-pro", "-p", prompt, "--output-format", "json", "--yolo"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads(result.stdout)["response"].strip() == "The file says: the password is swordfish"
    assert all("a-real-google-key" not in str(r.headers) for r in up.requests)

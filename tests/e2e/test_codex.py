"""The real Codex CLI, headless, through turnout to backends that do not speak Responses.

Codex speaks only the OpenAI Responses API. Here its model is routed to a scripted
upstream speaking Chat Completions, then to one speaking Anthropic Messages. The task:
read a file with ``exec_command``, change it with the freeform ``apply_patch`` tool (a
custom tool Chat and Messages models only know as a function), and report. Codex must
finish with the file changed on disk. The pinned CLI is installed from npm on first use
(tests/e2e/codex/package.json); a missing install fails, never skips.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.clis import npm_installed, scripted
from tests.fakes.upstream import FakeUpstream
from turnout.server import ProxyHandle

PACKAGE_DIR = Path(__file__).parent / "codex"
BINARY = PACKAGE_DIR / "node_modules" / ".bin" / "codex"
VERSION = "0.171.0"
MODEL = "gpt-5.5"  # a model Codex knows: it offers apply_patch as a freeform tool


@pytest.fixture(scope="module")
def codex_binary() -> Path:
    native = PACKAGE_DIR / "node_modules" / "@openai" / "codex-linux-x64"
    return npm_installed(PACKAGE_DIR, native, BINARY, VERSION)


@pytest.fixture(scope="module", params=["openai-compat", "anthropic"])
def routed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ProxyHandle, FakeUpstream, str]]:
    tmp = tmp_path_factory.mktemp(f"codex-{request.param}")
    with scripted(request.param, "sk-scripted-upstream-key-0002", tmp) as (proxy, up):
        yield proxy, up, request.param


def run_codex(binary: Path, proxy: ProxyHandle, home: Path, work: Path, prompt: str) -> str:
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(
        f"""model = "{MODEL}"
model_provider = "turnout"

[model_providers.turnout]
name = "turnout"
base_url = "{proxy.url}/v1"
env_key = "TURNOUT_KEY"
wire_api = "responses"
"""
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "TURNOUT_KEY": "turnout-placeholder",
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [
            str(binary),
            "exec",
            "--skip-git-repo-check",
            "--dangerously-bypass-approvals-and-sandbox",  # a temp dir and a scripted model
            "-C",
            str(work),
            prompt,
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_codex_runs_a_command_and_applies_a_patch(
    codex_binary: Path, routed: tuple[ProxyHandle, FakeUpstream, str], tmp_path: Path
) -> None:
    proxy, upstream, kind = routed
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    note = work / "note.txt"
    note.write_text("the password is swordfish\n")
    before = len(upstream.requests)
    output = run_codex(codex_binary, proxy, home, work, f"Shout the password in FILE:{note} please")

    assert note.read_text() == "the password is SWORDFISH\n", output
    assert "Done: the file is patched." in output
    path = "/v1/chat/completions" if kind == "openai-compat" else "/v1/messages"
    turns = [r.json() for r in upstream.requests[before:] if r.path == path]
    assert len(turns) == 3, [r.path for r in upstream.requests[before:]]
    last = turns[-1]
    names = [t.get("name") or t["function"]["name"] for t in last["tools"]]
    assert "apply_patch" in names and "exec_command" in names
    assert "web_search" not in names  # a hosted tool: dropped, not sent
    identity = ("session-id", "thread-id", "originator", "x-client-request-id")
    sent_headers = {k.lower() for r in upstream.requests[before:] for k in r.headers}
    assert not {k for k in sent_headers if k.startswith("x-codex-") or k in identity}  # Codex's ids stay home
    text = str(last["messages"])
    assert "swordfish" in text  # the command's output went back as a tool result
    assert "Begin Patch" in text  # so did the patch call

"""The real Gemini CLI, headless, through turnout to backends that do not speak Gemini.

Gemini CLI speaks Gemini's native API (``:streamGenerateContent?alt=sse``) to
``GOOGLE_GEMINI_BASE_URL``. Here its model is routed to a scripted upstream speaking Chat
Completions, then one speaking Anthropic Messages. Turn one, the model asks for
``read_file`` on a temporary file; Gemini CLI runs it and sends the result back; turn
two, the model quotes it. The pinned CLI is installed from npm on first use
(tests/e2e/gemini_cli/package.json); a missing install fails, never skips.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.clis import npm_installed, scripted
from tests.fakes.upstream import FakeUpstream
from turnout.server import ProxyHandle

PACKAGE_DIR = Path(__file__).parent / "gemini_cli"
BINARY = PACKAGE_DIR / "node_modules" / ".bin" / "gemini"
VERSION = "0.61.0"


@pytest.fixture(scope="module")
def gemini_binary() -> Path:
    return npm_installed(PACKAGE_DIR, BINARY, BINARY, VERSION)


@pytest.fixture(scope="module", params=["openai-compat", "anthropic"])
def routed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ProxyHandle, FakeUpstream, str]]:
    tmp = tmp_path_factory.mktemp(f"gemini-{request.param}")
    with scripted(request.param, "sk-scripted-upstream-key-0003", tmp) as (proxy, up):
        yield proxy, up, request.param


def run_gemini(binary: Path, proxy: ProxyHandle, home: Path, work: Path, prompt: str) -> dict:
    settings = home / ".gemini"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "settings.json").write_text(
        json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}})
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GEMINI_API_KEY": "turnout-placeholder",
        "GOOGLE_GEMINI_BASE_URL": proxy.url,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
        "NO_COLOR": "1",
    }
    result = subprocess.run(
        [str(binary), "-m", "gemini-2.5-pro", "-p", prompt, "--output-format", "json", "--yolo"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report: dict = json.loads(result.stdout)
    return report


def test_gemini_cli_reads_a_file_and_quotes_it(
    gemini_binary: Path, routed: tuple[ProxyHandle, FakeUpstream, str], tmp_path: Path
) -> None:
    proxy, upstream, kind = routed
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    note = work / "note.txt"
    note.write_text("the password is swordfish\n")
    before = len(upstream.requests)
    report = run_gemini(gemini_binary, proxy, home, work, f"What does FILE:{note} say? Use read_file.")
    assert report["response"].strip() == "The file says: the password is swordfish", report

    path = "/v1/chat/completions" if kind == "openai-compat" else "/v1/messages"
    turns = [r.json() for r in upstream.requests[before:] if r.path == path]
    assert len(turns) == 2, [r.path for r in upstream.requests[before:]]
    names = [t.get("name") or t["function"]["name"] for t in turns[-1]["tools"]]
    assert "read_file" in names
    assert "swordfish" in json.dumps(turns[-1]["messages"])  # the tool's result went back
    assert all(
        r.headers.get("x-api-key", r.headers.get("authorization", "")).endswith(
            "sk-scripted-upstream-key-0003"
        )
        for r in upstream.requests[before:]
    )
    assert not any("turnout-placeholder" in json.dumps(dict(r.headers)) for r in upstream.requests[before:])

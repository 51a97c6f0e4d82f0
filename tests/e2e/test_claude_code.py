"""The real Claude Code CLI, headless, through turnout to a scripted OpenAI-compatible model.

Claude Code speaks only the Anthropic dialect; here every Claude model is routed to an
OpenAI-compatible upstream. Turn one, the upstream asks for the ``Read`` tool on a file
in a temporary directory; Claude Code runs it and sends the result back; turn two, the
upstream answers with text quoting the file. Claude Code must finish with that text.
The pinned CLI is installed from npm on first use (tests/e2e/claude_code/package.json).
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

PACKAGE_DIR = Path(__file__).parent / "claude_code"
BINARY = PACKAGE_DIR / "node_modules" / "@anthropic-ai" / "claude-code-linux-x64" / "claude"


@pytest.fixture(scope="module")
def claude_binary() -> Path:
    return npm_installed(PACKAGE_DIR, BINARY, BINARY, "2.1.328")


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyHandle, FakeUpstream]]:
    with scripted(
        "openai-compat", "sk-scripted-upstream-key-0001", tmp_path_factory.mktemp("claude-code")
    ) as rig:
        yield rig


def claude_env(proxy: ProxyHandle, home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": proxy.url,
        "ANTHROPIC_AUTH_TOKEN": "turnout-placeholder",
        "ANTHROPIC_MODEL": "claude-sonnet-5-5",
        "ANTHROPIC_SMALL_FAST_MODEL": "claude-haiku-5-5",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


def run_claude(binary: Path, env: dict[str, str], cwd: Path, *args: str, tools: str = "Read") -> dict:
    result = subprocess.run(
        [str(binary), *args, "--allowedTools", tools, "--output-format", "json", "--max-turns", "5"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report: dict = json.loads(result.stdout)
    return report


def test_claude_code_runs_a_tool_and_quotes_its_result(
    claude_binary: Path, routed: tuple[ProxyHandle, FakeUpstream], tmp_path: Path
) -> None:
    proxy, upstream = routed
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    note = work / "note.txt"
    note.write_text("the password is swordfish\n")
    before = len(upstream.requests)
    report = run_claude(
        claude_binary, claude_env(proxy, home), work, "-p", f"What does FILE:{note} say? Use the Read tool."
    )
    assert report["is_error"] is False and report["num_turns"] == 2
    assert report["result"] == "The file says: the password is swordfish"

    calls = [r.json() for r in upstream.requests[before:] if r.path == "/v1/chat/completions"]
    assert len(calls) >= 2 and all(c["model"] == "scripted-model" and c["stream"] for c in calls)
    assert any(t["function"]["name"] == "Read" for t in calls[-1]["tools"])
    tool_messages = [m for m in calls[-1]["messages"] if m["role"] == "tool"]
    assert tool_messages and "swordfish" in tool_messages[0]["content"]
    assert all(
        r.headers["authorization"] == "Bearer sk-scripted-upstream-key-0001"
        for r in upstream.requests[before:]
    )


def test_a_continued_session_on_an_upstream_that_repeats_ids_does_not_loop(
    claude_binary: Path, routed: tuple[ProxyHandle, FakeUpstream], tmp_path: Path
) -> None:
    """``claude -p`` then ``claude -c -p`` three times, each turn reading a file. The
    upstream answers every response as ``chatcmpl-gold`` and every call as
    ``call_scripted_1``; Claude Code merges turns with one message id and drops tool calls
    it has seen, so without unique ids it loops (hundreds of requests by turn 3)."""
    proxy, upstream = routed
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    env = claude_env(proxy, home)
    before = len(upstream.requests)
    for turn, word in enumerate(["swordfish", "marlin", "halibut", "grouper"]):
        note = work / f"note{turn}.txt"
        note.write_text(f"the password is {word}\n")
        prompt = f"What does FILE:{note} say? Use the Read tool."
        report = run_claude(claude_binary, env, work, *(["-c"] if turn else []), "-p", prompt)
        assert report["is_error"] is False and report["num_turns"] == 2, (turn, report)
        assert report["result"] == f"The file says: the password is {word}"
    main_loop = [
        r.json()
        for r in upstream.requests[before:]
        if r.path == "/v1/chat/completions"
        and any(t["function"]["name"] == "Read" for t in r.json().get("tools", []))
    ]
    assert len(main_loop) == 8  # two per turn: the tool call, then the answer
    # The last request carries the whole session: four calls, four results, ids paired.
    history = main_loop[-1]["messages"]
    calls = [c["id"] for m in history if m["role"] == "assistant" for c in m.get("tool_calls") or []]
    results = [m["tool_call_id"] for m in history if m["role"] == "tool"]
    assert len(calls) == 4 and calls == results


@pytest.fixture(scope="module")
def responses_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyHandle, FakeUpstream]]:
    """Every Claude model routed to a backend served only by the Responses API."""
    tmp = tmp_path_factory.mktemp("claude-code-responses")
    with scripted("openai-responses", "sk-scripted-upstream-key-0004", tmp) as rig:
        yield rig


def test_claude_code_on_a_responses_only_backend(
    claude_binary: Path, responses_only: tuple[ProxyHandle, FakeUpstream], tmp_path: Path
) -> None:
    proxy, upstream = responses_only
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    note = work / "note.txt"
    note.write_text("the password is marlin\n")
    report = run_claude(
        claude_binary, claude_env(proxy, home), work, "-p", f"What does FILE:{note} say? Use the Read tool."
    )
    assert report["is_error"] is False and report["num_turns"] == 2
    assert report["result"] == "The file says: the password is marlin"
    calls = [r.json() for r in upstream.requests if r.path == "/v1/responses"]
    assert len(calls) >= 2 and all(c["model"] == "scripted-model" for c in calls)
    last = calls[-1]
    assert any(t["name"] == "Read" for t in last["tools"])
    outputs = [i for i in last["input"] if i["type"] == "function_call_output"]
    assert outputs and "marlin" in outputs[0]["output"]
    assert all(
        r.headers["authorization"] == "Bearer sk-scripted-upstream-key-0004" for r in upstream.requests
    )


def test_claude_code_without_a_base_url_is_intercepted_and_routed(
    claude_binary: Path, tmp_path: Path
) -> None:
    """No ANTHROPIC_BASE_URL: Claude Code calls api.anthropic.com, through HTTPS_PROXY, and
    turnout (trusted through NODE_EXTRA_CA_CERTS) routes it to the scripted OpenAI upstream."""
    from turnout.server import ServerSettings, start_proxy_thread

    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    note = work / "note.txt"
    note.write_text("the password is swordfish\n")
    with FakeUpstream() as upstream:
        config = tmp_path / "config.yaml"
        config.write_text(
            "backends:\n"
            f"  scripted: {{kind: openai-compat, base_url: '{upstream.url}/v1', key: sk-scripted-0002}}\n"
            "routes:\n  - {match: '*', backend: scripted, model: scripted-model}\n"
            "autodetect: {environment: false, local: false}\n"
        )
        settings = ServerSettings(
            port=0, intercept_port=0, config=str(config), confdir=str(tmp_path / "certs"), discover=False,
            api_key="",
        )  # fmt: skip
        with start_proxy_thread(settings) as proxy:
            env = {
                key: value
                for key, value in claude_env(proxy, home).items()
                if key not in ("ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN")
            }
            env.update(
                ANTHROPIC_API_KEY="sk-ant-the-users-own-key",
                HTTPS_PROXY=proxy.proxy_url,
                NO_PROXY="127.0.0.1,localhost",
                NODE_EXTRA_CA_CERTS=str(tmp_path / "certs" / "mitmproxy-ca-cert.pem"),
            )
            report = run_claude(
                claude_binary, env, work, "-p", f"What does FILE:{note} say? Use the Read tool."
            )
            assert report["is_error"] is False and report["num_turns"] == 2
            assert report["result"] == "The file says: the password is swordfish"
            calls = [r for r in upstream.requests if r.path == "/v1/chat/completions"]
            assert len(calls) >= 2
            assert all(r.headers["authorization"] == "Bearer sk-scripted-0002" for r in upstream.requests)
            assert "sk-ant-the-users-own-key" not in str([r.headers for r in upstream.requests])


def test_keys_claude_code_reads_never_reach_the_model_and_still_land_on_disk(
    claude_binary: Path, tmp_path: Path
) -> None:
    """Claude Code reads a file holding an AWS key pair; the model (scripted) only ever sees
    placeholders, and writes what it read into a new file with the Write tool: the
    placeholders in its arguments come back as the real keys, so the copy holds them."""
    from tests.core.secret_samples import SAMPLES

    key_id, secret = SAMPLES["aws_access_key"], SAMPLES["aws_secret_key"]
    with scripted("openai-compat", "sk-scripted-upstream-key-0002", tmp_path, scrub="redact") as (
        proxy,
        upstream,
    ):
        work, home = tmp_path / "work", tmp_path / "home"
        work.mkdir()
        home.mkdir()
        source, copy = work / "credentials", work / "copy.txt"
        source.write_text(f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n")
        report = run_claude(
            claude_binary,
            claude_env(proxy, home),
            work,
            "-p",
            f"Copy FILE:{source} COPY:{copy} using the Read and Write tools.",
            tools="Read,Write",
        )
        assert report["is_error"] is False and report["result"] == "Copied.", report
        assert copy.read_text() == source.read_text()  # the real keys, on disk
        bodies = [r.body.decode() for r in upstream.requests if r.method == "POST"]
        assert len(bodies) >= 3
        assert not any(key_id in b or secret in b for b in bodies)
        assert any("[[secret:aws_access_key:1]]" in b and "[[secret:aws_secret_key:1]]" in b for b in bodies)

"""``mitmdump -s addons/router.py`` from a checkout runs the same chain as ``turnout proxy``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import OPENAI_KEY, write_config
from tests.fakes.upstream import FakeUpstream

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until_healthy(url: str, proc: subprocess.Popen[str], what: str, seconds: float = 30) -> None:
    """Wait for ``GET url/health``; fails with the process's output if it exits first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, f"{what} did not come up"
        time.sleep(0.2)


def test_mitmdump_script_routes_like_the_cli(tmp_path: Path) -> None:
    mitmdump = Path(sys.executable).parent / "mitmdump"
    port = free_port()
    with FakeUpstream() as up:
        config = write_config(tmp_path / "config.yaml", up.url)
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
        }
        proc = subprocess.Popen(
            [
                str(mitmdump),
                "-s",
                str(ROOT / "addons" / "router.py"),
                "--mode",
                f"reverse:http://127.0.0.1:9@127.0.0.1:{port}",
                "--set",
                "connection_strategy=lazy",
                "--set",
                f"turnout_config={config}",
                "--set",
                "turnout_discover=false",
                "--set",
                f"confdir={tmp_path / 'certs'}",
                "--set",
                "termlog_verbosity=info",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
        )
        try:
            until_healthy(f"http://127.0.0.1:{port}", proc, "mitmdump")
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions", json={"model": "house-x", "messages": []}
            )
            assert r.status_code == 200 and r.headers["x-turnout-backend"] == "oai"
            assert up.last().json()["model"] == "gpt-4o-mini"
            assert up.last().headers["authorization"] == f"Bearer {OPENAI_KEY}"
            dead = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions", json={"model": "dead-model", "messages": []}
            )
            assert dead.status_code == 502 and dead.json()["error"]["code"] == "backend_unreachable"
        finally:
            proc.terminate()
            output = proc.communicate(timeout=20)[0]
    assert "house-x → oai as gpt-4o-mini" in output  # the per-request line names the route
    assert OPENAI_KEY not in output


def test_mitmdump_script_refuses_to_serve_the_network_without_a_key(tmp_path: Path) -> None:
    mitmdump = Path(sys.executable).parent / "mitmdump"
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "TURNOUT_API_KEY": ""}
    settings = ["--set", f"confdir={tmp_path / 'certs'}", "--set", "turnout_discover=false"]
    for listen in (["--mode", "reverse:http://127.0.0.1:9@0.0.0.0:0"], ["--listen-host", "0.0.0.0"]):
        args = ["--mode", "reverse:http://127.0.0.1:9", "--listen-port", "0"] if listen[0] != "--mode" else []
        proc = subprocess.run(
            [str(mitmdump), "-s", str(ROOT / "addons" / "router.py"), *listen, *args, *settings],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "refusing to listen on 0.0.0.0" in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr


def _occupy_8080() -> socket.socket | None:
    """Hold every interface's :8080 (mitmdump's default), so a listener there would fail."""
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", 8080))
        s.listen()
    except OSError:  # already held by something else: just as good
        s.close()
        return None
    return s


@pytest.mark.parametrize("tool", ["mitmdump", "mitmweb"])
def test_the_readme_script_lines_listen_on_loopback_only_from_the_start(tool: str, tmp_path: Path) -> None:
    """``mitmdump -s addons/router.py`` never opens :8080 on all interfaces, even for a moment;
    under mitmweb the flows hold the backend's key masked while the backend gets it."""
    port, web_port = free_port(), free_port()
    holder, seen = _occupy_8080(), []
    with FakeUpstream() as up:
        config = write_config(tmp_path / "config.yaml", up.url)
        env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_DATA_HOME": str(tmp_path / "d")}
        web = (
            ["--set", f"web_port={web_port}", "--set", "web_open_browser=false"] if tool == "mitmweb" else []
        )
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / tool),
                "-s",
                str(ROOT / "addons" / "router.py"),
                "-p",
                str(port),
                "--set",
                f"turnout_config={config}",
                "--set",
                "turnout_discover=false",
                "--set",
                f"confdir={tmp_path / 'certs'}",
                *web,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
        )
        try:
            until_healthy(f"http://127.0.0.1:{port}", proc, tool)
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions", json={"model": "house-x", "messages": []}
            )
            assert r.status_code == 200
            assert up.last().headers["authorization"] == f"Bearer {OPENAI_KEY}"
            if tool == "mitmweb":
                flows = httpx.get(f"http://127.0.0.1:{web_port}/flows", headers=_web_auth(proc, seen)).text
                assert OPENAI_KEY not in flows and OPENAI_KEY[-4:] in flows
        finally:
            proc.terminate()
            output = "".join(seen) + proc.communicate(timeout=20)[0]
            if holder is not None:
                holder.close()
    assert f"listening as a router on http://127.0.0.1:{port}" in output
    assert "8080" not in output and "Address already in use" not in output, output
    assert OPENAI_KEY not in output


def _web_auth(proc: subprocess.Popen[str], seen: list[str]) -> dict[str, str]:
    """mitmweb prints its UI's URL with a token; read lines (into ``seen``) until it shows."""
    assert proc.stdout is not None
    for _ in range(200):
        seen.append(line := proc.stdout.readline())
        if "token=" in line:
            return {"authorization": "Bearer " + line.split("token=")[1].split()[0]}
    raise AssertionError("mitmweb printed no UI token")

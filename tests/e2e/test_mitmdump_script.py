"""``mitmdump -s addons/router.py`` from a checkout runs the same chain as ``turnout proxy``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import OPENAI_KEY, write_config
from tests.fakes.upstream import FakeUpstream

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "mitmdump did not come up"
                time.sleep(0.2)
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

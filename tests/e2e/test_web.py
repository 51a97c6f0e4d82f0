"""``turnout proxy --web``: every flow shows in mitmweb with its route decision as the comment."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.conftest import write_config
from tests.e2e.test_mitmdump_script import free_port
from tests.fakes.upstream import FakeUpstream


def test_mitmweb_shows_each_flow_with_its_route(tmp_path: Path) -> None:
    with FakeUpstream() as up:
        config = write_config(tmp_path / "config.yaml", up.url)
        web_port = free_port()
        env = {
            **os.environ,
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
            "XDG_DATA_HOME": str(tmp_path / "data"),
        }
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "turnout",
                "proxy",
                "-p",
                "0",
                "-c",
                str(config),
                "--web",
                "--web-port",
                str(web_port),
                "--no-discover",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            url = re.search(r"listening on (http://\S+?);", line).group(1)  # type: ignore[union-attr]
            ui = re.search(r"mitmweb UI on (\S+)", line).group(1)  # type: ignore[union-attr]
            token = ui.split("token=")[1]
            r = httpx.post(url + "/v1/chat/completions", json={"model": "fast", "messages": []})
            assert r.status_code == 200
            flows = httpx.get(
                f"http://127.0.0.1:{web_port}/flows", headers={"authorization": f"Bearer {token}"}
            ).json()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=20)
    [flow] = [f for f in flows if f["request"]["path"].endswith("/chat/completions")]
    assert flow["comment"] == "fast → compat as local-model-a (alias fast, prefix compat:)"
    assert flow["request"]["host"] == "127.0.0.1" and flow["request"]["port"] == up.port

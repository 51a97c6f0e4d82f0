"""Ctrl-C or SIGTERM: turnout stops listening at once, lets a stream in flight finish
(within the grace period), then exits; past the grace it exits anyway."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import write_config
from tests.fakes.upstream import FakeUpstream


def _start(tmp: Path, up: FakeUpstream, grace: float) -> tuple[subprocess.Popen[str], str]:
    config = write_config(tmp / "config.yaml", up.url)
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "xdg"), "XDG_DATA_HOME": str(tmp / "data")}
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
            "--no-discover",
            "--grace",
            str(grace),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    url = re.search(r"listening on (http://\S+?);?\s", line + " ")
    assert url, line
    return proc, url.group(1).rstrip(";")


def _stream(url: str, into: list[bytes]) -> None:
    body = {"model": "fast", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    try:
        with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=30) as r:
            for chunk in r.iter_bytes():
                into.append(chunk)
    except httpx.HTTPError as e:
        into.append(f"ERROR {type(e).__name__}".encode())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stream_in_flight_finishes_and_new_connections_are_refused(
    tmp_path: Path, sig: signal.Signals
) -> None:
    with FakeUpstream(chunk_pause=0.1, stream_parts=20, odd_splits=False) as up:  # a ~2 s stream
        proc, url = _start(tmp_path, up, grace=20)
        got: list[bytes] = []
        client = threading.Thread(target=_stream, args=(url, got))
        client.start()
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        asked = time.monotonic()
        proc.send_signal(sig)
        time.sleep(0.3)
        with pytest.raises(httpx.ConnectError):  # no longer listening
            httpx.get(url + "/health", timeout=2)
        client.join(30)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - asked
    text = b"".join(got).decode()
    assert "data: [DONE]" in text and "ERROR" not in text  # the whole stream
    assert proc.returncode == 0 and "request(s) in flight get up to 20 s" in err
    assert took < 10  # it exited when the stream ended, not at the end of the grace


def test_past_the_grace_turnout_exits_anyway(tmp_path: Path) -> None:
    with FakeUpstream(chunk_pause=0.5, stream_parts=40, odd_splits=False) as up:  # a ~20 s stream
        proc, url = _start(tmp_path, up, grace=1)
        got: list[bytes] = []
        client = threading.Thread(target=_stream, args=(url, got), daemon=True)
        client.start()
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        asked = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - asked
    assert 0.9 < took < 8 and "still in flight (the grace is over)" in err

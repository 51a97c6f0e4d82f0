"""Ctrl-C or SIGTERM: turnout stops listening at once, lets a stream in flight finish
(within the grace period), then exits; past the grace it exits anyway."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.cli.proxy_process import cli_env, proxy_process
from tests.e2e.conftest import write_config
from tests.fakes.upstream import FakeUpstream


@contextmanager
def _proxy(tmp: Path, up: FakeUpstream, grace: float) -> Iterator[tuple[subprocess.Popen[str], str]]:
    config = write_config(tmp / "config.yaml", up.url)
    with proxy_process("-c", str(config), "--grace", str(grace), env=cli_env(tmp)) as running:
        yield running.process, running.url


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
    with (
        FakeUpstream(chunk_pause=0.1, stream_parts=20, odd_splits=False) as up,  # a ~2 s stream
        _proxy(tmp_path, up, grace=20) as (proc, url),
    ):
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
    with (
        FakeUpstream(chunk_pause=0.5, stream_parts=40, odd_splits=False) as up,  # a ~20 s stream
        _proxy(tmp_path, up, grace=1) as (proc, url),
    ):
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

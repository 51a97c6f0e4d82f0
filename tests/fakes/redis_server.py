"""A real ``redis-server`` (Debian's package; `.ci/run` installs it) on a Unix socket in a
temp dir: no TCP port at all, so nothing else on the machine can reach it or race for it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def redis_server(where: Path | None = None) -> Iterator[str]:
    """Yields the server's URL; stops it after. Fails (never skips) without redis-server.
    ``where``: the directory of its socket (to start one again at the same URL)."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: `apt-get install redis-server` (.ci/run does)"
    made = where is None
    where = where or Path(tempfile.mkdtemp(prefix="turnout-redis-"))  # short: a socket path has 108 bytes
    sock = where / "redis.sock"
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(where),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            assert process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not start within 10 s"
            time.sleep(0.02)
        yield f"unix://{sock}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if made:
            shutil.rmtree(where, ignore_errors=True)

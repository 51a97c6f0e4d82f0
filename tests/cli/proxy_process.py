"""The real ``turnout proxy`` command in a subprocess, for tests that must go through the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ProxyProcess:
    process: subprocess.Popen[str]
    url: str
    banner: str

    def stop(self) -> tuple[str, str]:
        """SIGTERM, then the rest of stdout and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate(timeout=10)
        return out, err


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh user: no provider keys, a private XDG home."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and k not in ("TURNOUT_CONFIG", "TURNOUT_API_KEY")
    }
    env.update(
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        COLUMNS="200",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


def run_cli(*args: str, env: Mapping[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "turnout", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(env),
        stdin=subprocess.DEVNULL,
    )


@contextmanager
def proxy_process(
    *args: str, env: Mapping[str, str], connect_host: str = "127.0.0.1"
) -> Iterator[ProxyProcess]:
    """``turnout proxy -p 0 ARGS``; yields once it prints its listening line, stops it after."""
    process = subprocess.Popen(
        [sys.executable, "-m", "turnout", "proxy", "-p", "0", "--no-discover", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        stdin=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    if "listening on" not in banner:
        process.kill()
        out, err = process.communicate(timeout=10)
        raise AssertionError(f"turnout proxy did not start:\n{banner}{out}\n{err}")
    port = banner.split("listening on ")[1].split()[0].rsplit(":", 1)[1]
    running = ProxyProcess(process, f"http://{connect_host}:{port}", banner)
    try:
        yield running
    finally:
        running.stop()

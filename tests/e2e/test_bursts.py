"""A burst of clients connecting at once: turnout listens with its own backlog (asyncio's
100 would overflow), every listener it opens (also a restarted one), and all of a burst
is answered. The timing side is measured in bench/burst.py."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from turnout.server import ServerSettings, start_proxy_thread


def _backlog(port: int) -> int:
    """The listening socket's backlog, as the kernel reports it (ss: Send-Q of a LISTEN socket)."""
    shown = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True)
    return int(shown.stdout.split()[2])


def _somaxconn() -> int:
    return int(Path("/proc/sys/net/core/somaxconn").read_text())


async def _burst(port: int, clients: int) -> int:
    async def one() -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        answer = await reader.read()
        writer.close()
        return answer.startswith(b"HTTP/1.1 200")

    return sum(await asyncio.gather(*(one() for _ in range(clients))))


def test_turnout_listens_with_its_backlog_and_answers_a_burst(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("autodetect: {environment: false, local: false}\n")
    base = {"config": str(config), "confdir": str(tmp_path / "certs"), "discover": False, "api_key": ""}
    with start_proxy_thread(ServerSettings(port=0, **base)) as proxy:  # type: ignore[arg-type]
        assert _backlog(proxy.port) == min(4096, _somaxconn())  # not asyncio's 100
        assert asyncio.run(_burst(proxy.port, 1000)) == 1000
    with start_proxy_thread(ServerSettings(port=0, backlog=321, **base)) as proxy:  # type: ignore[arg-type]
        assert _backlog(proxy.port) == 321

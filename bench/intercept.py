"""Benchmark: a request through the interception listener (CONNECT, TLS with turnout's CA,
then keep-alive requests inside the tunnel) against the same request sent to the local
endpoint (plain HTTP keep-alive), on one turnout process (``--workers 1 --intercept``).

    uv run python bench/intercept.py [--seconds 3] [--rounds 5] [--clients 4] [--pause 0.001]

Prints turnout's own CPU time per request for both, measured in interleaved rounds, and
their ratio (the issue's target: intercepted ≤ 1.3x local). The TLS work of the clients
is this process's, not turnout's.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import ROOT, chat_request, cpu_seconds, read_response, rounds_parser, spawn

from turnout.settings import free_port


async def one_client(
    port: int, proxy_port: int | None, request: bytes, deadline: float, context: ssl.SSLContext | None
) -> int:
    """Requests sent until ``deadline`` on one connection (through the tunnel when proxied)."""
    if proxy_port is None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
        writer.write(b"CONNECT api.openai.com:443 HTTP/1.1\r\nhost: api.openai.com:443\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        await writer.start_tls(context, server_hostname="api.openai.com")
    done = 0
    while time.perf_counter() < deadline:
        writer.write(request)
        status = await read_response(reader)
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        done += 1
    writer.close()
    return done


async def measure(
    port: int, proxy_port: int | None, request: bytes, clients: int, seconds: float, ca: str
) -> int:
    context = ssl.create_default_context(cafile=ca)
    deadline = time.perf_counter() + seconds
    counts = await asyncio.gather(
        *(one_client(port, proxy_port, request, deadline, context) for _ in range(clients))
    )
    return sum(counts)


def main() -> None:
    parser = rounds_parser(__doc__)
    parser.add_argument("--clients", type=int, default=4, help="connections at once")
    parser.add_argument(
        "--pause", type=float, default=0.0,
        help="seconds between the upstream's events (0: as fast as it can, so events that "
        "arrive together go on together; 0.001: each event on its own)",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        upstream, up_port = spawn(
            [sys.executable, "-m", "tests.fakes.upstream", "--events", "--pause", str(args.pause)]
        )
        config = tmp / "c.yaml"
        config.write_text(
            f'backends: {{up: {{kind: openai, base_url: "http://127.0.0.1:{up_port}/v1", key: sk-bench}}}}\n'
            "autodetect: {environment: false, local: false}\n"
        )
        env = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "xdg"), "XDG_DATA_HOME": str(tmp / "data")}
        proxy_port = free_port("127.0.0.1")
        turnout = subprocess.Popen(
            [sys.executable, "-m", "turnout", "proxy", "-p", "0", "-c", str(config), "--no-discover",
             "--workers", "1", "--intercept", "--intercept-port", str(proxy_port)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env,
        )  # fmt: skip
        line = turnout.stdout.readline() if turnout.stdout else ""
        port = int(line.split("listening on http://127.0.0.1:")[1].split(";")[0].split()[0])
        ca = str(tmp / "data" / "turnout" / "certs" / "mitmproxy-ca-cert.pem")
        try:
            for stream in (False, True):
                local = chat_request(1024, stream)
                requests = {
                    "local": local,
                    "intercepted": local.replace(b"host: 127.0.0.1", b"host: api.openai.com"),
                }
                ratios: list[float] = []
                per: dict[str, list[float]] = {"local": [], "intercepted": []}
                for _ in range(args.rounds):
                    round_cpu = {}
                    for name, via in (("local", None), ("intercepted", proxy_port)):
                        before = cpu_seconds(turnout.pid)
                        count = asyncio.run(
                            measure(port, via, requests[name], args.clients, args.seconds, ca)
                        )
                        round_cpu[name] = (cpu_seconds(turnout.pid) - before) / count * 1000
                        per[name].append(round_cpu[name])
                    ratios.append(round_cpu["intercepted"] / round_cpu["local"])
                kind = "SSE 20 chunks" if stream else "JSON"
                print(
                    f"{kind:14} CPU ms/request: local {statistics.median(per['local']):.3f}, "
                    f"intercepted {statistics.median(per['intercepted']):.3f}, ratio "
                    f"{statistics.median(ratios):.2f}x (rounds {', '.join(f'{r:.2f}' for r in ratios)})",
                    flush=True,
                )
        finally:
            turnout.terminate()
            turnout.wait(30)
            upstream.terminate()
            upstream.wait(10)


if __name__ == "__main__":
    main()

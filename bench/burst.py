"""A thousand clients connecting at once: turnout with asyncio's listen backlog (100)
against turnout's own (``turnout_backlog``, 4096), side by side in one run.

Each client opens a connection and streams one 20-chunk SSE answer through turnout from
the fake upstream. Printed per backlog: connect time p50/p99/max, time to first byte
p99, how many completed, and the kernel's listen-overflow count (``TcpExtListenOverflows``
in ``/proc/net/netstat``) during the burst. A script, not a test.

    uv run python bench/burst.py [--clients 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import spawn, turnout_command

BODY = b'{"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'


def overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split(), strict=True))["ListenOverflows"])
    return 0


async def client(port: int, start: asyncio.Event) -> tuple[float, float] | None:
    await start.wait()
    began = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
        connected = time.perf_counter() - began
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(BODY)).encode() + b"\r\nconnection: close\r\n\r\n" + BODY
        )
        await writer.drain()
        first = await asyncio.wait_for(reader.read(1), 60)
        ttfb = time.perf_counter() - began
        rest = await asyncio.wait_for(reader.read(), 60)
        writer.close()
        return (connected, ttfb) if first and b"[DONE]" in rest else None
    except (OSError, TimeoutError):
        return None


async def burst(port: int, clients: int) -> tuple[list[tuple[float, float]], int]:
    start = asyncio.Event()
    tasks = [asyncio.create_task(client(port, start)) for _ in range(clients)]
    await asyncio.sleep(0.2)
    before = overflows()
    start.set()
    results = await asyncio.gather(*tasks)
    return [r for r in results if r is not None], overflows() - before


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else (values or [0.0])[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        upstream, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", "--events"])
        config = tmp / "bench.yaml"
        config.write_text(
            f'backends: {{up: {{kind: openai, base_url: "http://127.0.0.1:{up_port}/v1", key: sk-bench}}}}\n'
            "autodetect: {environment: false, local: false}\nanalytics: {enabled: false}\n"
        )
        targets = {}
        for backlog in (100, 4096):
            env = {"XDG_CONFIG_HOME": str(tmp / "xdg"), "XDG_DATA_HOME": str(tmp / f"data{backlog}")}
            targets[backlog] = spawn(turnout_command(config, "--backlog", str(backlog)), env)
        try:
            print(
                f"{args.clients} clients at once, one SSE answer each; "
                f"median of {args.rounds} interleaved rounds"
            )
            print(
                f"{'backlog':>8} {'done':>6} {'connect p50':>12} {'p99':>8} {'max':>8} "
                f"{'TTFB p99':>9} {'overflows':>10}"
            )
            rows: dict[int, list[tuple[int, float, float, float, float, int]]] = {b: [] for b in targets}
            for _ in range(args.rounds):
                for backlog, (_, port) in targets.items():
                    done, over = asyncio.run(burst(port, args.clients))
                    connects, ttfbs = [c for c, _ in done], [t for _, t in done]
                    rows[backlog].append(
                        (
                            len(done),
                            pct(connects, 50),
                            pct(connects, 99),
                            max(connects, default=0.0),
                            pct(ttfbs, 99),
                            over,
                        )
                    )
                    time.sleep(1)
            for backlog, runs in rows.items():
                med = [statistics.median(col) for col in zip(*runs, strict=True)]
                print(
                    f"{backlog:>8} {med[0]:>6.0f} {med[1] * 1000:>10.1f}ms {med[2] * 1000:>6.0f}ms "
                    f"{med[3] * 1000:>6.0f}ms {med[4] * 1000:>7.0f}ms {med[5]:>10.0f}"
                )
        finally:
            for proc, _ in (*targets.values(), (upstream, 0)):
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    main()

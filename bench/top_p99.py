"""Benchmark: proxied p99 latency with `turnout top` watching vs not, one run.

    uv run python bench/top_p99.py [--rows 75000] [--seconds 5] [--rounds 3] [--root DIR]

The analytics store starts with ``--rows`` recorded requests (the issue measured 73,100).
Load: 8 keep-alive clients sending 1 KB JSON chat requests through turnout to the fake
upstream. Each round measures a quiet phase, then a watched one in which a poller does
what `turnout top` does every second (GET /analytics?since=3600 and /accounts), and
another that polls the whole report (GET /analytics, all time) as a dashboard might.
Target: watched p99 within 1.2x of quiet. ``--root`` runs the turnout of another checkout
(a git worktree of an older commit) for a before/after figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import ROOT, chat_request, client, read_response, spawn, turnout_command

from turnout.core.store import Record, Store


def fill(path: Path, rows: int) -> None:
    """``rows`` requests over the last two days, a third of them in the last hour, written
    oldest first as the proxy writes them."""
    store = Store(path)
    now = time.time()
    ages = sorted(
        ((i * 7 % 3600) if i % 3 == 0 else 3600 + i * 13 % 169_200 for i in range(rows)), reverse=True
    )
    for i, age in enumerate(ages):
        store.record(
            Record(
                now - age,
                "openai",
                f"m{i % 40}",
                "r",
                f"b{i % 6}",
                f"k{i % 4}",
                f"m{i % 40}",
                i % 2,
                200 if i % 50 else 502,
                1 + (i % 30 == 0),
                50.0 + i % 900,
                20.0 + i % 300,
                900 + i % 5000,
                300 + i % 800,
                i % 100,
                0,
                0,
                0.001 * (i % 7),
                None,
                0,
            )
        )
        if i % 5000 == 4999:
            store.flush()
    store.close()


async def poll(port: int, paths: list[str], stop: asyncio.Event, timings: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not stop.is_set():
            for path in paths:
                start = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".encode())
                await read_response(reader)
                timings.append(time.perf_counter() - start)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        writer.close()


async def phase(
    port: int, seconds: float, watch: list[str] | None
) -> tuple[float, float, float, list[float]]:
    """(p50 ms, p99 ms, requests/s, the poller's response times) of one phase."""
    request = chat_request(1024, False)
    latencies: list[float] = []
    errors: list[str] = []
    stop = asyncio.Event()
    polls: list[float] = []
    poller = asyncio.ensure_future(poll(port, watch, stop, polls)) if watch else None
    start = time.perf_counter()
    await asyncio.gather(*(client(port, request, start + seconds, latencies, errors) for _ in range(8)))
    elapsed = time.perf_counter() - start
    stop.set()
    if poller is not None:
        await poller
    if errors:
        print(f"    ! {len(errors)} errors: {sorted(set(errors))}")
    ordered = sorted(latencies)
    p99 = ordered[min(int(0.99 * len(ordered)), len(ordered) - 1)] * 1000
    return statistics.median(ordered) * 1000, p99, len(latencies) / elapsed, polls


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=75_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose turnout runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        db = tmp / "a.sqlite3"
        started = time.perf_counter()
        fill(db, args.rows)
        print(f"store filled with {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        upstream, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", "--events"])
        config = tmp / "c.yaml"
        config.write_text(
            f'backends: {{up: {{kind: openai, base_url: "http://127.0.0.1:{up_port}/v1", key: sk-bench}}}}\n'
            f"analytics: {{path: {db}}}\nautodetect: {{environment: false, local: false}}\n"
        )
        env = {"XDG_CONFIG_HOME": str(tmp / "xdg"), "XDG_DATA_HOME": str(tmp / "data"), "COLUMNS": "500"}
        turnout, port = spawn(
            turnout_command(config),
            env,
            cwd=args.root,
        )
        try:
            asyncio.run(phase(port, 1.0, None))  # warm-up
            phases = {
                "quiet": None,
                "top (/analytics?since=3600 + /accounts, 1/s)": ["/analytics?since=3600", "/accounts"],
                "full report (/analytics, 1/s)": ["/analytics"],
            }
            results: dict[str, list[tuple[float, float, float, list[float]]]] = {name: [] for name in phases}
            for _ in range(args.rounds):
                for name, watch in phases.items():
                    results[name].append(asyncio.run(phase(port, args.seconds, watch)))
            print(f"{'phase':48} {'p50 ms':>7} {'p99 ms':>7} {'req/s':>7} {'p99 / quiet':>12} {'poll ms':>8}")
            quiet = results["quiet"]
            for name, measured in results.items():
                ratios = [m[1] / q[1] for m, q in zip(measured, quiet, strict=True)]
                polls = [t * 1000 for m in measured for t in m[3]]
                print(
                    f"{name:48} {statistics.median(m[0] for m in measured):7.2f} "
                    f"{statistics.median(m[1] for m in measured):7.2f} "
                    f"{statistics.median(m[2] for m in measured):7.0f} "
                    f"{statistics.median(ratios):11.2f}x "
                    f"{statistics.median(polls) if polls else 0:8.1f}"
                    f"   rounds: {', '.join(f'{r:.2f}' for r in ratios)}"
                )
        finally:
            for proc in (turnout, upstream):
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    main()

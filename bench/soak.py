"""Soak: sustained load and a thousand streams at once, through `turnout proxy`.

    uv run python bench/soak.py [--requests 70000] [--streams 1000] [--clients 32]

The long variants of the robustness suite (too long for CI). Phase 1 sends
``--requests`` requests from ``--clients`` keep-alive connections (a quarter of them SSE,
a tenth translated Anthropic -> OpenAI), sampling the proxy's RSS as it goes; every
request must get a 200 and the analytics store must hold exactly one row per request.
Phase 2 opens ``--streams`` concurrent SSE streams (each 200 events) and reads them all
to the end. Phase 3 sends SIGTERM under load: every answered request must have its row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from memory import rss_mb
from run import http_request, read_response, spawn, spawn_turnout


def requests_mix() -> list[bytes]:
    chat = {"model": "up:gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 900}]}
    translated = {
        "model": "up:gpt-4o-mini",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
    }
    auth = "authorization: Bearer soak\r\n"
    mix = []
    for i in range(20):
        stream = i % 4 == 0
        if i % 10 == 0:
            body = json.dumps({**translated, "stream": stream}).encode()
            mix.append(http_request("/v1/messages", body, "anthropic-version: 2023-06-01\r\n"))
        else:
            mix.append(
                http_request("/v1/chat/completions", json.dumps({**chat, "stream": stream}).encode(), auth)
            )
    return mix


async def sustained(port: int, pid: int, total: int, clients: int) -> dict[str, float]:
    mix = requests_mix()
    done = bad = 0
    rss: list[float] = []
    latencies: list[float] = []
    next_sample = 0

    async def client(k: int) -> None:
        nonlocal done, bad, next_sample
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while done + bad < total:
            started = time.perf_counter()
            writer.write(mix[i % len(mix)])
            status = await read_response(reader)
            latencies.append(time.perf_counter() - started)
            if status == 200:
                done += 1
            else:
                bad += 1
            i += clients
            if done >= next_sample:
                next_sample += max(total // 20, 1)
                rss.append(rss_mb(pid))
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "ok": done,
        "bad": bad,
        "rps": (done + bad) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(0.99 * len(latencies))] * 1000,
        "rss_first": rss[0],
        "rss_mid": rss[len(rss) // 2],
        "rss_last": rss_mb(pid),
        "rss_max": max(rss),
    }


async def many_streams(port: int, count: int) -> tuple[int, float]:
    body = json.dumps({"model": "up:gpt-4o-chunks-200", "stream": True, "messages": []}).encode()
    request = http_request("/v1/chat/completions", body, "authorization: Bearer soak\r\n")

    async def one() -> bool:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(request)
            return await read_response(reader) == 200
        finally:
            writer.close()

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    return sum(r is True for r in results), time.perf_counter() - started


async def term_under_load(port: int, proc: subprocess.Popen[str], clients: int) -> int:
    """SIGTERM after two seconds of load; how many requests got an answer."""
    mix = requests_mix()
    answered = 0

    async def client(k: int) -> None:
        nonlocal answered
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            for i in range(k, 10**9, clients):
                writer.write(mix[i % len(mix)])
                await read_response(reader)
                answered += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return

    load = asyncio.gather(*(client(k) for k in range(clients)))
    await asyncio.sleep(2)
    proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(load, 60)
    return answered


def rows(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=70_000)
    parser.add_argument("--streams", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    db = tmp / "a.sqlite3"
    upstream, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", "--events"])
    config = tmp / "soak.yaml"
    config.write_text(
        f'backends: {{up: {{kind: openai, base_url: "http://127.0.0.1:{up_port}/v1", key: sk-soak}}}}\n'
        f"analytics: {{path: {db}}}\nlimits: {{max_clients: 4000}}\n"
        "autodetect: {environment: false, local: false}\n"
    )
    turnout, port = spawn_turnout(config, tmp)
    try:
        idle = rss_mb(turnout.pid)
        s = asyncio.run(sustained(port, turnout.pid, args.requests, args.clients))
        time.sleep(1)
        print(
            f"sustained: {s['ok']:,.0f} ok, {s['bad']:,.0f} not, {s['rps']:,.0f} req/s, "
            f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms\n"
            f"  RSS idle {idle:.0f} MB, after 5% {s['rss_first']:.0f} MB, half-way {s['rss_mid']:.0f} MB, "
            f"end {s['rss_last']:.0f} MB (max {s['rss_max']:.0f})\n"
            f"  analytics rows {rows(db):,} for {s['ok'] + s['bad']:,.0f} requests"
        )
        ok, took = asyncio.run(many_streams(port, args.streams))
        print(
            f"{args.streams:,} concurrent streams: {ok:,} complete in {took:.1f} s; "
            f"RSS {rss_mb(turnout.pid):.0f} MB"
        )
        time.sleep(1)
        before = rows(db)
        answered = asyncio.run(term_under_load(port, turnout, args.clients))
        turnout.wait(30)
        added = rows(db) - before
        print(
            f"SIGTERM under load: exit {turnout.returncode}; {answered:,} requests answered, "
            f"{added:,} rows added\n  (rows beyond the answered ones, at most {args.clients}: "
            "requests in flight at shutdown, recorded as aborted)"
        )
    finally:
        for p in (turnout, upstream):
            if p.poll() is None:
                p.terminate()
                p.wait(10)


if __name__ == "__main__":
    main()

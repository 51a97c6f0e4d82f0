"""Benchmark: direct vs a bare lean mitmproxy master vs turnout's full chain, one run.

    uv run python bench/run.py [--seconds 2] [--rounds 3] [--quick]

Every target runs in its own process against the same fake upstream process; the load
generator is an asyncio HTTP/1.1 keep-alive client in this process. Scenarios: 1 and 16
concurrent clients x non-streaming and 20-chunk SSE x 1 KB and 200 KB request bodies.
Prints requests/s and p50 latency per target, and turnout's ratios against the bare
master, all measured in this one run (machines here are noisy: compare ratios). Each
scenario runs in interleaved rounds; figures are medians, ratios are taken per round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    rps: float
    p50_ms: float


def body_of(size: int, stream: bool) -> bytes:
    base = {"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": ""}]}
    pad = size - len(json.dumps(base))
    base["messages"][0]["content"] = "x" * max(pad, 0)
    return json.dumps(base).encode()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc): steadier than wall-clock rates."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(b":") for ln in lines[1:] if ln)}
    if b"content-length" in headers:
        await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def client(port: int, request: bytes, deadline: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            status = await read_response(reader)
            if status != 200:
                raise RuntimeError(f"status {status}")
            latencies.append(time.perf_counter() - start)
    finally:
        writer.close()


async def measure(port: int, clients: int, size: int, stream: bool, seconds: float) -> Result:
    body = body_of(size, stream)
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer bench\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )
    warm: list[float] = []
    await asyncio.gather(*(client(port, request, time.perf_counter() + 0.3, warm) for _ in range(clients)))
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(client(port, request, start + seconds, latencies) for _ in range(clients)))
    elapsed = time.perf_counter() - start
    return Result(len(latencies) / elapsed, statistics.median(latencies) * 1000)


def spawn(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], int]:
    """Start a target; its first line of output is its port, or turnout's 'listening on' line."""
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    line = proc.stdout.readline() if proc.stdout else ""
    match = re.search(r"(\d+)\s*$", line.strip()) or re.search(r"127\.0\.0\.1:(\d+)", line)
    if match is None:
        proc.kill()
        raise RuntimeError(f"{args[1:3]} did not start: {line!r}")
    return proc, int(match.group(1))


def spawn_turnout(config: Path, tmp: Path) -> tuple[subprocess.Popen[str], int]:
    """`turnout proxy` on a free port with ``config``, its home under ``tmp``."""
    env = {"XDG_CONFIG_HOME": str(tmp / "xdg"), "XDG_DATA_HOME": str(tmp / "data"), "COLUMNS": "500"}
    return spawn(
        [sys.executable, "-m", "turnout", "proxy", "-p", "0", "-c", str(config), "--no-discover"], env
    )


def start_targets(tmp: Path) -> tuple[list[subprocess.Popen[str]], dict[str, int]]:
    upstream, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", "--events"])
    up_url = f"http://127.0.0.1:{up_port}"
    bare, bare_port = spawn([sys.executable, "bench/bare_master.py", up_url])
    config = tmp / "bench.yaml"
    config.write_text(
        f'backends: {{up: {{kind: openai, base_url: "{up_url}/v1", key: sk-bench}}}}\n'
        "autodetect: {environment: false, local: false}\n"
    )
    turnout, turnout_port = spawn_turnout(config, tmp)
    return [upstream, bare, turnout], {"direct": up_port, "bare master": bare_port, "turnout": turnout_port}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per round and target")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per scenario (medians)")
    parser.add_argument("--quick", action="store_true", help="only 1 KB bodies")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        procs, ports = start_targets(Path(tmp))
        try:
            run_all(ports, dict(zip(ports, (p.pid for p in procs), strict=True)), args)
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)


def run_round(port: int, pid: int, scenario: tuple[int, int, bool], seconds: float) -> tuple[Result, float]:
    """One measurement and the target's CPU ms per request during it."""
    clients, size, stream = scenario
    before = cpu_seconds(pid)
    result = asyncio.run(measure(port, clients, size, stream, seconds))
    return result, (cpu_seconds(pid) - before) / (result.rps * (seconds + 0.3)) * 1000


def run_all(ports: dict[str, int], pids: dict[str, int], args: argparse.Namespace) -> None:
    """Each scenario is measured in ``rounds`` rounds, every target once per round, one
    after the other; a ratio is taken within each round (same minute, same noise) and the
    median of those is reported, with the median rates, p50s and CPU times."""
    sizes = (1024,) if args.quick else (1024, 200 * 1024)
    median = statistics.median
    print(f"{'scenario':34} {'target':12} {'req/s':>9} {'p50 ms':>8} {'CPU ms/req':>11}")
    for size in sizes:
        for stream in (False, True):
            for clients in (1, 16):
                name = f"{'SSE 20 chunks' if stream else 'JSON'}, {size // 1024} KB, {clients} client(s)"
                rounds: dict[str, list[tuple[Result, float]]] = {target: [] for target in ports}
                for _ in range(args.rounds):
                    for target, port in ports.items():
                        rounds[target].append(
                            run_round(port, pids[target], (clients, size, stream), args.seconds)
                        )
                for target, measured in rounds.items():
                    rps, p50 = median(r.rps for r, _ in measured), median(r.p50_ms for r, _ in measured)
                    print(
                        f"{name:34} {target:12} {rps:9.0f} {p50:8.2f} {median(c for _, c in measured):11.3f}"
                    )
                pairs = list(zip(rounds["turnout"], rounds["bare master"], strict=True))
                ratio = median(t.rps / b.rps for (t, _), (b, _) in pairs)
                p50_delta = median(t.p50_ms - b.p50_ms for (t, _), (b, _) in pairs)
                cpu_ratio = median(bc / tc for (_, tc), (_, bc) in pairs)
                spread = ", ".join(f"{t.rps / b.rps:.2f}" for (t, _), (b, _) in pairs)
                print(
                    f"{'':34} {'turnout/bare':12} {ratio:8.2f}x {p50_delta:+7.2f}ms {cpu_ratio:10.2f}x"
                    f"   rounds: {spread}\n"
                )


if __name__ == "__main__":
    main()

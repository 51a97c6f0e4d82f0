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
    errors: int = 0  # non-200 answers and broken connections: a target with any is invalid


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


async def client(
    port: int, request: bytes, deadline: float, latencies: list[float], errors: list[str]
) -> None:
    """One keep-alive connection sending ``request`` until ``deadline``; a non-200 answer or
    a broken connection is counted in ``errors`` (then a new connection is opened)."""
    while time.perf_counter() < deadline:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                writer.write(request)
                status = await read_response(reader)
                if status != 200:
                    errors.append(f"HTTP {status}")
                    continue
                latencies.append(time.perf_counter() - start)
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            errors.append(type(e).__name__)
        finally:
            writer.close()


def http_request(path: str, body: bytes, headers: str = "") -> bytes:
    """One keep-alive HTTP/1.1 POST, sent as it is by every client of a measurement."""
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n{headers}"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def chat_request(size: int, stream: bool) -> bytes:
    return http_request("/v1/chat/completions", body_of(size, stream), "authorization: Bearer bench\r\n")


async def measure(port: int, clients: int, request: bytes, seconds: float) -> Result:
    warm: list[float] = []
    errors: list[str] = []
    await asyncio.gather(
        *(client(port, request, time.perf_counter() + 0.3, warm, errors) for _ in range(clients))
    )
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(client(port, request, start + seconds, latencies, errors) for _ in range(clients)))
    elapsed = time.perf_counter() - start
    if errors:
        print(f"    ! {len(errors)} errors on :{port}: {sorted(set(errors))}", flush=True)
    return Result(len(latencies) / elapsed, statistics.median(latencies or [0.0]) * 1000, len(errors))


@dataclass(frozen=True)
class Target:
    """What one side of a comparison measures: a process (port, pid) and a request."""

    port: int
    pid: int
    request: bytes


Rounds = dict[str, list[tuple[Result, float]]]  # per target: (result, CPU ms/request) per round


def interleaved(targets: dict[str, Target], clients: int, seconds: float, rounds: int) -> Rounds:
    """Every target once per round, one after the other, ``rounds`` times: a ratio taken
    within a round compares the same minute's noise."""
    out: Rounds = {name: [] for name in targets}
    for _ in range(rounds):
        for name, target in targets.items():
            before = cpu_seconds(target.pid)
            result = asyncio.run(measure(target.port, clients, target.request, seconds))
            requests = result.rps * (seconds + 0.3)  # the warm-up counts in CPU time too
            out[name].append((result, (cpu_seconds(target.pid) - before) / requests * 1000))
    return out


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b`` over interleaved rounds: medians of the per-round ratios."""

    rps: float  # a's requests/s over b's
    p50_delta_ms: float  # a's p50 minus b's
    cpu: float  # b's CPU per request over a's (above 1: a is cheaper)
    spread: str  # every round's rps ratio

    @classmethod
    def of(cls, rounds: Rounds, a: str, b: str) -> Comparison:
        pairs = list(zip(rounds[a], rounds[b], strict=True))
        median = statistics.median
        return cls(
            median(ra.rps / rb.rps for (ra, _), (rb, _) in pairs),
            median(ra.p50_ms - rb.p50_ms for (ra, _), (rb, _) in pairs),
            median(cb / ca for (_, ca), (_, cb) in pairs),
            ", ".join(f"{ra.rps / rb.rps:.2f}" for (ra, _), (rb, _) in pairs),
        )


def medians(measured: list[tuple[Result, float]]) -> tuple[float, float, float]:
    """Median requests/s, p50 ms and CPU ms/request of one target's rounds."""
    median = statistics.median
    return (
        median(r.rps for r, _ in measured),
        median(r.p50_ms for r, _ in measured),
        median(c for _, c in measured),
    )


def spawn(
    args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT
) -> tuple[subprocess.Popen[str], int]:
    """Start a target; its first line of output is its port, or turnout's 'listening on' line."""
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
    line = proc.stdout.readline() if proc.stdout else ""
    match = re.search(r"(\d+)\s*$", line.strip()) or re.search(r"127\.0\.0\.1:(\d+)", line)
    if match is None:
        proc.kill()
        raise RuntimeError(f"{args[1:3]} did not start: {line!r}")
    return proc, int(match.group(1))


def turnout_command(config: Path, *extra: str) -> list[str]:
    """`turnout proxy` on a free port with ``config`` and one worker, so that it compares
    with one bare master and its pid's CPU time is all of it."""
    command = [sys.executable, "-m", "turnout", "proxy", "-p", "0", "-c", str(config), "--no-discover"]
    return [*command, "--workers", "1", *extra]


def spawn_turnout(config: Path, tmp: Path) -> tuple[subprocess.Popen[str], int]:
    """``turnout_command``, its home under ``tmp``."""
    env = {"XDG_CONFIG_HOME": str(tmp / "xdg"), "XDG_DATA_HOME": str(tmp / "data"), "COLUMNS": "500"}
    return spawn(turnout_command(config), env)


def start_targets(
    tmp: Path, upstream_args: tuple[str, ...] = ("--events",), *, as_shipped: bool = False
) -> tuple[list[subprocess.Popen[str]], dict[str, int]]:
    """The fake upstream (with ``upstream_args``), the bare master and turnout in front of it;
    ``as_shipped`` adds a bare master running mitmproxy unchanged ("mitmproxy as shipped")."""
    upstream, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", *upstream_args])
    up_url = f"http://127.0.0.1:{up_port}"
    bare, bare_port = spawn([sys.executable, "bench/bare_master.py", up_url])
    extra: dict[str, tuple[subprocess.Popen[str], int]] = {}
    if as_shipped:
        extra["mitmproxy as shipped"] = spawn(
            [sys.executable, "bench/bare_master.py", up_url, "--as-shipped"]
        )
    config = tmp / "bench.yaml"
    config.write_text(
        f'backends: {{up: {{kind: openai, base_url: "{up_url}/v1", key: sk-bench}}}}\n'
        "autodetect: {environment: false, local: false}\n"
    )
    turnout, turnout_port = spawn_turnout(config, tmp)
    ports = {"direct": up_port, "bare master": bare_port, "turnout": turnout_port}
    ports.update({name: port for name, (_, port) in extra.items()})
    return [upstream, bare, turnout, *(proc for proc, _ in extra.values())], ports


def rounds_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every benchmark here takes: time per round and number of rounds."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per round and target")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per scenario (medians)")
    return parser


def main() -> None:
    parser = rounds_parser(__doc__)
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


def run_all(ports: dict[str, int], pids: dict[str, int], args: argparse.Namespace) -> None:
    sizes = (1024,) if args.quick else (1024, 200 * 1024)
    print(f"{'scenario':34} {'target':12} {'req/s':>9} {'p50 ms':>8} {'CPU ms/req':>11}")
    for size in sizes:
        for stream in (False, True):
            for clients in (1, 16):
                name = f"{'SSE 20 chunks' if stream else 'JSON'}, {size // 1024} KB, {clients} client(s)"
                request = chat_request(size, stream)
                targets = {t: Target(port, pids[t], request) for t, port in ports.items()}
                rounds = interleaved(targets, clients, args.seconds, args.rounds)
                for target, measured in rounds.items():
                    rps, p50, cpu = medians(measured)
                    errors = sum(r.errors for r, _ in measured)
                    invalid = f"  INVALID: {errors} errors" if errors else ""
                    print(f"{name:34} {target:12} {rps:9.0f} {p50:8.2f} {cpu:11.3f}{invalid}")
                c = Comparison.of(rounds, "turnout", "bare master")
                print(
                    f"{'':34} {'turnout/bare':12} {c.rps:8.2f}x {c.p50_delta_ms:+7.2f}ms {c.cpu:10.2f}x"
                    f"   rounds: {c.spread}\n"
                )


if __name__ == "__main__":
    main()

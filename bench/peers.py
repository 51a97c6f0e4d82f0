"""Benchmark: turnout (1 worker and auto) against other local LLM routers, one run.

    uv run python bench/peers.py [--seconds 5] [--rounds 5] [--only json,sse,…] [--streams 1000]
                                 [--soak 100000]

Peers, each installed on first use into its own folder under ``bench/.peers/`` (never a
dependency of turnout): claude-code-router 1.0.73 and the Portkey gateway 1.15.2 from
npm, LiteLLM 1.108.7 from PyPI in a venv of its own. Every target runs as local
processes against the same fake upstream process (``tests.fakes.upstream --events``),
loaded by ``wrk`` (Debian's package) in interleaved rounds: each round measures every
target once, so ratios compare the same minute's noise. Printed per scenario and target:
requests/s, p50 and p99 latency, CPU per request (all the target's processes), resident
size (all its processes) and every non-2xx answer or socket error; a target with any
error in a scenario is marked INVALID there.

Scenarios, the same request to every target that supports it:
- ``anthropic``: Anthropic Messages to an Anthropic upstream (Claude Code's traffic; the
  pass-through every peer has), JSON and SSE (20 chunks), 1 and 16 connections;
- ``openai``: OpenAI Chat to an OpenAI upstream (claude-code-router has no such route);
- ``translated``: Anthropic Messages to an OpenAI upstream, SSE (Portkey cannot);
- ``streams``: N concurrent SSE streams of ~2 s each: how many complete, TTFB p99, RSS;
- ``soak``: turnout (auto) resident size after N requests, sampled as it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from turnout.settings import free_port

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "bench" / ".peers"
CCR = "@musistudio/claude-code-router@1.0.73"
PORTKEY = "@portkey-ai/gateway@1.15.2"
LITELLM = "litellm[proxy]==1.108.7"
KEY = "sk-bench"


# -- installing and starting the targets ---------------------------------------------------


def install() -> None:
    """Each peer into its own folder, once."""
    for name, package in (("ccr", CCR), ("portkey", PORTKEY)):
        folder = PEERS / name
        if not (folder / "node_modules").is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "package.json").write_text('{"private": true}\n')
            print(f"installing {package} into {folder} …", flush=True)
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", package],
                cwd=folder,
                check=True,
            )
    venv = PEERS / "litellm"
    if not (venv / "bin" / "litellm").exists():
        uv = shutil.which("uv") or _uv_from_pip()
        print(f"installing {LITELLM} into {venv} …", flush=True)
        env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True, env=env)
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), LITELLM],
            check=True,
            env=env,
        )
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get install wrk`")


def _uv_from_pip() -> str:
    import uv  # the README's `python3 -m pip install uv`

    return uv.find_uv_bin()


def wait_listening(port: int, process: subprocess.Popen[bytes], within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"a target exited at start (code {process.returncode})")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on :{port} after {within:.0f} s")


@dataclass
class Target:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    requests: dict[str, tuple[str, dict[str, str], dict[str, object]]]  # scenario → path, headers, body
    streams: str = "anthropic-sse"  # the scenario of the concurrent-streams test
    crashes: int = 0  # times it was found dead and started again
    again: Callable[[], Target] | None = None  # how to start it again

    def alive(self) -> None:
        """Started again if it died (counted, and said): a crash must not hide the others."""
        if self.process.poll() is None or self.again is None:
            return
        self.crashes += 1
        print(f"    ! {self.name} had exited (code {self.process.returncode}): starting it again", flush=True)
        fresh = self.again()
        self.process, self.port = fresh.process, fresh.port

    def tree(self) -> list[int]:
        """This target's processes: the one started and every descendant."""
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            todo += [int(c) for c in children]
        return found

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def rss_mb(self) -> float:
        total = 0
        for pid in self.tree():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                for pid in self.tree():
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)


def anthropic_body(model: str, stream: bool) -> dict[str, object]:
    return {
        "model": model,
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
    }


def openai_body(model: str, stream: bool) -> dict[str, object]:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}


def requests_for(
    anthropic_model: str,
    openai_model: str,
    translated_model: str | None,
    *,
    headers: dict[str, str],
    openai: bool = True,
    anthropic_headers: dict[str, str] | None = None,
    openai_headers: dict[str, str] | None = None,
) -> dict[str, tuple[str, dict[str, str], dict[str, object]]]:
    out: dict[str, tuple[str, dict[str, str], dict[str, object]]] = {}
    ah = {**headers, **(anthropic_headers or {})}
    oh = {**headers, **(openai_headers or {})}
    for stream in (False, True):
        kind = "sse" if stream else "json"
        out[f"anthropic-{kind}"] = ("/v1/messages", ah, anthropic_body(anthropic_model, stream))
        if openai:
            out[f"openai-{kind}"] = ("/v1/chat/completions", oh, openai_body(openai_model, stream))
    if translated_model is not None:
        out["translated-sse"] = ("/v1/messages", ah, anthropic_body(translated_model, True))
    return out


def start_turnout(up: str, tmp: Path, workers: str) -> Target:
    config = tmp / f"turnout-{workers}.yaml"
    config.write_text(
        "backends:\n"
        f"  up-anthropic: {{kind: anthropic, base_url: '{up}', key: {KEY}, models: [claude-bench]}}\n"
        f"  up-openai: {{kind: openai, base_url: '{up}/v1', key: {KEY}, models: [gpt-4o-mini, gpt-bench]}}\n"
        "routes:\n  - {match: 'claude-to-openai', backend: up-openai, model: gpt-bench}\n"
        "autodetect: {environment: false, local: false}\n"
        f"analytics: {{path: '{tmp / ('analytics-' + workers + '.sqlite3')}'}}\n"
    )
    port = free_port("127.0.0.1")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "xdg"), "XDG_DATA_HOME": str(tmp / f"data-{workers}")}
    env.pop("TURNOUT_API_KEY", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "turnout",
            "proxy",
            "-p",
            str(port),
            "-c",
            str(config),
            "--no-discover",
            "--workers",
            workers,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        env=env,
    )
    wait_listening(port, process)
    headers = {"x-api-key": "local", "anthropic-version": "2023-06-01"}
    return Target(
        f"turnout ({workers})",
        port,
        process,
        requests_for("claude-bench", "gpt-4o-mini", "claude-to-openai", headers=headers),
    )


def start_ccr(up: str, tmp: Path) -> Target:
    home = tmp / "ccr-home"
    (home / ".claude-code-router").mkdir(parents=True, exist_ok=True)
    port = free_port("127.0.0.1")
    config = {
        "PORT": port,
        "LOG": False,
        "NON_INTERACTIVE_MODE": True,
        "Providers": [
            {
                "name": "upopenai",
                "api_base_url": f"{up}/v1/chat/completions",
                "api_key": KEY,
                "models": ["gpt-bench"],
            },
            {
                "name": "upanthropic",
                "api_base_url": f"{up}/v1/messages",
                "api_key": KEY,
                "models": ["claude-bench"],
                "transformer": {"use": ["Anthropic"]},
            },
        ],
        "Router": {"default": "upanthropic,claude-bench"},
    }
    (home / ".claude-code-router" / "config.json").write_text(json.dumps(config))
    cli = PEERS / "ccr" / "node_modules" / "@musistudio" / "claude-code-router" / "dist" / "cli.js"
    process = subprocess.Popen(
        ["node", str(cli), "start"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(home)},
    )
    wait_listening(port, process)
    headers = {"x-api-key": "local", "anthropic-version": "2023-06-01"}
    return Target(
        "claude-code-router",
        port,
        process,
        requests_for("upanthropic,claude-bench", "", "upopenai,gpt-bench", headers=headers, openai=False),
    )


def start_portkey(up: str, tmp: Path) -> Target:
    port = free_port("127.0.0.1")
    server = PEERS / "portkey" / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    process = subprocess.Popen(
        ["node", str(server), f"--port={port}", "--headless"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NODE_ENV": "production"},
    )
    wait_listening(port, process)
    return Target(
        "portkey",
        port,
        process,
        streams="openai-sse",  # 1.15.2 answers Anthropic streams with a 500 (an undici TypeError)
        requests=requests_for(
            "claude-bench",
            "gpt-4o-mini",
            None,
            headers={},
            anthropic_headers={
                "x-portkey-provider": "anthropic",
                "x-portkey-custom-host": f"{up}/v1",
                "x-api-key": KEY,
                "anthropic-version": "2023-06-01",
            },
            openai_headers={
                "x-portkey-provider": "openai",
                "x-portkey-custom-host": f"{up}/v1",
                "authorization": f"Bearer {KEY}",
            },
        ),
    )


def start_litellm(up: str, tmp: Path) -> Target:
    config = tmp / "litellm.yaml"
    models = [
        ("gpt-4o-mini", "openai/gpt-4o-mini", f"{up}/v1"),
        ("gpt-bench", "openai/gpt-bench", f"{up}/v1"),
    ]
    models.append(("claude-bench", "anthropic/claude-bench", up))
    config.write_text(
        json.dumps(
            {
                "model_list": [
                    {"model_name": n, "litellm_params": {"model": m, "api_base": b, "api_key": KEY}}
                    for n, m, b in models
                ],
                "litellm_settings": {"telemetry": False, "drop_params": True},
            }
        )  # JSON is YAML
    )
    port = free_port("127.0.0.1")
    env = {
        **os.environ,
        "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
        "LITELLM_TELEMETRY": "False",
    }
    process = subprocess.Popen(
        [
            str(PEERS / "litellm" / "bin" / "litellm"),
            "--config",
            str(config),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    wait_listening(port, process, within=180)
    headers = {"authorization": "Bearer local", "anthropic-version": "2023-06-01"}
    return Target(
        "litellm", port, process, requests_for("claude-bench", "gpt-4o-mini", "gpt-bench", headers=headers)
    )


# -- measuring ------------------------------------------------------------------------------


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float  # CPU per request, all the target's processes


WRK_LINE = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)", re.M)
UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(
    target: Target, scenario: str, connections: int, seconds: float, tmp: Path, quiet: bool = False
) -> Run:
    target.alive()
    path, headers, body = target.requests[scenario]
    script = tmp / "wrk.lua"
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(json.dumps(body))}",
        'wrk.headers["content-type"] = "application/json"',
    ]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    threads = min(connections, 2)
    before = target.cpu_seconds()
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(int(seconds), 1)}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{target.port}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    out = done.stdout
    cpu = target.cpu_seconds() - before
    total = int(m.group(1)) if (m := re.search(r"(\d+) requests in", out)) else 0
    rps = float(m.group(1)) if (m := re.search(r"Requests/sec:\s+([\d.]+)", out)) else 0.0
    lat = {p: float(v) * UNIT[u] for p, v, u in WRK_LINE.findall(out)}
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    if target.process.poll() is not None:
        errors += 1
        print(f"    ! {target.name} exited during the run (code {target.process.returncode})", flush=True)
    if total == 0 and not quiet:
        errors += 1
        print(f"    ! wrk against {target.name}: {(done.stderr or out).strip()[:300]}", flush=True)
    return Run(rps, lat.get("50", 0.0), lat.get("99", 0.0), errors, cpu / max(total, 1) * 1000)


SCENARIOS = [
    ("anthropic-json", 1),
    ("anthropic-json", 16),
    ("anthropic-sse", 1),
    ("anthropic-sse", 16),
    ("openai-json", 1),
    ("openai-json", 16),
    ("openai-sse", 1),
    ("openai-sse", 16),
    ("translated-sse", 1),
    ("translated-sse", 16),
]


def table(targets: list[Target], args: argparse.Namespace, tmp: Path) -> None:
    only = set(args.only.split(",")) if args.only else None
    print(
        f"\n{'scenario':26} {'target':20} {'req/s':>8} {'spread':>13} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'CPU ms/req':>10} {'RSS MB':>7}"
    )
    for scenario, connections in SCENARIOS:
        if only and not any(scenario.startswith(o) for o in only):
            continue
        running = [t for t in targets if scenario in t.requests]
        runs: dict[str, list[Run]] = {t.name: [] for t in running}
        for t in running:  # warm-up, not counted: first requests, caches, JITs
            wrk(t, scenario, connections, 1, tmp, quiet=True)
        for _ in range(args.rounds):
            for t in running:
                runs[t.name].append(wrk(t, scenario, connections, args.seconds, tmp))
        label = f"{scenario}, {connections} conn"
        for t in running:
            rs = runs[t.name]
            med = statistics.median
            errors = sum(r.errors for r in rs)
            spread = f"{min(r.rps for r in rs):.0f}-{max(r.rps for r in rs):.0f}"
            flag = f"  INVALID: {errors} errors" if errors else ""
            print(
                f"{label:26} {t.name:20} {med(r.rps for r in rs):8.0f} {spread:>13} "
                f"{med(r.p50_ms for r in rs):7.2f} {med(r.p99_ms for r in rs):7.2f} "
                f"{med(r.cpu_ms for r in rs):10.3f} {t.rss_mb():7.0f}{flag}",
                flush=True,
            )
        auto = runs.get("turnout (auto)")
        for peer in ("claude-code-router", "litellm", "portkey"):
            if auto and peer in runs and not any(r.errors for r in runs[peer]):  # no ratio to errors
                ratios = [a.rps / p.rps for a, p in zip(auto, runs[peer], strict=True) if p.rps]
                if ratios:
                    print(
                        f"{'':26} turnout (auto)/{peer}: {statistics.median(ratios):.2f}x "
                        f"(rounds {', '.join(f'{r:.2f}' for r in ratios)})"
                    )
        print(flush=True)


async def one_stream(port: int, path: str, headers: dict[str, str], body: bytes) -> tuple[bool, float]:
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n{head}"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
        + body
    )
    ttfb = None
    data = b""
    while chunk := await reader.read(65536):  # to the stream's end (some keep the connection)
        if ttfb is None:
            ttfb = time.perf_counter() - start
        data += chunk
        if END.search(data[-4096:]):
            break
    writer.close()
    ok = data.startswith(b"HTTP/1.1 200") and END.search(data) is not None
    return ok, (ttfb or 0.0) * 1000


END = re.compile(rb"(event: message_stop\r?\ndata: [^\n]*\n|data: \[DONE\])")


def streams(targets: list[Target], count: int) -> None:
    """``count`` SSE streams at once, each ~2 s long (its upstream pauses between chunks)."""
    print(f"\n{count} concurrent SSE streams (pass-through, 20 chunks over ~2 s; Anthropic, or OpenAI*):")
    print(
        f"{'target':20} {'completed':>10} {'TTFB p50 ms':>12} {'TTFB p99 ms':>12} {'peak RSS MB':>12} "
        f"{'s':>6}"
    )
    for t in targets:
        path, headers, body = t.requests[t.streams]
        payload = json.dumps(body).encode()

        async def run(
            t: Target = t, path: str = path, headers: dict[str, str] = headers, payload: bytes = payload
        ) -> tuple[list[tuple[bool, float]], float]:
            peak = 0.0

            async def sample() -> None:
                nonlocal peak
                while True:
                    peak = max(peak, t.rss_mb())
                    await asyncio.sleep(0.25)

            sampler = asyncio.ensure_future(sample())
            results = await asyncio.gather(
                *(one_stream(t.port, path, headers, payload) for _ in range(count)), return_exceptions=True
            )
            sampler.cancel()
            return [r if isinstance(r, tuple) else (False, 0.0) for r in results], peak

        started = time.perf_counter()
        results, peak = asyncio.run(run())
        took = time.perf_counter() - started
        ttfbs = sorted(ms for ok, ms in results if ok) or [0.0]
        done = sum(ok for ok, _ in results)
        name = t.name + ("*" if t.streams != "anthropic-sse" else "")
        print(
            f"{name:20} {done:>6}/{count:<3} {statistics.median(ttfbs):12.1f} "
            f"{ttfbs[int(len(ttfbs) * 0.99) - 1]:12.1f} {peak:12.0f} {took:6.1f}",
            flush=True,
        )


def soak(target: Target, total: int, tmp: Path) -> None:
    """Resident size of every process of ``target`` as ``total`` requests go through."""
    print(f"\n{target.name}: resident size (all processes) over {total:,} requests, 16 connections")
    done, step = 0, max(total // 10, 1)
    while done < total:
        run = wrk(target, "anthropic-json", 16, 5, tmp)
        done += int(run.rps * 5)
        print(
            f"  after ~{done:>7,} requests: {target.rss_mb():6.0f} MB "
            f"({run.rps:.0f} req/s, {run.errors} errors)",
            flush=True,
        )
        if done >= step * 10:
            break


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk's time per round and target")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per scenario (medians)")
    parser.add_argument(
        "--only", default="", help="scenarios starting with these (anthropic,openai,translated)"
    )
    parser.add_argument("--peers", default="ccr,portkey,litellm", help="which peers to run")
    parser.add_argument("--streams", type=int, default=1000, help="concurrent SSE streams (0: skip)")
    parser.add_argument("--soak", type=int, default=0, help="requests for turnout's RSS soak (0: skip)")
    args = parser.parse_args()
    install()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        ups = []
        for extra in ((), ("--pause", "0.1")):
            up = subprocess.Popen(
                [sys.executable, "-m", "tests.fakes.upstream", "--events", *extra],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            ups.append((up, f"http://127.0.0.1:{int(up.stdout.readline())}"))  # type: ignore[union-attr]
        url = ups[0][1]
        starters: dict[str, Callable[[str, Path], Target]] = {
            "ccr": start_ccr,
            "portkey": start_portkey,
            "litellm": start_litellm,
        }
        targets: list[Target] = []

        def start(name: str, up: str) -> Target:
            if name.startswith("turnout"):
                workers = name.removeprefix("turnout-")
                target = start_turnout(up, tmp, workers)
            else:
                target = starters[name](up, tmp)
            target.again = lambda: start(name, up)
            return target

        names = ["turnout-1", "turnout-auto", *(n for n in args.peers.split(",") if n)]
        try:
            targets = [start(name, url) for name in names]
            print(
                f"cores: {len(os.sched_getaffinity(0))}; upstream {url}; "
                f"{args.rounds} rounds x {args.seconds:g} s per scenario and target"
            )
            table(targets, args, tmp)
            for t in targets:
                if t.crashes:
                    print(f"{t.name} crashed {t.crashes} time(s) in the runs above (started again each time)")
            if args.streams:
                for t in targets:
                    t.stop()
                targets = [start(name, ups[1][1]) for name in names]
                streams(targets, args.streams)
            if args.soak:
                auto = next(t for t in targets if t.name == "turnout (auto)")
                soak(auto, args.soak, tmp)
        finally:
            for t in targets:
                t.stop()
            for up, _ in ups:
                up.terminate()
                up.wait(10)


if __name__ == "__main__":
    main()

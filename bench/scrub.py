"""Benchmark: the secret scrubber on against off, in one run, on two turnout processes
that differ only in their backend's ``scrub:`` (``redact`` and ``off``).

    uv run python bench/scrub.py [--seconds 2] [--rounds 3]

Request bodies are ordinary code and prose (turnout's own sources and docs, rich in
``api_key``, ``token`` and ``password``: the anchors the scan must look at and let go),
1 KB and 200 KB, answered whole and as 20-chunk SSE, at 1 and 16 clients: the issue's
target is scrubber-on ≥ 0.9x the requests/s of off. Then what a secret costs: the same
200 KB with an AWS key pair in it (the body walked, rewritten, the answer restored).
Then the stream restorer on a 2,000-chunk stream whose request held a secret (so
placeholders are looked for in every event), against the same stream with the scrubber
off: target ≥ 0.9x. Last, in this process, what a body seen for the first time costs.
Ratios are medians of per-round ratios (this machine is noisy).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from run import (
    ROOT,
    Comparison,
    Target,
    http_request,
    interleaved,
    medians,
    rounds_parser,
    spawn,
    spawn_turnout,
)

# A made-up AWS key pair, written so that this file itself holds none (tests/core/test_secrets.py).
AWS_PAIR = ("AKIA" + "Q3EGRB7T2XNW4HZK", "wJalrXUtnFEMI7K7MDENGbPxRfiCYz" + "EXAMPLEKX9")


def prose(size: int) -> str:
    """Ordinary text of about ``size`` characters: the project's sources and docs."""
    files = [*sorted(ROOT.glob("turnout/**/*.py")), ROOT / "README.md", ROOT / "ARCHITECTURE.md"]
    text = "\n".join(p.read_text() for p in files)
    while len(text) < size:
        text += text
    return text[:size]


def request(size: int, stream: bool, *, secret: bool = False, model: str = "gpt-4o-mini") -> bytes:
    content = prose(size)
    if secret:
        middle = len(content) // 2
        pair = f"\naws_access_key_id = {AWS_PAIR[0]}\naws_secret_access_key = {AWS_PAIR[1]}\n"
        content = content[:middle] + pair + content[middle:]
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": content}]}
    return http_request("/v1/chat/completions", json.dumps(body).encode(), "authorization: Bearer bench\r\n")


def start(tmp: Path) -> tuple[list[subprocess.Popen[str]], dict[str, int]]:
    upstream, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", "--events"])
    procs, ports = [upstream], {}
    for policy in ("redact", "off"):
        home = tmp / policy
        home.mkdir()
        config = home / "bench.yaml"
        config.write_text(
            f'backends: {{up: {{kind: openai, base_url: "http://127.0.0.1:{up_port}/v1", key: sk-bench, '
            f"scrub: {policy}}}}}\nautodetect: {{environment: false, local: false}}\n"
            "analytics: {enabled: false}\n"
        )
        proc, port = spawn_turnout(config, home)
        procs.append(proc)
        ports[f"scrub {policy}"] = port
    return procs, ports


def compare(
    name: str, ports: dict[str, int], pids: dict[str, int], raw: bytes, clients: int, args: object
) -> None:
    targets = {t: Target(port, pids[t], raw) for t, port in ports.items()}
    rounds = interleaved(targets, clients, args.seconds, args.rounds)  # type: ignore[attr-defined]
    for target, measured in rounds.items():
        rps, p50, cpu = medians(measured)
        errors = sum(r.errors for r, _ in measured)
        invalid = f"  INVALID: {errors} errors" if errors else ""
        print(f"{name:44} {target:11} {rps:9.0f} {p50:8.2f} {cpu:11.3f}{invalid}", flush=True)
    c = Comparison.of(rounds, "scrub redact", "scrub off")
    print(
        f"{'':44} {'on/off':11} {c.rps:8.2f}x {c.p50_delta_ms:+7.2f}ms {c.cpu:10.2f}x   rounds: {c.spread}\n",
        flush=True,
    )


def first_sight() -> None:
    """What a body seen for the first time costs (the runs above resend the same body, as
    an agent resends its history: then only what changed is searched)."""
    import time

    import orjson

    from turnout.core.scrub import Vaults, scrub
    from turnout.core.secrets import Scanner

    scanner = Scanner()
    for size in (1024, 200 * 1024):
        for secret in (False, True):
            raw = request(size, False, secret=secret).split(b"\r\n\r\n", 1)[1]
            body = orjson.loads(raw)
            n = 200
            start = time.perf_counter()
            for _ in range(n):
                scrub("chat", body, raw, (), scanner, Vaults())
            took = (time.perf_counter() - start) / n * 1e6
            what = "with a key pair" if secret else "no secret"
            print(f"first sight of a {size // 1024} KB body, {what}: {took:,.0f} µs in turnout's process")


def main() -> None:
    args = rounds_parser(__doc__).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        procs, ports = start(Path(tmp))
        pids = {name: proc.pid for name, proc in zip(ports, procs[1:], strict=True)}
        try:
            print(f"{'scenario':44} {'target':11} {'req/s':>9} {'p50 ms':>8} {'CPU ms/req':>11}")
            for size in (1024, 200 * 1024):
                for stream in (False, True):
                    for clients in (1, 16):
                        name = (
                            f"{'SSE 20 chunks' if stream else 'JSON'}, {size // 1024} KB, {clients} client(s)"
                        )
                        compare(name, ports, pids, request(size, stream), clients, args)
            for stream in (False, True):
                name = f"{'SSE' if stream else 'JSON'}, 200 KB with a key pair, 16 clients"
                compare(name, ports, pids, request(200 * 1024, stream, secret=True), 16, args)
            long = request(1024, True, secret=True, model="gpt-4o-chunks-2000")
            compare("SSE 2,000 chunks, restoring, 4 clients", ports, pids, long, 4, args)
            first_sight()
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)


if __name__ == "__main__":
    main()

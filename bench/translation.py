"""Benchmark: translated streaming vs same-dialect pass-through, through turnout, one run.

    uv run python bench/translation.py [--seconds 3]

Both go through the same turnout process to the same fake OpenAI upstream:
pass-through is an OpenAI client streaming from it; translated is an Anthropic client
(``POST /v1/messages``) whose stream turnout turns from OpenAI chunks into Anthropic
events. 20-chunk and 2,000-chunk streams, 1 and 16 clients. Target: translated ≥ 0.8x
the pass-through requests/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import Result, client, cpu_seconds, spawn, spawn_turnout


async def measure(port: int, clients: int, path: str, body: dict, seconds: float) -> Result:
    import statistics
    import time

    raw = json.dumps(body).encode()
    request = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"anthropic-version: 2023-06-01\r\ncontent-length: {len(raw)}\r\n\r\n"
    ).encode() + raw
    warm: list[float] = []
    await asyncio.gather(*(client(port, request, time.perf_counter() + 0.3, warm) for _ in range(clients)))
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(client(port, request, start + seconds, latencies) for _ in range(clients)))
    return Result(len(latencies) / (time.perf_counter() - start), statistics.median(latencies) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        upstream, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", "--events"])
        config = Path(tmp) / "bench.yaml"
        config.write_text(
            f'backends: {{up: {{kind: openai, base_url: "http://127.0.0.1:{up_port}/v1", key: sk-b}}}}\n'
            "autodetect: {environment: false, local: false}\n"
        )
        turnout, port = spawn_turnout(config, Path(tmp))
        try:
            header = f"{'stream':12} {'clients':>7} {'pass req/s':>11} {'transl. req/s':>14} {'ratio':>6}"
            print(header + f" {'pass CPU ms/req':>16} {'transl. CPU ms/req':>19} {'CPU ratio':>9}")
            for chunks in (20, 2000):
                model = f"gpt-4o-mini-chunks-{chunks}"
                passthrough_body = {
                    "model": model,
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                }
                translated_body = {**passthrough_body, "max_tokens": 4096}
                for clients in (1, 16):
                    results = []
                    for path, body in (
                        ("/v1/chat/completions", passthrough_body),
                        ("/v1/messages", translated_body),
                    ):
                        before = cpu_seconds(turnout.pid)
                        result = asyncio.run(measure(port, clients, path, body, args.seconds))
                        used = cpu_seconds(turnout.pid) - before
                        requests = result.rps * (args.seconds + 0.3)  # the warm-up counts in CPU time too
                        results.append((result, used / requests * 1000))
                    (p, p_cpu), (t, t_cpu) = results
                    print(
                        f"{chunks:>5} chunks {clients:7} {p.rps:11.1f} {t.rps:14.1f} {t.rps / p.rps:5.2f}x"
                        f" {p_cpu:16.2f} {t_cpu:19.2f} {p_cpu / t_cpu:8.2f}x"
                    )
        finally:
            for p in (turnout, upstream):
                p.terminate()
                p.wait(10)


if __name__ == "__main__":
    main()

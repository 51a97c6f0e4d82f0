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

from run import Result, client, spawn


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
        env = {"XDG_CONFIG_HOME": f"{tmp}/xdg", "XDG_DATA_HOME": f"{tmp}/data", "COLUMNS": "500"}
        turnout, port = spawn(
            [sys.executable, "-m", "turnout", "proxy", "-p", "0", "-c", str(config), "--no-discover"], env
        )
        try:
            header = f"{'stream':28} {'clients':>7} {'pass-through req/s':>19} {'translated req/s':>17}"
            print(header + f" {'ratio':>6}")
            for chunks in (20, 2000):
                model = f"gpt-4o-mini-chunks-{chunks}"
                for clients in (1, 16):
                    seconds = args.seconds
                    passthrough = asyncio.run(
                        measure(
                            port,
                            clients,
                            "/v1/chat/completions",
                            {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]},
                            seconds,
                        )
                    )
                    translated = asyncio.run(
                        measure(
                            port,
                            clients,
                            "/v1/messages",
                            {
                                "model": model,
                                "stream": True,
                                "max_tokens": 4096,
                                "messages": [{"role": "user", "content": "hi"}],
                            },
                            seconds,
                        )
                    )
                    print(
                        f"{f'{chunks} chunks':28} {clients:7} {passthrough.rps:19.1f} {translated.rps:17.1f} "
                        f"{translated.rps / passthrough.rps:5.2f}x"
                    )
        finally:
            for p in (turnout, upstream):
                p.terminate()
                p.wait(10)


if __name__ == "__main__":
    main()

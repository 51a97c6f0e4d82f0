"""Memory: resident size of the bare lean master and turnout, idle and under sustained load.

    uv run python bench/memory.py

16 clients send 200 KB bodies (JSON, then SSE) twice over; a leak shows as growth
between the two rounds. Analytics are on in turnout (the default).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import read_response, spawn, spawn_turnout


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS")).split()[1]) / 1024


async def load(port: int, per_client: int, stream: bool) -> None:
    body = {
        "model": "gpt-4o-mini",
        "stream": stream,
        "messages": [{"role": "user", "content": "x" * 200_000}],
    }
    raw = json.dumps(body).encode()
    head = "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    head += f"content-length: {len(raw)}"
    request = head.encode() + b"\r\n\r\n" + raw

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(per_client):
            writer.write(request)
            await read_response(reader)
        writer.close()

    await asyncio.gather(*(one() for _ in range(16)))


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    upstream, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", "--events"])
    bare, bare_port = spawn([sys.executable, "bench/bare_master.py", f"http://127.0.0.1:{up_port}"])
    config = tmp / "bench.yaml"
    config.write_text(
        f'backends: {{up: {{kind: openai, base_url: "http://127.0.0.1:{up_port}/v1", key: k}}}}\n'
        "autodetect: {environment: false, local: false}\n"
    )
    turnout, turnout_port = spawn_turnout(config, tmp)
    try:
        for name, proc, port in (("bare master", bare, bare_port), ("turnout", turnout, turnout_port)):
            sizes = [rss_mb(proc.pid)]
            for _ in range(2):
                asyncio.run(load(port, 150, False))
                asyncio.run(load(port, 150, True))
                sizes.append(rss_mb(proc.pid))
            print(
                f"{name}: RSS {sizes[0]:.0f} MB idle → {sizes[1]:.0f} MB after 4,800 requests"
                f" → {sizes[2]:.0f} MB after 9,600"
            )
    finally:
        for p in (turnout, bare, upstream):
            p.terminate()
            p.wait(10)


if __name__ == "__main__":
    main()

"""Memory: resident size of the bare lean master and turnout, idle and under sustained load.

    uv run python bench/memory.py

16 clients send 200 KB bodies (JSON, then SSE) twice over; a leak shows as growth
between the two rounds. Analytics are on in turnout (the default).
"""

import asyncio
import json
import sys
import tempfile

sys.path.insert(0, "bench")
from pathlib import Path

from run import read_response, spawn, spawn_turnout

tmp = Path(tempfile.mkdtemp())
up, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", "--events"])
bare, bp = spawn([sys.executable, "bench/bare_master.py", f"http://127.0.0.1:{up_port}"])
cfg = tmp / "c.yaml"
cfg.write_text(
    f'backends: {{up: {{kind: openai, base_url: "http://127.0.0.1:{up_port}/v1", key: k}}}}\nautodetect: {{environment: false, local: false}}\n'
)
tp, tport = spawn_turnout(cfg, tmp)


def rss(pid):
    return int([l for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0].split()[1]) / 1024


async def load(port, n, stream):
    raw = json.dumps(
        {"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": "x" * 200_000}]}
    ).encode()
    req = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {len(raw)}\r\n\r\n".encode()
        + raw
    )

    async def one():
        r, w = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(n):
            w.write(req)
            await read_response(r)
        w.close()

    await asyncio.gather(*(one() for _ in range(16)))


for name, proc, port in (("bare", bare, bp), ("turnout", tp, tport)):
    before = rss(proc.pid)
    asyncio.run(load(port, 150, False))
    asyncio.run(load(port, 150, True))
    mid = rss(proc.pid)
    asyncio.run(load(port, 150, False))
    asyncio.run(load(port, 150, True))
    print(
        f"{name}: RSS {before:.0f} MB idle → {mid:.0f} MB after 4,800 200 KB requests → {rss(proc.pid):.0f} MB after 9,600"
    )
for p in (tp, bare, up):
    p.terminate()

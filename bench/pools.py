"""Benchmark: pools and analytics on vs off, one run; and the analytics write path.

    uv run python bench/pools.py [--seconds 3]

"On" is a backend with a pool of three keys and the analytics store recording every
request (streams sniffed for usage); "off" is one key and analytics disabled. Same fake
upstream, same load generator (bench/run.py). Target: on ≥ 0.9x off requests/s. Then
the store alone: records queued and written per second (target ≥ 2,000/s).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import cpu_seconds, measure, spawn, spawn_turnout

from turnout.core.store import Record, Store


def config(tmp: Path, up_port: int, on: bool) -> Path:
    path = tmp / ("on.yaml" if on else "off.yaml")
    keys = (
        "    keys: [{alias: a, key: k1}, {alias: b, key: k2}, {alias: c, key: k3}]\n"
        if on
        else "    key: k1\n"
    )
    path.write_text(
        f"backends:\n  up:\n    kind: openai\n    base_url: http://127.0.0.1:{up_port}/v1\n{keys}"
        f"analytics: {{enabled: {'true' if on else 'false'}, path: {tmp / 'a.sqlite3'}}}\n"
        "autodetect: {environment: false, local: false}\n"
    )
    return path


def store_rate(count: int = 50_000) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s.sqlite3")
        row = Record(
            time.time(), "openai", "m", "r", "b", "k", "m", 0, 200, 1, 1.0, 1.0, 1, 1, 0, 0, 0, 0.0, None, 0
        )
        start = time.perf_counter()
        for _ in range(count):
            store.record(row)
        store.close()  # returns once every record is on disk
        return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        upstream, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", "--events"])
        procs, ports = [upstream], {}
        try:
            for name, on in (("off", False), ("on", True)):
                proc, port = spawn_turnout(config(tmp, up_port, on), tmp)
                procs.append(proc)
                ports[name] = port
            print(
                f"{'scenario':26} {'off req/s':>10} {'on req/s':>10} {'on/off':>7}"
                f" {'off CPU ms/req':>15} {'on CPU ms/req':>14} {'CPU on/off':>10}"
            )
            pids = {"off": procs[1].pid, "on": procs[2].pid}
            for stream in (False, True):
                for clients in (1, 16):
                    r, cpu = {}, {}
                    for n, port in ports.items():
                        before = cpu_seconds(pids[n])
                        r[n] = asyncio.run(measure(port, clients, 1024, stream, args.seconds))
                        cpu[n] = (cpu_seconds(pids[n]) - before) / (r[n].rps * (args.seconds + 0.3)) * 1000
                    label = f"{'SSE 20 chunks' if stream else 'JSON'}, {clients} client(s)"
                    ratio = r["on"].rps / r["off"].rps
                    print(
                        f"{label:26} {r['off'].rps:10.0f} {r['on'].rps:10.0f} {ratio:6.2f}x"
                        f" {cpu['off']:15.3f} {cpu['on']:14.3f} {cpu['off'] / cpu['on']:9.2f}x"
                    )
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
    print(f"analytics store: {store_rate():,.0f} records/s written (queue to disk, 50,000 records)")


if __name__ == "__main__":
    main()

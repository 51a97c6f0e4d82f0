"""Benchmark: pools and analytics on vs off, one run; and the analytics write path.

    uv run python bench/pools.py [--seconds 2] [--rounds 3]

"On" is a backend with a pool of three keys and the analytics store recording every
request (streams sniffed for usage); "off" is one key and analytics disabled. Same fake
upstream, same load generator and interleaved rounds as bench/run.py (medians of the
per-round ratios). Target: on ≥ 0.9x off requests/s. Then the store alone: records
written per second (target ≥ 2,000/s).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import Comparison, Target, chat_request, interleaved, rounds_parser, spawn, spawn_turnout

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


def store_rate(count: int = 50_000, batch: int = 100) -> float:
    """Records per second through the store as the analytics addon drives it: a flush
    every ``batch`` records (2,000 requests/s flushed every 50 ms), a checkpoint when due;
    here all in one thread, so the checkpoints' disk time is counted too."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s.sqlite3")
        row = Record(
            time.time(), "openai", "m", "r", "b", "k", "m", 0, 200, 1, 1.0, 1.0, 1, 1, 0, 0, 0, 0.0, None, 0
        )
        start = time.perf_counter()
        for i in range(1, count + 1):
            store.record(row)
            if i % batch == 0:
                store.flush()
                if store.checkpoint_due:
                    store.checkpoint()
        store.close()  # returns once every record is on disk
        return count / (time.perf_counter() - start)


def main() -> None:
    parser = rounds_parser(__doc__)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        upstream, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", "--events"])
        procs, ports = [upstream], {}
        try:
            for name, on in (("off", False), ("on", True)):
                proc, port = spawn_turnout(config(tmp, up_port, on), tmp)
                procs.append(proc)
                ports[name] = (port, proc.pid)
            print(f"{'scenario':26} {'on/off req/s':>12} {'CPU on/off':>10}   rounds")
            for stream in (False, True):
                for clients in (1, 16):
                    request = chat_request(1024, stream)
                    targets = {n: Target(port, pid, request) for n, (port, pid) in ports.items()}
                    c = Comparison.of(interleaved(targets, clients, args.seconds, args.rounds), "on", "off")
                    label = f"{'SSE 20 chunks' if stream else 'JSON'}, {clients} client(s)"
                    print(f"{label:26} {c.rps:11.2f}x {c.cpu:9.2f}x   {c.spread}")
        finally:
            for p in procs:
                p.terminate()
                p.wait(10)
    print(f"analytics store: {store_rate():,.0f} records/s written (50,000 records, flushed per 100)")


if __name__ == "__main__":
    main()

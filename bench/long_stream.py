"""CPU per chunk of a long pass-through stream: turnout against the bare lean master.

One client streams a 2,000-chunk Chat Completions answer (one SSE event per write, as
providers flush) from the fake upstream, through the bare master (mitmproxy changed as
turnout changes it, and as shipped) and through turnout,
in interleaved rounds; what is compared is each process's own CPU time per chunk, so
the per-request costs (routing, analytics row) are spread over 2,000 chunks and what
remains is the per-chunk work (turnout's relay, usage sniffing, analytics). A script,
not a test (issue: every core, item 5).

    uv run python bench/long_stream.py [--parts 2000] [--seconds 3] [--rounds 3] [--pause 0.0002]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import Target, chat_request, interleaved, rounds_parser, start_targets


def main() -> None:
    parser = rounds_parser(__doc__)
    parser.add_argument("--parts", type=int, default=2000, help="text deltas per stream")
    parser.add_argument(
        "--pause", type=float, default=0.0,
        help="seconds between the upstream's events (0: as fast as it can; then turnout "
        "and the bare master relay the events that arrived together as one piece; mitmproxy as "
        "shipped does not)",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        procs, ports = start_targets(
            Path(tmp_dir),
            ("--events", "--parts", str(args.parts), "--pause", str(args.pause)),
            as_shipped=True,
        )
        try:
            request = chat_request(1024, stream=True)
            pids = dict(zip(ports, (p.pid for p in procs), strict=True))
            names = ("mitmproxy as shipped", "bare master", "turnout")
            targets = {name: Target(ports[name], pids[name], request) for name in names}
            rounds = interleaved(targets, 1, args.seconds, args.rounds)
            per_chunk = {
                name: [cpu * 1000 / args.parts for _, cpu in measured] for name, measured in rounds.items()
            }
            print(f"one client, {args.parts}-chunk streams, {args.rounds} rounds of {args.seconds:g} s")
            for name, values in per_chunk.items():
                rps = statistics.median(r.rps for r, _ in rounds[name])
                print(f"{name:20} {statistics.median(values):7.2f} µs CPU/chunk   {rps:6.1f} streams/s")
            for base in ("bare master", "mitmproxy as shipped"):
                ratios = [t / b for t, b in zip(per_chunk["turnout"], per_chunk[base], strict=True)]
                print(
                    f"turnout/{base} CPU per chunk: {statistics.median(ratios):.2f}x "
                    f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}; target ≤ 1.05x)"
                )
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    main()

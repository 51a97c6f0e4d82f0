"""Benchmark: translated streaming vs same-dialect pass-through, through turnout, one run.

    uv run python bench/translation.py [--seconds 2] [--rounds 3]

Both go through the same turnout process to the same fake OpenAI upstream:
pass-through is an OpenAI client streaming from it; translated is an Anthropic client
(``POST /v1/messages``) whose stream turnout turns from OpenAI chunks into Anthropic
events. 20-chunk and 2,000-chunk streams, 1 and 16 clients. Target: translated ≥ 0.8x
the pass-through requests/s. Interleaved rounds as in bench/run.py: medians of the
per-round ratios.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import Comparison, Target, http_request, interleaved, medians, rounds_parser, spawn, spawn_turnout


def main() -> None:
    parser = rounds_parser(__doc__)
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
            print(header + f" {'pass CPU ms/req':>16} {'transl. CPU ms/req':>19} {'CPU ratio':>9}   rounds")
            for chunks in (20, 2000):
                body = {
                    "model": f"gpt-4o-mini-chunks-{chunks}",
                    "stream": True,
                    "messages": [{"role": "user", "content": "hi"}],
                }
                targets = {
                    "pass": Target(
                        port, turnout.pid, http_request("/v1/chat/completions", json.dumps(body).encode())
                    ),
                    "translated": Target(
                        port,
                        turnout.pid,
                        http_request(
                            "/v1/messages",
                            json.dumps({**body, "max_tokens": 4096}).encode(),
                            "anthropic-version: 2023-06-01\r\n",
                        ),
                    ),
                }
                for clients in (1, 16):
                    rounds = interleaved(targets, clients, args.seconds, args.rounds)
                    (p_rps, _, p_cpu), (t_rps, _, t_cpu) = (
                        medians(rounds["pass"]),
                        medians(rounds["translated"]),
                    )
                    c = Comparison.of(rounds, "translated", "pass")
                    print(
                        f"{chunks:>5} chunks {clients:7} {p_rps:11.1f} {t_rps:14.1f} {c.rps:5.2f}x"
                        f" {p_cpu:16.2f} {t_cpu:19.2f} {c.cpu:8.2f}x   {c.spread}"
                    )
        finally:
            for p in (turnout, upstream):
                p.terminate()
                p.wait(10)


if __name__ == "__main__":
    main()

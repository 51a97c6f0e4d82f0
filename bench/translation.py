"""Benchmark: translated streams vs same-API pass-through, through turnout, one run.

    uv run python bench/translation.py [--seconds 2] [--rounds 3] [--only messages>chat,...]

One turnout process in front of one fake upstream that speaks all four APIs (Anthropic
Messages, Chat Completions, the Responses API, Gemini's native API). For each backend
API, the pass-through baseline is a client of that same API streaming from it; every
other client API streams from it translated (``messages>chat``: an Anthropic client, a
Chat backend). 20-chunk and 2,000-chunk streams, 1 and 16 clients. Target: every
translated direction ≥ 0.8x its backend's pass-through requests/s. Interleaved rounds as
in bench/run.py: medians of the per-round ratios.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from run import Comparison, Target, http_request, interleaved, medians, rounds_parser, spawn, spawn_turnout

APIS = ("messages", "chat", "responses", "gemini")
BACKENDS = {"messages": "anth", "chat": "chat", "responses": "resp", "gemini": "gem"}


def request(api: str, model: str) -> bytes:
    """A streaming request of ``api`` for ``model``: the bytes a client sends."""
    hi = "hi"
    if api == "messages":
        body = {
            "model": model,
            "max_tokens": 4096,
            "stream": True,
            "messages": [{"role": "user", "content": hi}],
        }
        return http_request("/v1/messages", json.dumps(body).encode(), "anthropic-version: 2023-06-01\r\n")
    if api == "chat":
        body = {"model": model, "stream": True, "messages": [{"role": "user", "content": hi}]}
        return http_request("/v1/chat/completions", json.dumps(body).encode())
    if api == "responses":
        return http_request(
            "/v1/responses", json.dumps({"model": model, "stream": True, "input": hi}).encode()
        )
    body = {"contents": [{"role": "user", "parts": [{"text": hi}]}]}
    return http_request(f"/v1beta/models/{model}:streamGenerateContent?alt=sse", json.dumps(body).encode())


def main() -> None:
    parser = rounds_parser(__doc__)
    parser.add_argument("--only", default="", help="directions to run, client>backend, comma-separated")
    args = parser.parse_args()
    only = {tuple(d.split(">")) for d in args.only.split(",") if d}
    with tempfile.TemporaryDirectory() as tmp:
        upstream, up_port = spawn([sys.executable, "-m", "tests.fakes.upstream", "--events"])
        url = f"http://127.0.0.1:{up_port}"
        config = Path(tmp) / "bench.yaml"
        config.write_text(
            "backends:\n"
            f'  anth: {{kind: anthropic, base_url: "{url}", key: sk-b}}\n'
            f'  chat: {{kind: openai-compat, base_url: "{url}/v1", key: sk-b}}\n'
            f'  resp: {{kind: openai-responses, base_url: "{url}/v1", key: sk-b}}\n'
            f'  gem: {{kind: gemini, base_url: "{url}/v1beta", key: sk-b}}\n'
            "autodetect: {environment: false, local: false}\n"
        )
        turnout, port = spawn_turnout(config, Path(tmp))
        try:
            columns = f"{'stream':>12} {'clients':>7} {'pass req/s':>11} {'transl. req/s':>14} {'ratio':>6}"
            print(f"{'direction':20} {columns} {'CPU ratio':>9}   rounds")
            for backend in APIS:
                clients = [c for c in APIS if c != backend and (not only or (c, backend) in only)]
                if not clients:
                    continue
                for chunks in (20, 2000):
                    model = f"{BACKENDS[backend]}:bench-chunks-{chunks}"
                    targets = {"pass": Target(port, turnout.pid, request(backend, model))}
                    targets |= {c: Target(port, turnout.pid, request(c, model)) for c in clients}
                    for n in (1, 16):
                        rounds = interleaved(targets, n, args.seconds, args.rounds)
                        p_rps = medians(rounds["pass"])[0]
                        for client in clients:
                            c = Comparison.of(rounds, client, "pass")
                            t_rps = medians(rounds[client])[0]
                            direction = f"{client}>{backend}"
                            print(
                                f"{direction:20} {chunks:>5} chunks {n:7} {p_rps:11.1f} {t_rps:14.1f}"
                                f" {c.rps:5.2f}x {c.cpu:8.2f}x   {c.spread}"
                            )
        finally:
            for p in (turnout, upstream):
                p.terminate()
                p.wait(10)


if __name__ == "__main__":
    main()

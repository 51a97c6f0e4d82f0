"""Reads and (re)writes the golden corpus under tests/golden/<scenario>/.

    uv run python -m tests.golden.corpus --write     # after a deliberate change; review the diff

Upstream files (what the fake provider sends) are generated from ``scenarios.py``;
expected files (what the client must get) from turnout's translators at the time of
writing. ``git diff tests/golden`` is the review.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tests.golden import upstreams
from tests.golden.scenarios import (
    SCENARIOS,
    Scenario,
    anthropic_message,
    anthropic_stream,
    openai_completion,
    openai_stream,
)
from turnout.core.dialects.context import Context
from turnout.core.dialects.translate import StreamAdapter, translate_response
from turnout.core.errors import error_body
from turnout.core.hub.through import request_through_hub
from turnout.core.models import Backend, Quirks
from turnout.core.providers import default_quirks

ROOT = Path(__file__).parent
CLIENT_MODEL = "client-model"


def quirks_for(s: Scenario) -> tuple[Quirks, Quirks]:
    """(OpenAI-style backend quirks, Anthropic backend quirks) for a scenario's requests."""
    if s.name == "deepseek_reasoning":
        return default_quirks("deepseek", "openai-compat", "https://api.deepseek.com/v1"), Quirks()
    return default_quirks("compat", "openai-compat", "http://127.0.0.1:1/v1"), Quirks()


CREATED = 1700000000
NONCE = "00c0ffee00c0"  # fixed here; fresh per response in the proxy


def to_anthropic_ctx() -> Context:
    return Context("anthropic", "openai", CLIENT_MODEL, stream=True, created=CREATED, nonce=NONCE)


def to_openai_ctx() -> Context:
    return Context(
        "openai", "anthropic", CLIENT_MODEL, stream=True, include_usage=True, created=CREATED, nonce=NONCE
    )


HUB_CLIENTS = ("responses", "gemini")  # clients the hub added, answered from every backend
CLIENTS = ("anthropic", "openai", "responses", "gemini")
NEW_BACKENDS = ("responses", "gemini")  # a Responses-only backend, Gemini's native API
_AS_BACKEND: dict[str, dict[str, Any]] = {
    "anthropic": {"backend": "anthropic"},
    "openai": {"backend": "openai"},
    "responses": {"backend": "openai", "backend_api": "responses"},
    "gemini": {"backend": "gemini"},
}


def client_ctx(client: str, backend: str) -> Context:
    """A client of ``client``'s API answered from a backend of ``backend``'s API."""
    dialect = {"anthropic": "anthropic", "openai": "openai", "responses": "openai", "gemini": "gemini"}[
        client
    ]
    return Context(
        dialect,  # type: ignore[arg-type]
        model=CLIENT_MODEL,
        stream=True,
        include_usage=client == "openai",
        created=CREATED,
        nonce=NONCE,
        api="responses" if client == "responses" else "",
        **_AS_BACKEND[backend],
    )


def translated_request(
    body: dict[str, Any],
    endpoint: str,
    kind: str,
    *,
    model: str = "up-model",
    requested: str = CLIENT_MODEL,
    quirks: Quirks | None = None,
    window: int | None = None,
) -> tuple[dict[str, Any], Context]:
    """``body`` sent to ``endpoint`` as a backend of ``kind`` gets it, through the hub."""
    backend = Backend("b", kind, "http://127.0.0.1:1", quirks=quirks or Quirks())  # type: ignore[arg-type]
    return request_through_hub(
        body, endpoint=endpoint, backend=backend, model=model, requested=requested, window=window
    )


def run_stream(ctx: Context, pieces: list[bytes]) -> bytes:
    adapter = StreamAdapter(ctx)
    return b"".join(b"".join(adapter(p)) for p in [*pieces, b""])


def dump(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def build(s: Scenario) -> dict[str, str | bytes]:
    """Every file of one scenario: upstream inputs and expected outputs."""
    files: dict[str, str | bytes] = {}
    if s.http_error:
        status, message = s.http_error
        files["openai_error.json"] = dump(
            {"status": status, "body": json.loads(error_body("openai", status, message))}
        )
        files["anthropic_error.json"] = dump(
            {"status": status, "body": json.loads(error_body("anthropic", status, message))}
        )
        files["client_anthropic_error.json"] = dump(
            json.loads(
                translate_response(error_body("openai", status, message), status, to_anthropic_ctx())[1]
            )
        )
        files["client_openai_error.json"] = dump(
            json.loads(
                translate_response(error_body("anthropic", status, message), status, to_openai_ctx())[1]
            )
        )
        for client in HUB_CLIENTS:
            answer = translate_response(
                error_body("anthropic", status, message), status, client_ctx(client, "anthropic")
            )
            files[f"client_{client}_error.json"] = dump(json.loads(answer[1]))
        return files
    files["openai.sse"] = openai_stream(s)
    files["anthropic.sse"] = anthropic_stream(s)
    files["client_anthropic.sse"] = run_stream(to_anthropic_ctx(), [files["openai.sse"]])
    files["client_openai.sse"] = run_stream(to_openai_ctx(), [files["anthropic.sse"]])
    for client in HUB_CLIENTS:
        for backend in ("openai", "anthropic"):
            upstream = files[f"{backend}.sse"]
            assert isinstance(upstream, bytes)
            files[f"client_{client}_from_{backend}.sse"] = run_stream(client_ctx(client, backend), [upstream])
    for backend in NEW_BACKENDS:
        upstream = upstreams.responses_stream(s) if backend == "responses" else upstreams.gemini_stream(s)
        files[f"{backend}.sse"] = upstream
        for client in CLIENTS:
            if client != backend:
                files[f"client_{client}_from_{backend}.sse"] = run_stream(
                    client_ctx(client, backend), [upstream]
                )
    if not s.error_mid_stream:
        for backend in NEW_BACKENDS:
            whole = (
                upstreams.responses_response(s) if backend == "responses" else upstreams.gemini_response(s)
            )
            files[f"{backend}.json"] = dump(whole)
            for client in CLIENTS:
                if client != backend:
                    answer = translate_response(dump(whole).encode(), 200, client_ctx(client, backend))[1]
                    files[f"client_{client}_from_{backend}.json"] = dump(json.loads(answer))
        files["openai.json"] = dump(openai_completion(s))
        files["anthropic.json"] = dump(anthropic_message(s))
        files["client_anthropic.json"] = dump(
            json.loads(translate_response(files["openai.json"].encode(), 200, to_anthropic_ctx())[1])
        )
        files["client_openai.json"] = dump(
            json.loads(translate_response(files["anthropic.json"].encode(), 200, to_openai_ctx())[1])
        )
        for client in HUB_CLIENTS:
            for backend in ("openai", "anthropic"):
                whole = files[f"{backend}.json"]
                assert isinstance(whole, str)
                answer = translate_response(whole.encode(), 200, client_ctx(client, backend))[1]
                files[f"client_{client}_from_{backend}.json"] = dump(json.loads(answer))
    compat, anthropic = quirks_for(s)
    if s.request_anthropic:
        files["request_anthropic.json"] = dump(s.request_anthropic)
        out, _ = translated_request(s.request_anthropic, "messages", "openai-compat", quirks=compat)
        files["request_anthropic.to_openai.json"] = dump(out)
    if s.request_openai:
        files["request_openai.json"] = dump(s.request_openai)
        out, _ = translated_request(s.request_openai, "chat", "anthropic", quirks=anthropic)
        files["request_openai.to_anthropic.json"] = dump(out)
    return files


def write_all() -> None:
    for s in SCENARIOS:
        folder = ROOT / s.name
        folder.mkdir(exist_ok=True)
        for name, content in build(s).items():
            path = folder / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="write the corpus files")
    if parser.parse_args().write:
        write_all()

"""Every way an upstream fails, as each client meets it: the fault matrix.

12 faults (tests/fakes/faults.py) x Anthropic/OpenAI client (the official SDKs) x
Anthropic/OpenAI/Responses-only/Gemini backend x JSON/stream. Each cell states what the client sees, and its
analytics row must agree with it. The rules behind the table:

- nothing arrived yet: a whole error in the client's dialect (502; 504 for a stall);
- a JSON answer broken anywhere: the same (nothing was sent while it was buffered);
- a stream already flowing: it ends with an error event in the client's dialect, which
  the SDK raises;
- a clean answer in any framing (chunked, trailers, gzip): the answer, decoded;
- an HTML error page: its status, as JSON in the client's dialect;
- the provider's own JSON in the client's own dialect is relayed as it came, odd or not;
  translated, it must be readable or it is the backend's failure (502 / error event).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import proxy_on
from tests.fakes.faults import FAULTS, FaultUpstream
from turnout.core.store import read_rows
from turnout.server import ProxyHandle

CLIENTS = ("anthropic", "openai")
BACKENDS = {"anth": "anthropic", "oai": "openai", "resp": "responses", "gem": "gemini"}


@dataclass(frozen=True)
class Expect:
    status: int  # what the client sees first (a stream that began: 200)
    needle: str = ""  # in the error's message; "" for an answer
    relayed: bytes = b""  # same dialect, the provider's own bytes, as they came


OK = Expect(200)
BROKE = "broke off its response"


def expected(fault: str, client: str, backend: str, stream: bool) -> Expect:
    same = BACKENDS[backend] == client
    if fault == "close-before-headers":
        return Expect(502, "Cannot reach backend")
    if fault == "stall-headers":
        return Expect(504, "sent no response within 1 s")
    if fault in ("trailers", "gzip", "chunked"):
        return OK
    if fault == "html-5xx":
        return Expect(503, "HTTP 503 with an HTML page (503 Service Unavailable)")
    if fault in ("close-after-headers", "mid-body"):
        return Expect(200, BROKE) if stream else Expect(502, BROKE)
    if fault == "stall-body":
        return Expect(200 if stream else 504, "sent nothing for 1 s in the middle of its response")
    if fault == "short-length":
        if not stream:
            return Expect(502, "could not be read")
        return Expect(200, "ended in the middle of an event" if same else "ended before it finished")
    if fault == "bad-json":
        if not stream:
            return Expect(502, "could not be read")
        return Expect(200, relayed=b'"mess') if same else Expect(200, "ended before it finished")
    assert fault == "wrong-shape"
    if same:
        return Expect(200, relayed=b"surprise" if stream else b'{"unexpected": [1, 2]}')
    return Expect(200, "ended before it finished") if stream else Expect(502, "could not be read")


CELLS = list(itertools.product(FAULTS, CLIENTS, BACKENDS, (False, True)))


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyHandle, Path]]:
    tmp = tmp_path_factory.mktemp("faults")
    with FaultUpstream(stall_seconds=5) as up:
        db = tmp / "analytics.sqlite3"
        with proxy_on(
            f"""
backends:
  anth: {{kind: anthropic, base_url: "{up.url}", key: sk-ant-fault, timeout: 1, read_timeout: 1}}
  oai: {{kind: openai, base_url: "{up.url}/v1", key: sk-oai-fault, timeout: 1, read_timeout: 1}}
  resp: {{kind: openai-responses, base_url: "{up.url}/v1", key: sk-resp-fault, timeout: 1, read_timeout: 1}}
  gem: {{kind: gemini, base_url: "{up.url}/v1beta", key: AIza-gem-fault, timeout: 1, read_timeout: 1}}
pool: {{error_cooldown: 0}}
analytics: {{path: "{db}"}}
autodetect: {{environment: false, local: false}}
""",
            tmp,
        ) as handle:
            yield handle, db


def ask(url: str, client: str, model: str, stream: bool) -> tuple[int, str, str]:
    """(status first seen, the answer's text, the error message) through the official SDK."""
    text: list[str] = []
    try:
        if client == "anthropic":
            claude = anthropic.Anthropic(base_url=url, api_key="x", max_retries=0, timeout=20)
            messages = [{"role": "user", "content": "hi"}]
            if not stream:
                reply = claude.messages.create(model=model, max_tokens=50, messages=messages)  # type: ignore[arg-type]
                return 200, "".join(b.text for b in reply.content if b.type == "text"), ""
            events = claude.messages.create(model=model, max_tokens=50, messages=messages, stream=True)  # type: ignore[arg-type]
            for event in events:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    text.append(event.delta.text)
            return 200, "".join(text), ""
        gpt = openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0, timeout=20)
        messages = [{"role": "user", "content": "hi"}]
        if not stream:
            completion = gpt.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
            return 200, completion.choices[0].message.content or "", ""
        for chunk in gpt.chat.completions.create(model=model, messages=messages, stream=True):  # type: ignore[arg-type]
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
        return 200, "".join(text), ""
    except (anthropic.APIStatusError, openai.APIStatusError) as e:
        return e.status_code, "".join(text), e.message
    except (anthropic.APIError, openai.APIError) as e:  # raised mid-stream: the stream had begun
        return 200, "".join(text), e.message


def raw(url: str, client: str, model: str, stream: bool) -> httpx.Response:
    path = "/v1/messages" if client == "anthropic" else "/v1/chat/completions"
    body = {
        "model": model,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
    }
    return httpx.post(url + path, json=body, timeout=20)


def cell_id(cell: tuple[str, str, str, bool]) -> str:
    fault, client, backend, stream = cell
    return f"{fault}-{client}-{backend}-{'stream' if stream else 'json'}"


@pytest.mark.parametrize(("fault", "client", "backend", "stream"), CELLS, ids=[cell_id(c) for c in CELLS])
def test_the_client_sees_what_the_table_says(
    proxy: tuple[ProxyHandle, Path], fault: str, client: str, backend: str, stream: bool
) -> None:
    handle, db = proxy
    tag = f"{client}-{backend}-{'s' if stream else 'j'}"
    model = f"{backend}:fault-{fault}~{tag}"
    want = expected(fault, client, backend, stream)
    if want.relayed:
        r = raw(handle.url, client, model, stream)
        assert r.status_code == want.status and want.relayed in r.content
        seen = r.status_code
    else:
        seen, text, message = ask(handle.url, client, model, stream)
        assert seen == want.status, message
        if want.needle:
            assert want.needle in message
            assert "<html" not in message.lower() and "Traceback" not in message
        else:
            if backend in ("resp", "gem"):  # tests/fuzz/cases.py other_wire: the same words either way
                assert message == "" and text == "a b c"
            else:
                assert message == "" and text == (
                    "one two three" if stream else f"hello from fault-{fault}~{tag}"
                )
    httpx.get(handle.url + "/analytics")  # flushes the store
    [row] = [r for r in read_rows(db) if r["model_asked"] == model]
    assert row["status"] == seen
    assert row["backend"] == backend
    if want == OK:  # the usage was read, whatever the framing or the compression
        assert row["tokens_out"] > 0 and row["error"] is None
    elif want.needle:
        assert row["error"]
    assert httpx.get(handle.url + "/health").status_code == 200

"""Fuzzing through a real proxy: 10,000 hostile requests and 2,000 damaged answers.

Requests (tests/fuzz/cases.py): every routed endpoint and some that are not, Anthropic
and OpenAI clients, same-dialect, translated both ways and unroutable, mutated bodies,
broken bytes, wrong methods, content types and encodings. Each must get:
- no 5xx: a client's mistake is a 4xx (the fake provider behind is healthy and strict);
- every error as JSON in the client's dialect, short, no traceback;
- nothing malformed forwarded: only JSON objects with a string model reach the provider;
  a same-dialect body arrives as sent; a translated one passes the provider's schema;
- and the proxy still answers /health.
Answers: the provider's messages and streams damaged at random (fields, types, dropped,
repeated, shuffled and cut events), in both directions; the client gets the answer, a
502 in its dialect, or a stream that ends with an error event, never a 500 or an
internal translation failure. Seeds are fixed; a failure prints its case.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import local

import httpx
import pytest

from tests.e2e.conftest import proxy_on
from tests.fakes.upstream import Recorded
from tests.fuzz.cases import MODELS, Case, request_case
from tests.fuzz.strict import StrictUpstream
from turnout.core.dialects.validate import check_request
from turnout.core.errors import BadRequest
from turnout.server import ProxyHandle

REQUESTS = 10_000
ANSWERS = 2_000
SEED = 20261129


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyHandle, StrictUpstream]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with (
        StrictUpstream(odd_splits=False, chunk_pause=0) as up,
        proxy_on(
            f"""
backends:
  anth: {{kind: anthropic, base_url: "{up.url}", key: sk-ant-fuzz}}
  oai: {{kind: openai, base_url: "{up.url}/v1", key: sk-oai-fuzz}}
  compat: {{kind: openai-compat, base_url: "{up.url}/v1", key: sk-compat-fuzz}}
  resp: {{kind: openai-responses, base_url: "{up.url}/v1", key: sk-resp-fuzz}}
  gem: {{kind: gemini, base_url: "{up.url}/v1beta", key: AIza-gem-fuzz}}
limits: {{max_body_mb: 1}}
pool: {{error_cooldown: 0, attempts: 1}}
analytics: {{path: "{tmp / "analytics.sqlite3"}"}}
autodetect: {{environment: false, local: false}}
""",
            tmp,
        ) as proxy,
    ):
        yield proxy, up


def in_dialect(body: bytes, dialect: str) -> str | None:
    """Why ``body`` is not an error in ``dialect``'s shape, or None."""
    try:
        data = json.loads(body)
    except ValueError:
        return "not JSON"
    if dialect == "gemini":
        error = data.get("error") if isinstance(data, dict) else None
        ok = (
            isinstance(error, dict)
            and isinstance(error.get("message"), str)
            and isinstance(error.get("status"), str)
        )
    elif dialect == "anthropic":  # else OpenAI's shape, which the Responses API shares
        ok = data.get("type") == "error" and isinstance(data.get("error", {}).get("message"), str)
    else:
        ok = isinstance(data.get("error"), dict) and isinstance(data["error"].get("message"), str)
    return None if ok else f"not a {dialect} error: {body[:200]!r}"


def judge(case: Case, response: httpx.Response) -> str | None:
    status, body = response.status_code, response.content
    if status >= 500:
        return f"HTTP {status}: {body[:300]!r}"
    if b"Traceback" in body or len(body) > 200_000:
        return f"HTTP {status} with a traceback or a {len(body):,}-byte body"
    if status >= 400:
        if not response.headers.get("content-type", "").startswith("application/json"):
            return f"HTTP {status} as {response.headers.get('content-type')}"
        return in_dialect(body, case.dialect)
    return None


_clients = local()


def send(url: str, i: int) -> tuple[int, Case, str | None]:
    case = request_case(random.Random(SEED + i))
    client = getattr(_clients, "client", None) or httpx.Client(timeout=30)
    _clients.client = client
    headers = {**case.headers, "x-fuzz-case": str(i)}
    try:
        response = client.request(case.method, url + case.path, content=case.body, headers=headers)
    except httpx.HTTPError as e:
        return i, case, f"{type(e).__name__}: {e}"
    return i, case, judge(case, response)


def forwarded_problem(case: Case, rec: Recorded) -> str | None:
    """Why a request the provider received is malformed, or None."""
    body, path = rec.body, rec.path
    if rec.headers.get("content-encoding") == "gzip":
        if body != case.body:
            return "a compressed body was changed on the way"
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError):
            return "forwarded a gzip body that does not decode"
    try:
        data = json.loads(body)
    except ValueError:
        return "forwarded bytes that are not JSON"
    if not isinstance(data, dict) or not isinstance(data.get("model"), str):
        return "forwarded JSON that is not an object with a string model"
    translated = case.dialect == "gemini" or MODELS["translated"][case.dialect] == (case.sent or {}).get(
        "model"
    )
    if not translated and "content-encoding" not in case.headers and rec.body != case.body:
        return "a same-dialect body was changed on the way"
    target = "anthropic" if "/messages" in path else "openai"
    if translated and path.endswith(("/messages", "/chat/completions")):
        try:
            check_request(data, target)
        except BadRequest as e:
            return f"the translation is malformed: {e.message}"
    return None


def test_ten_thousand_hostile_requests(rig: tuple[ProxyHandle, StrictUpstream]) -> None:
    proxy, up = rig
    failures: list[str] = []
    cases: dict[int, Case] = {}
    with ThreadPoolExecutor(4) as pool:
        for i, case, problem in pool.map(lambda i: send(proxy.url, i), range(REQUESTS)):
            cases[i] = case
            if problem:
                failures.append(f"case {i} ({case.note}, {case.method} {case.path}): {problem}")
            if i % 1000 == 999:
                assert httpx.get(proxy.url + "/health").status_code == 200, f"the proxy died by case {i}"
    for rec in up.requests:
        i = int(rec.headers.get("x-fuzz-case", -1))
        if i in cases and (problem := forwarded_problem(cases[i], rec)):
            failures.append(f"case {i} ({cases[i].note}) reached the provider: {problem}")
    statuses = {}
    for rec in up.requests:
        statuses[rec.path] = statuses.get(rec.path, 0) + 1
    assert len(up.requests) > REQUESTS // 10, statuses  # plenty got through, not only refusals
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:30])
    assert httpx.get(proxy.url + "/health").status_code == 200


def answer_case(i: int) -> tuple[str, str, bool]:
    """(client dialect, backend, stream): Responses clients only where they are translated."""
    rng = random.Random(SEED * 7 + i)
    client = rng.choice(["anthropic", "openai", "responses", "gemini"])
    backend = rng.choice(
        ["anth", "compat", "resp", "gem"]
        if client in ("responses", "gemini")
        else ["anth", "oai", "resp", "gem"]
    )
    return client, backend, rng.random() < 0.5


def ask(url: str, i: int) -> str | None:
    client_dialect, backend, stream = answer_case(i)
    model = f"{backend}:fault-mutant-{i}"
    if client_dialect == "anthropic":
        path, body = (
            "/v1/messages",
            {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        )
    elif client_dialect == "responses":
        path, body = "/v1/responses", {"model": model, "input": "hi"}
    elif client_dialect == "gemini":
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        path, body = f"/v1beta/models/{model}:{method}", {"contents": [{"parts": [{"text": "hi"}]}]}
    else:
        path, body = "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if client_dialect != "gemini":
        body["stream"] = stream
    client = getattr(_clients, "client", None) or httpx.Client(timeout=30)
    _clients.client = client
    try:
        r = client.post(url + path, json=body)
    except httpx.HTTPError as e:
        return f"{type(e).__name__}: {e}"
    label = f"answer {i} ({client_dialect} client, {backend}, {'stream' if stream else 'json'})"
    if r.status_code not in (200, 502):
        return f"{label}: HTTP {r.status_code} {r.content[:200]!r}"
    if b"could not translate" in r.content or b"failed inside its" in r.content:
        return f"{label}: an internal failure: {r.content[-300:]!r}"
    if r.status_code == 502 and (problem := in_dialect(r.content, client_dialect)):
        return f"{label}: {problem}"
    return None


def test_two_thousand_damaged_answers(rig: tuple[ProxyHandle, StrictUpstream]) -> None:
    proxy, _ = rig
    with ThreadPoolExecutor(4) as pool:
        failures = [p for p in pool.map(lambda i: ask(proxy.url, i), range(ANSWERS)) if p]
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:30])
    assert httpx.get(proxy.url + "/health").status_code == 200

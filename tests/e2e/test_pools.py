"""Key pools, in-request failover and fallback chains through a real proxy.

The fake upstream is programmed per key (tests/fakes/upstream.py ``KeyProgram``):
remaining/limit counters with resets, 429 with retry-after, 5xx, 401, context-length
errors; refused connections come from a backend on a closed port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.fakes.upstream import FakeUpstream, KeyProgram
from turnout.server import ProxyHandle, ServerSettings, start_proxy_thread

CONFIG = """
backends:
  pooled:
    kind: openai-compat
    base_url: {up}/v1
    models: [pool-model]
    keys:
      - {{alias: a, key: key-a}}
      - {{alias: b, key: key-b}}
  claudeish:
    kind: anthropic
    base_url: {up}
    key: key-anth
  backup:
    kind: openai-compat
    base_url: {up}/v1
    key: key-backup
  gone:
    kind: openai-compat
    base_url: http://127.0.0.1:1/v1
    key: key-gone
  governed:
    kind: openai-compat
    base_url: {up}/v1
    key: key-gov
    models: [gov-model]
    min_interval_ms: 150
routes:
  - {{match: "claude-primary*", backend: claudeish, fallbacks: ["backup/fallback-model"]}}
  - {{match: "unreachable-model", backend: gone, fallbacks: [backup]}}
pool: {{queue_timeout: 0.6, attempts: 3, error_cooldown: 0.3}}
analytics: {{path: {db}}}
autodetect: {{environment: false, local: false}}
"""


@pytest.fixture
def pools(tmp_path: Path) -> Iterator[tuple[ProxyHandle, FakeUpstream]]:
    with FakeUpstream() as up:
        config = tmp_path / "config.yaml"
        config.write_text(CONFIG.format(up=up.url, db=tmp_path / "analytics.sqlite3"))
        proxy = start_proxy_thread(
            ServerSettings(
                port=0, config=str(config), confdir=str(tmp_path / "certs"), discover=False, api_key=""
            )
        )
        try:
            yield proxy, up
        finally:
            proxy.stop()


def chat(proxy: ProxyHandle, model: str = "pool-model", **extra: object) -> httpx.Response:
    return httpx.post(
        proxy.url + "/v1/chat/completions", json={"model": model, "messages": [], **extra}, timeout=10
    )


def keys_used(up: FakeUpstream, since: int) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in up.requests[since:]]


def accounts(proxy: ProxyHandle) -> dict[str, dict]:
    rows = httpx.get(proxy.url + "/accounts").json()["keys"]
    return {f"{r['backend']}/{r['alias']}": r for r in rows}


def test_requests_go_to_the_key_with_the_most_headroom(pools: tuple[ProxyHandle, FakeUpstream]) -> None:
    proxy, up = pools
    up.programs["key-a"] = KeyProgram(remaining=11, limit=100)
    up.programs["key-b"] = KeyProgram(remaining=91, limit=100)
    for _ in range(2):  # unknown headroom counts as full: the first two rotate and learn
        assert chat(proxy).status_code == 200
    assert sorted(keys_used(up, 0)) == ["key-a", "key-b"]
    before = len(up.requests)
    for _ in range(6):
        chat(proxy)
    assert keys_used(up, before) == ["key-b"] * 6
    snapshot = accounts(proxy)
    assert snapshot["pooled/b"]["headroom"] == pytest.approx(0.84) and snapshot["pooled/a"]["headroom"] == 0.1
    assert "key-b" not in str(snapshot)


def test_a_429_fails_over_to_the_next_key_inside_the_request(pools: tuple[ProxyHandle, FakeUpstream]) -> None:
    proxy, up = pools
    up.programs["key-a"] = KeyProgram(status=429, retry_after="30")
    up.programs["key-b"] = KeyProgram(remaining=500)
    responses = [chat(proxy) for _ in range(3)]
    assert all(r.status_code == 200 for r in responses)
    assert sorted(r.headers["x-turnout-attempts"] for r in responses) == ["1", "1", "2"]
    state = accounts(proxy)["pooled/a"]
    assert state["status"] == "cooling" and 25 < state["cooling_for_s"] <= 30
    assert "429" in state["last_error"]


def test_401_marks_a_key_failed(pools: tuple[ProxyHandle, FakeUpstream]) -> None:
    proxy, up = pools
    up.programs["key-a"] = KeyProgram(status=401)
    results = [chat(proxy).status_code for _ in range(4)]
    assert results.count(401) <= 1 and results.count(200) >= 3
    assert accounts(proxy)["pooled/a"]["status"] == "failed"


def test_fallback_chain_translates_into_the_clients_dialect(pools: tuple[ProxyHandle, FakeUpstream]) -> None:
    proxy, up = pools
    up.programs["key-anth"] = KeyProgram(status=529)
    claude = anthropic.Anthropic(base_url=proxy.url, api_key="x", max_retries=0)
    raw = claude.messages.with_raw_response.create(
        model="claude-primary-1", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    message = raw.parse()
    assert raw.headers["x-turnout-attempts"] == "2" and raw.headers["x-turnout-backend"] == "backup"
    assert message.content[0].text == "hello from fallback-model" and message.model == "claude-primary-1"
    assert (
        up.requests[-1].path == "/v1/chat/completions" and up.requests[-1].json()["model"] == "fallback-model"
    )


def test_context_too_long_moves_to_the_fallback(pools: tuple[ProxyHandle, FakeUpstream]) -> None:
    proxy, up = pools
    up.programs["key-anth"] = KeyProgram(
        status=400, message="prompt is too long: 250000 tokens > 200000 maximum"
    )
    claude = anthropic.Anthropic(base_url=proxy.url, api_key="x", max_retries=0)
    message = claude.messages.create(
        model="claude-primary-2", max_tokens=20, messages=[{"role": "user", "content": "x"}]
    )
    assert message.content[0].text == "hello from fallback-model"


def test_unreachable_backend_falls_back_inside_the_request(pools: tuple[ProxyHandle, FakeUpstream]) -> None:
    proxy, _ = pools
    r = chat(proxy, "unreachable-model")
    assert (
        r.status_code == 200
        and r.json()["choices"][0]["message"]["content"] == "hello from unreachable-model"
    )
    assert r.headers["x-turnout-attempts"] == "2" and r.headers["x-turnout-backend"] == "backup"
    assert accounts(proxy)["gone/default"]["status"] == "cooling"


def test_every_key_cooling_waits_then_429_with_retry_after(pools: tuple[ProxyHandle, FakeUpstream]) -> None:
    proxy, up = pools
    up.programs["key-a"] = up.programs["key-b"] = KeyProgram(status=429, retry_after="40")
    assert chat(proxy).status_code == 429  # both keys tried inside the request, both cool
    started = time.monotonic()
    r = chat(proxy)
    waited = time.monotonic() - started
    assert r.status_code == 429 and 0.5 < waited < 5
    assert 30 <= int(r.headers["retry-after"]) <= 40
    assert "resting" in r.json()["error"]["message"] and r.json()["error"]["code"] == "rate_limit_exceeded"
    gpt = openai.OpenAI(base_url=proxy.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.RateLimitError):
        gpt.chat.completions.create(model="pool-model", messages=[{"role": "user", "content": "x"}])


def test_a_streaming_429_reaches_the_client_at_once_and_the_next_try_lands_elsewhere(
    pools: tuple[ProxyHandle, FakeUpstream],
) -> None:
    proxy, up = pools
    up.programs["key-a"] = KeyProgram(status=429, retry_after="30")
    statuses = []
    for _ in range(2):
        r = chat(proxy, stream=True)
        statuses.append((r.status_code, r.headers.get("retry-after"), r.headers.get("x-turnout-attempts")))
    assert all(status == 200 or (status, retry) == (429, "30") for status, retry, _ in statuses)
    assert all(attempts in (None, "1") for *_, attempts in statuses)  # streams are never retried
    assert 429 in [s for s, *_ in statuses]
    after = len(up.requests)
    for _ in range(3):
        assert chat(proxy, stream=True).status_code == 200
    assert set(keys_used(up, after)) == {"key-b"}


def test_rate_governor_spaces_requests(pools: tuple[ProxyHandle, FakeUpstream]) -> None:
    proxy, up = pools

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=10) as client:
            rs = await asyncio.gather(
                *(
                    client.post(
                        proxy.url + "/v1/chat/completions", json={"model": "gov-model", "messages": []}
                    )
                    for _ in range(4)
                )
            )
        return [r.status_code for r in rs]

    started = time.monotonic()
    assert asyncio.run(burst()) == [200] * 4
    assert time.monotonic() - started >= 0.45  # 3 gaps of 150 ms
    arrivals = [r for r in up.requests if r.json().get("model") == "gov-model"]
    assert len(arrivals) == 4


def test_a_full_wait_queue_answers_429_at_once(tmp_path: Path) -> None:
    with FakeUpstream() as up:
        config = tmp_path / "config.yaml"
        config.write_text(
            CONFIG.format(up=up.url, db=tmp_path / "a.sqlite3").replace(
                "queue_timeout: 0.6", "queue_timeout: 30, queue_max: 0"
            )
        )
        proxy = start_proxy_thread(
            ServerSettings(
                port=0, config=str(config), confdir=str(tmp_path / "certs"), discover=False, api_key=""
            )
        )
        try:
            up.programs["key-a"] = up.programs["key-b"] = KeyProgram(status=429, retry_after="40")
            chat(proxy)
            started = time.monotonic()
            r = chat(proxy)
            assert r.status_code == 429 and time.monotonic() - started < 2
            assert "queue is full" in r.json()["error"]["message"]
        finally:
            proxy.stop()


def test_a_clients_malformed_request_never_cools_the_key(pools: tuple[ProxyHandle, FakeUpstream]) -> None:
    proxy, up = pools
    bad = [
        {"messages": 1},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]},
        {"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"},
        {"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": 5}]},
    ]
    for extra in bad:
        r = httpx.post(
            proxy.url + "/v1/chat/completions", json={"model": "claude-primary-1", **extra}, timeout=10
        )
        assert r.status_code == 400, r.text
        assert r.json()["error"]["type"] == "invalid_request_error"
    assert not up.requests  # nothing malformed was forwarded
    accounts = httpx.get(proxy.url + "/accounts").json()
    claudeish = [a for a in accounts["keys"] if a["backend"] == "claudeish"]
    assert [(a["status"], a["requests"]) for a in claudeish] == [("ok", 0)]
    started = time.monotonic()
    good = httpx.post(
        proxy.url + "/v1/chat/completions",
        json={"model": "claude-primary-1", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert good.status_code == 200 and good.headers["x-turnout-backend"] == "claudeish"
    assert time.monotonic() - started < 2

"""A client that gives up is the client's abort: never the backend's failure, never a queue slot.

Users press Esc in Claude Code, tools time out, load generators stop: each cancels
requests in flight. Those must not rest the key (with one key every later request would
wait out ``error_cooldown``) and must leave the wait queue at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.upstream import FakeUpstream
from turnout.core.store import read_rows
from turnout.server import ProxyHandle, ServerSettings, start_proxy_thread

CONFIG = """
backends:
  solo:
    kind: openai-compat
    base_url: {up}/v1
    key: key-solo
    models: [solo-model, solo-model-slow]
  narrow:
    kind: openai-compat
    base_url: {up}/v1
    key: key-narrow
    models: [narrow-model, narrow-model-slow]
    max_concurrent: 1
pool: {{error_cooldown: 30, queue_timeout: 30}}
analytics: {{path: {db}}}
autodetect: {{environment: false, local: false}}
"""


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[ProxyHandle, FakeUpstream, Path]]:
    db = tmp_path / "analytics.sqlite3"
    with FakeUpstream(slow_seconds=3) as up:
        config = tmp_path / "config.yaml"
        config.write_text(CONFIG.format(up=up.url, db=db))
        proxy = start_proxy_thread(
            ServerSettings(port=0, config=str(config), confdir=str(tmp_path / "certs"), discover=False)
        )
        try:
            yield proxy, up, db
        finally:
            proxy.stop()


async def _abandon(url: str, model: str, n: int, after: float) -> None:
    """``n`` requests that the client cancels after ``after`` seconds, before any answer."""
    async with httpx.AsyncClient(timeout=after) as client:
        tasks = [
            client.post(url + "/v1/chat/completions", json={"model": model, "messages": []}) for _ in range(n)
        ]
        results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, httpx.TimeoutException) for r in results), results


def _accounts(url: str) -> dict:
    return httpx.get(url + "/accounts").json()


def test_cancelled_requests_do_not_rest_the_only_key(rig: tuple[ProxyHandle, FakeUpstream, Path]) -> None:
    proxy, _, db = rig
    asyncio.run(_abandon(proxy.url, "solo-model-slow", 8, 0.3))
    time.sleep(0.2)  # the proxy sees the disconnects
    key = next(k for k in _accounts(proxy.url)["keys"] if k["backend"] == "solo")
    assert key["status"] == "ok" and key["errors"] == 0, key
    # Served at once: a rested key would hold it for error_cooldown (30 s) past this timeout.
    r = httpx.post(
        proxy.url + "/v1/chat/completions", json={"model": "solo-model", "messages": []}, timeout=5
    )
    assert r.status_code == 200
    proxy.stop()
    rows = [r for r in read_rows(db) if r["model_asked"] == "solo-model-slow"]
    assert len(rows) == 8
    assert all(r["status"] == 499 and r["aborted"] == 1 for r in rows), rows
    assert not any("Unreachable" in (r["error"] or "") for r in rows), rows


def test_abandoned_requests_leave_the_wait_queue_at_once(rig: tuple[ProxyHandle, FakeUpstream, Path]) -> None:
    proxy, _, db = rig

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=10) as holder:
            # One slow request holds the backend's only slot; then 6 wait and are abandoned.
            hold = asyncio.ensure_future(
                holder.post(
                    proxy.url + "/v1/chat/completions", json={"model": "narrow-model-slow", "messages": []}
                )
            )
            await asyncio.sleep(0.3)
            await _abandon(proxy.url, "narrow-model", 6, 0.4)
            await asyncio.sleep(0.3)
            assert _accounts(proxy.url)["waiting"] == 0  # every abandoned request left the queue
            assert (await hold).status_code == 200

    asyncio.run(scenario())
    r = httpx.post(
        proxy.url + "/v1/chat/completions", json={"model": "narrow-model", "messages": []}, timeout=5
    )
    assert r.status_code == 200
    assert _accounts(proxy.url)["governors"]["narrow"]["in_flight"] == 0
    proxy.stop()
    rows = [r for r in read_rows(db) if r["model_asked"] == "narrow-model"]
    assert sorted(r["status"] for r in rows) == [200] + [499] * 6


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/responses", {"model": "solo:solo-model-chunks-300", "input": "hi", "stream": True}),
        (
            "/v1beta/models/solo:solo-model-chunks-300:streamGenerateContent?alt=sse",
            {"contents": [{"parts": [{"text": "hi"}]}]},
        ),
    ],
    ids=["responses", "gemini"],
)
def test_a_hub_client_hanging_up_mid_stream_is_its_abort(tmp_path: Path, path: str, body: dict) -> None:
    """A Codex or Gemini CLI user who stops a translated stream halfway: recorded as the
    client's abort, the key untouched, the next request served at once."""
    db = tmp_path / "analytics.sqlite3"
    with FakeUpstream(chunk_pause=0.01) as up:
        config = tmp_path / "config.yaml"
        config.write_text(CONFIG.format(up=up.url, db=db))
        proxy = start_proxy_thread(
            ServerSettings(port=0, config=str(config), confdir=str(tmp_path / "certs"), discover=False)
        )
        try:
            with httpx.stream("POST", proxy.url + path, json=body, timeout=10) as r:
                assert r.status_code == 200
                got = b""
                for chunk in r.iter_bytes():
                    got += chunk
                    if len(got) > 2000:
                        break  # the user pressed Esc: the connection closes mid-stream
            time.sleep(0.5)
            key = next(k for k in _accounts(proxy.url)["keys"] if k["backend"] == "solo")
            assert key["status"] == "ok" and key["errors"] == 0, key
            short = path.replace("-chunks-300", "")  # the same client, a short answer
            again = httpx.post(
                proxy.url + short, json=json.loads(json.dumps(body).replace("-chunks-300", ""))
            )
            assert again.status_code == 200
            assert b"response.completed" in again.content or b'"finishReason":"STOP"' in again.content
            assert httpx.get(proxy.url + "/health").status_code == 200
        finally:
            proxy.stop()
    abandoned, served = [r for r in read_rows(db) if r["stream"] == 1]
    assert abandoned["aborted"] == 1 and abandoned["error"] is not None
    assert served["aborted"] == 0 and served["status"] == 200

"""The chain's error boundaries and the retry policy, through a real proxy.

A concern that raises is isolated: the client gets an honest answer in its dialect
(never an upstream 200 body under a 500 status, never a forwarded request after a
request-phase failure), and the other concerns still run, so analytics still records.
Retries go through the same placement policy as first tries, governors included.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Rig
from tests.fakes.upstream import FakeUpstream, KeyProgram
from turnout.core.store import read_rows
from turnout.server import ProxyHandle, ServerSettings, start_proxy_thread


def _rows(rig: Rig, model: str) -> list[dict]:
    httpx.get(rig.url + "/analytics")  # flushes the store
    return [r for r in read_rows(rig.config.parent / "analytics.sqlite3") if r["model_asked"] == model]


def test_a_request_phase_failure_fails_closed_and_is_still_recorded(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import turnout.core.runtime as runtime

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("synthetic")

    monkeypatch.setattr(runtime, "build_upstream", broken)
    before = len(rig.upstream.requests)
    r = httpx.post(rig.url + "/v1/chat/completions", json={"model": "house-boundary-1", "messages": []})
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert (
        r.json()["error"]["message"]
        == "turnout failed inside its Router concern (KeyError); see the proxy log."
    )
    assert len(rig.upstream.requests) == before  # never forwarded
    [row] = _rows(rig, "house-boundary-1")
    assert row["status"] == 500 and row["error"] == "InternalError"
    # turnout's own failure says nothing of the backend: its key is neither counted nor cooled.
    [key] = [k for k in httpx.get(rig.url + "/accounts").json()["keys"] if k["backend"] == "oai"]
    assert key["status"] == "ok" and key["errors"] == 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_response_headers_failure_never_sends_the_upstreams_body_under_its_status(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    import turnout.addons.relay as relay

    def broken(*args: object) -> None:
        raise RuntimeError("synthetic")

    monkeypatch.setattr(relay, "is_sse", broken)  # called by Relay.responseheaders
    model = f"house-boundary-{int(stream) + 2}"
    r = httpx.post(rig.url + "/v1/chat/completions", json={"model": model, "stream": stream, "messages": []})
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert error["type"] == "server_error" and "inside its Relay concern (RuntimeError)" in error["message"]
    assert "chatcmpl" not in r.text and "data:" not in r.text  # nothing of the upstream's answer
    [row] = _rows(rig, model)  # the analytics concern ran all the same
    assert row["status"] == 500 and row["backend"] == "oai"


CONFIG = """
backends:
  primary:
    kind: openai-compat
    base_url: {up}/v1
    key: key-primary
  gov:
    kind: openai-compat
    base_url: {up}/v1
    key: key-gov
    max_concurrent: 1
    models: [gov-model-slow]
routes:
  - {{match: "failing-model", backend: primary, fallbacks: ["gov/gov-model"]}}
pool: {{queue_timeout: 20, attempts: 3, error_cooldown: 0.1}}
analytics: {{enabled: false}}
autodetect: {{environment: false, local: false}}
"""


@pytest.fixture
def governed(tmp_path: Path) -> Iterator[tuple[ProxyHandle, FakeUpstream]]:
    with FakeUpstream(slow_seconds=1.5) as up:
        config = tmp_path / "config.yaml"
        config.write_text(CONFIG.format(up=up.url))
        proxy = start_proxy_thread(
            ServerSettings(port=0, config=str(config), confdir=str(tmp_path / "certs"), discover=False)
        )
        try:
            yield proxy, up
        finally:
            proxy.stop()


def test_a_failover_retry_waits_for_its_governor(governed: tuple[ProxyHandle, FakeUpstream]) -> None:
    """The fallback allows one request at a time and a slow one holds it: the retry must
    wait for the slot (the old failover sent it at once, past the governor)."""
    proxy, up = governed
    up.programs["key-primary"] = KeyProgram(status=500)

    async def scenario() -> tuple[httpx.Response, httpx.Response, float]:
        async with httpx.AsyncClient(timeout=30) as client:
            post = client.post
            holder = asyncio.ensure_future(
                post(proxy.url + "/v1/chat/completions", json={"model": "gov-model-slow", "messages": []})
            )
            await asyncio.sleep(0.3)  # the slow request holds gov's only slot
            retried = await post(
                proxy.url + "/v1/chat/completions", json={"model": "failing-model", "messages": []}
            )
            return await holder, retried, time.monotonic()

    holder, retried, _ = asyncio.run(scenario())
    assert holder.status_code == 200 and retried.status_code == 200
    assert retried.headers["x-turnout-attempts"] == "2" and retried.headers["x-turnout-backend"] == "gov"
    slow = next(r for r in up.requests if r.json()["model"] == "gov-model-slow")
    retry = next(r for r in up.requests if r.json()["model"] == "gov-model")
    # The retry reached the upstream only once the slow request (1.5 s) had given the slot back.
    assert retry.at - slow.at >= 1.4
    accounts = httpx.get(proxy.url + "/accounts").json()
    assert accounts["governors"]["gov"]["in_flight"] == 0 and accounts["waiting"] == 0

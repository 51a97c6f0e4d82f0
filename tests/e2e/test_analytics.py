"""Analytics: every request recorded exactly once, tokens and cost, the views."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.e2e.conftest import start_rig
from tests.fakes.upstream import FakeUpstream
from turnout.core.store import read_rows
from turnout.server import ProxyHandle


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[ProxyHandle, FakeUpstream, Path]]:
    # One event per write: the proxy, the upstream and the clients share this process's GIL.
    with FakeUpstream(odd_splits=False, chunk_pause=0) as up:
        proxy = start_rig(tmp_path, up)
        try:
            yield proxy, up, tmp_path / "analytics.sqlite3"
        finally:
            proxy.stop()


def test_a_thousand_concurrent_requests_are_each_recorded_once(
    rig: tuple[ProxyHandle, FakeUpstream, Path],
) -> None:
    proxy, _, db = rig

    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:

            async def one(i: int) -> int:
                body = {"model": f"compat:m-{i}", "stream": i % 4 == 0, "messages": []}
                r = await client.post(proxy.url + "/v1/chat/completions", json=body)
                return r.status_code

            return await asyncio.gather(*(one(i) for i in range(1000)))

    assert asyncio.run(run()) == [200] * 1000
    proxy.stop()  # shutdown drains the writer: nothing recorded is lost
    rows = read_rows(db)
    assert sorted(r["model_asked"] for r in rows) == sorted(f"compat:m-{i}" for i in range(1000))
    streamed = [r for r in rows if r["stream"]]
    assert len(streamed) == 250 and all(r["tokens_out"] == 20 and r["tokens_in"] == 9 for r in streamed)
    assert all(r["tokens_out"] == 4 for r in rows if not r["stream"])


def test_tokens_cost_latency_and_errors_are_recorded(rig: tuple[ProxyHandle, FakeUpstream, Path]) -> None:
    proxy, _, db = rig
    claude = anthropic.Anthropic(base_url=proxy.url, api_key="x", max_retries=0)
    claude.messages.create(
        model="claude-sonnet-5-5", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    )
    with claude.messages.stream(
        model="gpt-4o", max_tokens=5, messages=[{"role": "user", "content": "x"}]
    ) as s:
        s.get_final_message()
    httpx.post(proxy.url + "/v1/chat/completions", json={"model": "dead-model", "messages": []})
    httpx.post(proxy.url + "/v1/chat/completions", json={"model": "limited:groq-error-429", "messages": []})
    nowhere = httpx.post(
        proxy.url + "/v1/chat/completions", json={"model": "no-such-model-9", "messages": []}
    )
    assert nowhere.status_code == 404
    gemini = proxy.url + "/v1beta/models/claude-haiku-5-5:generateContent"
    httpx.post(gemini, json={"contents": [{"parts": [{"text": "x"}]}]})
    proxy.stop()
    rows = {r["model_asked"]: r for r in read_rows(db)}
    sonnet = rows["claude-sonnet-5-5"]
    assert (
        sonnet["backend"],
        sonnet["key_alias"],
        sonnet["status"],
        sonnet["tokens_in"],
        sonnet["tokens_out"],
    ) == ("anth", "default", 200, 11, 4)
    assert sonnet["cost"] == pytest.approx((11 * 3 + 4 * 15) / 1e6)
    assert sonnet["latency_ms"] > 0 and sonnet["ttfb_ms"] is not None and sonnet["dialect"] == "anthropic"
    translated = rows["gpt-4o"]
    assert (translated["stream"], translated["tokens_in"], translated["tokens_out"]) == (1, 9, 20)
    assert translated["cost"] == pytest.approx((9 * 2.5 + 20 * 10) / 1e6)
    assert rows["dead-model"]["status"] == 502 and rows["dead-model"]["error"] == "BackendUnreachable"
    limited = rows["limited:groq-error-429"]
    assert limited["status"] == 429 and limited["attempts"] == 2
    assert rows["no-such-model-9"]["status"] == 404 and rows["no-such-model-9"]["error"] == "NoRouteError"
    from_gemini = rows["claude-haiku-5-5"]  # a Gemini client, translated: its row like any other
    assert (from_gemini["dialect"], from_gemini["status"], from_gemini["backend"]) == ("gemini", 200, "anth")
    assert from_gemini["tokens_out"] == 4


def test_views(rig: tuple[ProxyHandle, FakeUpstream, Path]) -> None:
    proxy, _, _ = rig
    for model in ("gpt-4o", "claude-sonnet-5-5", "dead-model"):
        httpx.post(proxy.url + "/v1/chat/completions", json={"model": model, "messages": []})
    httpx.post(
        proxy.url + "/v1/messages", json={"model": "claude-sonnet-5-5", "max_tokens": 5, "messages": []}
    )
    report = httpx.get(proxy.url + "/analytics").json()
    hour = report["last_hour"]
    assert hour["totals"]["requests"] >= 3 and hour["totals"]["errors"] >= 1
    assert set(hour["by_backend"]) >= {"oai", "anth"} and "anth/default" in hour["by_key"]
    assert hour["by_backend"]["oai"]["latency_p50_ms"] > 0 and report["burn"]["tokens_per_minute"] > 0
    assert report["all_time"]["totals"]["requests"] == hour["totals"]["requests"]
    metrics = httpx.get(proxy.url + "/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    assert "# TYPE turnout_requests_total counter" in text
    assert re.search(r'^turnout_requests_total\{backend="oai",model="gpt-4o",status="200"\} 1$', text, re.M)
    assert re.search(r'^turnout_key_headroom_ratio\{backend="oai",key="default"\} 0\.96', text, re.M)
    assert re.search(r"^turnout_queue_waiting 0$", text, re.M)
    for line in text.splitlines():
        assert line.startswith("#") or re.match(r"^[a-z_]+(\{[^}]*\})? -?[0-9.e+-]+$", line), line


def test_client_aborts_and_requests_cut_by_shutdown_are_recorded(
    rig: tuple[ProxyHandle, FakeUpstream, Path],
) -> None:
    proxy, _, db = rig
    body = {"model": "claude-slow-slow", "max_tokens": 5, "messages": []}
    with pytest.raises(httpx.ReadTimeout):  # the client gives up first
        httpx.post(proxy.url + "/v1/messages", json=body, timeout=0.2)
    time.sleep(1)  # the backend's 0.5 s timeout ends the flow
    with pytest.raises(httpx.ReadTimeout):  # and this one is still in flight at shutdown
        httpx.post(proxy.url + "/v1/messages", json=body, timeout=0.2)
    proxy.stop()
    rows = [r for r in read_rows(db) if r["model_asked"] == "claude-slow-slow"]
    assert len(rows) == 2 and all(r["aborted"] == 1 and r["status"] == 499 for r in rows), rows
    # cut by shutdown: recorded either by the shutdown sweep or by the upstream connection closing first
    assert rows[1]["error"] in ("shutdown", "BackendUnreachable", "BackendTimeout")


def test_made_up_model_names_cannot_grow_metrics_or_reports(
    rig: tuple[ProxyHandle, FakeUpstream, Path],
) -> None:
    proxy, _, _ = rig

    async def flood() -> None:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=32), timeout=60) as client:
            await asyncio.gather(
                *(
                    client.post(
                        proxy.url + "/v1/chat/completions", json={"model": f"compat:x{i}", "messages": []}
                    )
                    for i in range(600)
                )
            )

    asyncio.run(flood())
    labels = set(
        re.findall(
            r'^turnout_requests_total\{[^}]*model="([^"]*)"', httpx.get(proxy.url + "/metrics").text, re.M
        )
    )
    assert len(labels) <= 201 and "(other)" in labels
    report = httpx.get(proxy.url + "/analytics").json()
    assert len(report["last_hour"]["by_model"]) <= 201 and report["last_hour"]["totals"]["requests"] >= 600
    assert len(report["all_time"]["by_model"]) <= 101 and "(other)" in report["all_time"]["by_model"]
    assert report["all_time"]["totals"]["requests"] == report["last_hour"]["totals"]["requests"]


def test_the_window_asked_for_and_a_bad_one(rig: tuple[ProxyHandle, FakeUpstream, Path]) -> None:
    proxy, _, _ = rig
    httpx.post(proxy.url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": []})
    hour = httpx.get(proxy.url + "/analytics", params={"since": "3600"}).json()
    assert hour["all_time"] == hour["last_hour"] and hour["last_hour"]["totals"]["requests"] == 1
    recent = httpx.get(proxy.url + "/analytics", params={"since": "60"}).json()
    assert recent["all_time"]["totals"]["requests"] == 1 and recent["all_time"]["generated_at"] > 0
    for bad in ("abc", "-5", "nan", "1e300"):
        r = httpx.get(proxy.url + "/analytics", params={"since": bad})
        assert r.status_code == 400 and "since= takes a number of seconds" in r.json()["error"]["message"]


def test_a_restarted_proxy_still_shows_the_last_hour(tmp_path: Path) -> None:
    with FakeUpstream(odd_splits=False, chunk_pause=0) as up:
        first = start_rig(tmp_path, up)
        try:
            for _ in range(5):
                httpx.post(first.url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": []})
        finally:
            first.stop()
        second = start_rig(tmp_path, up)
        try:
            deadline = time.monotonic() + 10
            while (hour := httpx.get(second.url + "/analytics").json()["last_hour"])["totals"][
                "requests"
            ] < 5:
                assert time.monotonic() < deadline, hour["totals"]
                time.sleep(0.1)
            assert hour["by_backend"]["oai"]["requests"] == 5 and hour["totals"]["requests"] == 5
        finally:
            second.stop()


def test_requests_refused_before_routing_and_odd_usages_still_get_their_row(tmp_path: Path) -> None:
    from tests.fakes.faults import FaultUpstream

    with FaultUpstream() as up:
        proxy = start_rig(tmp_path, up)
        try:
            url = proxy.url
            refused = [
                httpx.post(url + "/v1/nope", json={"model": "gpt-4o"}),
                httpx.get(url + "/v1/chat/completions"),
                httpx.post(
                    url + "/v1/chat/completions",
                    content=b"{not json",
                    headers={"content-type": "application/json"},
                ),
                httpx.post(
                    url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": "x" * (2 << 20)}
                ),
                httpx.post(
                    url + "/v1/messages", json={"model": "x"}, headers={"origin": "https://evil.example"}
                ),
                httpx.post(url + "/health", json={}),
            ]
            assert [r.status_code for r in refused] == [404, 400, 400, 413, 403, 404]
            odd = httpx.post(
                url + "/v1/chat/completions", json={"model": "oai:fault-odd-usage", "messages": []}
            )
            assert odd.status_code == 200
            for _ in range(3):
                httpx.get(url + "/health")  # local reads are not traffic: no rows
            httpx.get(url + "/analytics")  # flushes
        finally:
            proxy.stop()
    rows = read_rows(tmp_path / "analytics.sqlite3")
    assert sorted(r["status"] for r in rows) == sorted([404, 400, 400, 413, 403, 404, 200])
    assert {r["dialect"] for r in rows if r["status"] == 403} == {"anthropic"}
    [usage] = [r for r in rows if r["status"] == 200]
    assert usage["tokens_in"] == 0 and usage["model_asked"] == "oai:fault-odd-usage"

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from mitmproxy import http
from mitmproxy.test import taddons

from tests.addons.helpers import routed, runtime
from turnout.addons._flows import Exchanges
from turnout.addons.analytics import Analytics
from turnout.core.models import AnalyticsSettings, Config
from turnout.core.passthrough import PassThrough
from turnout.core.runtime import Runtime
from turnout.core.store import read_rows


def with_store(tmp_path: Path) -> Runtime:
    rt = runtime()
    cfg = rt.config
    rt.install(
        Config(
            cfg.backends, cfg.routes, cfg.aliases, analytics=AnalyticsSettings(path=str(tmp_path / "a.db"))
        )
    )
    return rt


async def test_a_response_becomes_one_row_with_tokens_and_cost(tmp_path: Path) -> None:
    rt, exchanges = with_store(tmp_path), Exchanges()
    addon = Analytics(rt, exchanges)
    f, exchange = routed(rt, exchanges)
    exchange.begin(exchange.placement)  # type: ignore[arg-type]  # a second attempt, by failover
    body = orjson.dumps({"usage": {"prompt_tokens": 1000, "completion_tokens": 100}})
    f.response = http.Response.make(
        200, body, {"content-type": "application/json", "x-turnout-attempts": "2"}
    )
    with taddons.context(addon):
        addon.running()
        addon.responseheaders(f)
        addon.response(f)
        addon.response(f)  # recorded once
        assert not rt.counters.requests  # nothing written yet: rows go in batches
        await asyncio.sleep(addon.LINGER * 3)  # the batch timer writes it
        assert sum(rt.counters.requests.values()) == 1
        assert rt.counters.tokens[("oai", "gpt-4o", "tokens_in")] == 1000
        assert rt.counters.cost[("oai", "gpt-4o")] == (1000 * 2.5 + 100 * 10) / 1e6
        await addon.done()
    [row] = read_rows(tmp_path / "a.db")
    assert (row["attempts"], row["tokens_out"], row["status"], row["ttfb_ms"] is not None) == (
        2,
        100,
        200,
        True,
    )


async def test_streams_get_a_sniffer_and_shutdown_records_what_is_in_flight(tmp_path: Path) -> None:
    rt, exchanges = with_store(tmp_path), Exchanges()
    addon = Analytics(rt, exchanges)
    (streamed, _), _in_flight = routed(rt, exchanges), routed(rt, exchanges)
    streamed.response = http.Response.make(200, b"", {"content-type": "text/event-stream"})
    streamed.response.stream = True
    with taddons.context(addon):
        addon.running()
        addon.responseheaders(streamed)
        await addon.done()
    assert isinstance(streamed.response.stream, PassThrough)
    assert rt.counters.requests[("oai", "gpt-4o", "499")] == 1
    assert [r["error"] for r in read_rows(tmp_path / "a.db")] == ["shutdown"]


async def test_nothing_is_kept_when_analytics_are_off() -> None:
    rt, exchanges = runtime(), Exchanges()
    addon = Analytics(rt, exchanges)
    f, _ = routed(rt, exchanges)
    f.response = http.Response.make(200, b"{}")
    with taddons.context(addon) as tctx:
        tctx.options.turnout_analytics = False
        addon.running()
        addon.response(f)
    assert rt.store is None and not rt.counters.requests


async def test_a_row_that_cannot_be_built_is_logged_and_the_rest_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rt, exchanges = with_store(tmp_path), Exchanges()
    addon = Analytics(rt, exchanges)
    (broken, _), (good, _) = routed(rt, exchanges), routed(rt, exchanges)
    broken.response = http.Response.make(200, b"{}")
    broken.request.timestamp_start = "not a time"  # type: ignore[assignment]  # the row's arithmetic fails
    good.response = http.Response.make(200, b"{}")
    with taddons.context(addon):
        addon.running()
        addon.response(broken)  # must not raise into mitmproxy: the answer is already made
        addon.response(good)
        await addon.done()
    assert "could not build the analytics row of /v1/chat/completions" in caplog.text
    assert len(read_rows(tmp_path / "a.db")) == 1

"""The live last hour agrees with a plain reading of the rows: exactly in counts, within 1 %
in percentiles; it forgets what leaves the hour and stays small whatever models are asked."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.test_report import oracle, row_strategy
from turnout.core.analytics import OTHER, Names
from turnout.core.live import Recent, Window
from turnout.core.store import Record

NOW = 1_000_000.0
PERCENTILES = ("latency_p50_ms", "latency_p95_ms", "ttfb_p50_ms", "ttfb_p95_ms")


def close(live: dict[str, Any], exact: dict[str, Any]) -> None:
    for field, value in exact.items():
        if field in PERCENTILES and value is not None:
            assert live[field] == pytest.approx(value, rel=0.011, abs=0.1 + 1e-9), field
        else:
            assert live[field] == value, field


def agree(live: dict[str, Any], exact: dict[str, Any]) -> None:
    close(live["totals"], exact["totals"])
    for kind in ("by_backend", "by_model", "by_key"):
        assert set(live[kind]) == set(exact[kind])
        for name in exact[kind]:
            close(live[kind][name], exact[kind][name])


@settings(max_examples=60, deadline=None)
@given(st.lists(row_strategy, max_size=60))
def test_the_window_agrees_with_the_rows(rows: list[dict[str, Any]]) -> None:
    names = Names()
    names.known |= {"a", "b", "c", "(none)"}  # labels already (the oracle knows no other)
    window = Window(names)
    for r in rows:
        r["ts"] = NOW - 4000 + r["ts"] * 0.4  # spread over 4,000 s: some left the hour
    for r in sorted(rows, key=lambda r: r["ts"]):
        window.add(Record(**r))
    hour = [r for r in rows if r["ts"] // 60 > NOW // 60 - 60]  # the window is minute-aligned
    agree(window.stats(NOW), oracle(hour))


def test_rows_added_out_of_order_land_in_their_own_minute() -> None:
    window = Window(Names())
    rows = [record(ts) for ts in (NOW - 100, NOW - 3000, NOW - 5000)]
    for row in rows:  # newest first, as a restart's seed may meet live requests
        window.add(row)
    assert window.stats(NOW)["totals"]["requests"] == 2  # the 5,000 s old one is not in the hour
    assert window.burn(NOW)["requests_per_minute"] == 0.1  # one in the last ten minutes
    assert window.stats(NOW + 700)["totals"]["requests"] == 1  # then the 3,000 s one leaves
    assert window.stats(NOW + 3600)["totals"]["requests"] == 0


def record(ts: float, model: str = "m", status: int = 200) -> Record:
    return Record(
        **{
            **dict.fromkeys(Record._fields, 0),
            **{
                "ts": ts,
                "dialect": "openai",
                "model_asked": model,
                "route": "r",
                "backend": "b",
                "key_alias": "k",
                "model_served": model,
                "status": status,
                "attempts": 1,
                "latency_ms": 10.0,
                "ttfb_ms": 5.0,
                "error": None,
                "cost": None,
                "entry": "",
            },
        }
    )


def test_thirty_thousand_made_up_models_make_one_group() -> None:
    names = Names(limit=50)
    window = Window(names)
    rng = random.Random(7)
    for i in range(30_000):
        model = f"b:{rng.getrandbits(64):x}"
        window.add(record(NOW - i * 0.1, model, status=404))
    for i in range(60):
        window.add(record(NOW, f"real-{i}"))
    by_model = window.stats(NOW)["by_model"]
    assert len(by_model) == 51 and by_model[OTHER]["requests"] == 30_010
    assert len(names.known) == 50


def test_the_last_ten_seconds_count_every_4xx_and_5xx_and_forget_the_rest() -> None:
    window = Window(Names())
    for ts, status in (
        (NOW - 30, 200),
        (NOW - 12, 500),
        (NOW - 5, 200),
        (NOW - 4, 429),
        (NOW - 3, 503),
        (NOW, 200),
    ):
        window.add(record(ts, status=status))
    now = window.recent.rates(NOW)
    assert now["requests_per_second"] == 0.4 and now["errors"] == 2 and now["error_rate"] == 0.5
    recent = Recent(seconds=5)
    for second in range(100):
        recent.add(record(NOW + second))
    assert len(recent._by_second) <= 5 and recent.rates(NOW + 99, seconds=5)["requests_per_second"] == 1.0

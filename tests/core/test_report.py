"""The SQL report says what a plain reading of the rows says (that reading is the oracle here)."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.test_analytics import rows as sample_rows
from turnout.core.analytics import TOKEN_KINDS
from turnout.core.report import report, report_from
from turnout.core.store import COLUMNS, SCHEMA, Record


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(int(q * len(values)), len(values) - 1)], 1)


def window_stats(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    errors = sum(1 for r in rows if r["status"] >= 400 or r["status"] == 0)
    latencies = [r["latency_ms"] for r in rows]
    ttfb = [r["ttfb_ms"] for r in rows if r["ttfb_ms"] is not None]
    out: dict[str, Any] = {
        "requests": len(rows),
        "errors": errors,
        "error_rate": round(errors / len(rows), 4) if rows else 0.0,
        "cost": round(sum(r["cost"] or 0.0 for r in rows), 6),
        "latency_p50_ms": _percentile(latencies, 0.5),
        "latency_p95_ms": _percentile(latencies, 0.95),
        "ttfb_p50_ms": _percentile(ttfb, 0.5),
        "ttfb_p95_ms": _percentile(ttfb, 0.95),
        "failovers": sum(1 for r in rows if r["attempts"] > 1),
        "aborted": sum(1 for r in rows if r["aborted"]),
        "scrubbed": sum(r["scrubbed"] for r in rows),
    }
    for kind in TOKEN_KINDS:
        out[kind] = sum(r[kind] or 0 for r in rows)
    return out


def oracle(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {
        "by_backend": defaultdict(list),
        "by_model": defaultdict(list),
        "by_key": defaultdict(list),
        "by_entry": defaultdict(list),
    }
    for r in rows:
        groups["by_entry"][r["entry"] or "local endpoint"].append(r)
        groups["by_backend"][r["backend"] or "(local)"].append(r)
        groups["by_model"][r["model_served"] or r["model_asked"] or "(none)"].append(r)
        if r["key_alias"]:
            groups["by_key"][f"{r['backend']}/{r['key_alias']}"].append(r)
    out: dict[str, Any] = {"totals": window_stats(rows)}
    for name, group in groups.items():
        out[name] = {k: window_stats(v) for k, v in sorted(group.items())}
    return out


def database(rows: Sequence[dict[str, Any]]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA)
    db.executemany(
        f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        [Record(**r) for r in rows],
    )
    return db


row_strategy = st.fixed_dictionaries(
    {
        "ts": st.floats(0, 10_000),
        "dialect": st.just("openai"),
        "model_asked": st.sampled_from(["", "a", "b"]),
        "route": st.just("r"),
        "backend": st.sampled_from(["", "x", "y"]),
        "key_alias": st.sampled_from(["", "k1", "k2"]),
        "model_served": st.sampled_from(["", "a", "c"]),
        "stream": st.integers(0, 1),
        "status": st.sampled_from([0, 200, 429, 499, 502]),
        "attempts": st.integers(1, 3),
        "latency_ms": st.floats(0, 1e5).map(lambda v: round(v, 2)),
        "ttfb_ms": st.none() | st.floats(0, 1e5).map(lambda v: round(v, 2)),
        "tokens_in": st.integers(0, 10**6),
        "tokens_out": st.integers(0, 10**6),
        "cache_read": st.integers(0, 100),
        "cache_write": st.integers(0, 100),
        "reasoning": st.integers(0, 100),
        "cost": st.none() | st.floats(0, 10).map(lambda v: round(v, 4)),
        "error": st.none(),
        "aborted": st.integers(0, 1),
        "estimated": st.integers(0, 1),
        "entry": st.sampled_from(["", "intercepted api.openai.com"]),
        "scrubbed": st.integers(0, 3),
    }
)


@settings(max_examples=80, deadline=None)
@given(st.lists(row_strategy, max_size=40), st.floats(0, 10_000))
def test_sql_and_a_plain_reading_agree(rows: list[dict[str, Any]], since: float) -> None:
    now = 10_000.0
    got = report(database(rows), now, since)
    assert got["all_time"] == oracle([r for r in rows if r["ts"] >= since])
    assert got["last_hour"] == oracle([r for r in rows if r["ts"] >= now - 3600])
    recent = [r for r in rows if r["ts"] >= now - 600]
    assert got["burn"]["requests_per_minute"] == round(len(recent) / 10, 2)


def test_groups_percentiles_burn_and_keys() -> None:
    now = 10_000.0
    keys = [{"backend": "b", "alias": "k1", "status": "ok", "headroom": 0.5, "minutes_to_exhaustion": 12.0}]
    got = report(database(sample_rows(now)), now, None, keys)
    hour = got["last_hour"]
    assert (hour["totals"]["requests"], hour["totals"]["errors"], hour["totals"]["error_rate"]) == (
        10,
        1,
        0.1,
    )
    assert hour["totals"]["latency_p50_ms"] == 60.0 and hour["totals"]["latency_p95_ms"] == 100.0
    assert set(hour["by_key"]) == {"b/k1", "b/k2"} and "old" not in hour["by_backend"]
    assert got["all_time"]["by_backend"]["old"]["requests"] == 1
    assert got["keys"][0]["minutes_to_exhaustion"] == 12.0
    assert got["burn"]["tokens_per_minute"] == 7.0 and got["burn"]["dollars_per_hour"] == 0.06


def test_a_store_not_written_yet_reports_nothing(tmp_path: Path) -> None:
    got = report_from(tmp_path / "none.sqlite3", 10_000.0)
    assert got["all_time"]["totals"]["requests"] == 0 and got["all_time"]["by_backend"] == {}
    assert not (tmp_path / "none.sqlite3").exists()

from __future__ import annotations

import re

from tests.core.test_store import record
from turnout.core.analytics import Counters, burn_rate, prometheus, summarize
from turnout.core.store import Record


def rows(now: float) -> list[dict]:
    out = []
    for i in range(10):
        r = record(i, ts=now - 30 * i)._asdict()
        r.update(
            latency_ms=float(i + 1) * 10,
            cost=0.001,
            status=500 if i == 0 else 200,
            key_alias="k1" if i % 2 else "k2",
        )
        out.append(r)
    out.append({**record(99, ts=now - 7200)._asdict(), "backend": "old"})
    return out


def test_summary_groups_percentiles_and_burn() -> None:
    now = 10_000.0
    report = summarize(
        rows(now),
        now,
        [{"backend": "b", "alias": "k1", "status": "ok", "headroom": 0.5, "minutes_to_exhaustion": 12.0}],
    )
    hour = report["last_hour"]
    assert (
        hour["totals"]["requests"] == 10
        and hour["totals"]["errors"] == 1
        and hour["totals"]["error_rate"] == 0.1
    )
    assert hour["totals"]["latency_p50_ms"] == 60.0 and hour["totals"]["latency_p95_ms"] == 100.0
    assert set(hour["by_key"]) == {"b/k1", "b/k2"} and "old" not in hour["by_backend"]
    assert report["all_time"]["by_backend"]["old"]["requests"] == 1
    assert report["keys"][0]["minutes_to_exhaustion"] == 12.0
    burn = burn_rate(rows(now), now, minutes=10)
    assert burn["tokens_per_minute"] == 7.0 and burn["dollars_per_hour"] == 0.06


def test_prometheus_text_format() -> None:
    counters = Counters()
    for r in rows(10_000.0):
        counters.add(Record(**{**r, "model_served": 'we"ird\nmodel'}))
    text = prometheus(counters, [{"backend": "b", "alias": "k1", "status": "cooling", "headroom": 0.25}], 2)
    assert "# TYPE turnout_requests_total counter" in text
    assert 'turnout_requests_total{backend="b",model="we\\"ird\\nmodel",status="200"} 9' in text
    assert 'turnout_key_up{backend="b",key="k1"} 0' in text and "turnout_queue_waiting 2" in text
    for line in text.strip().splitlines():
        assert line.startswith("# ") or re.match(r"^[a-z_]+(\{.*\})? [-0-9.e+]+$", line), line

from __future__ import annotations

import re

from tests.core.test_store import record
from turnout.core.analytics import Counters, prometheus
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

"""What the recorded requests say: per backend, model and key; burn rate; Prometheus.

Pure functions over rows (dicts with the ``Record`` columns) and the pool snapshot;
``/analytics``, ``/metrics``, ``turnout stats`` and ``turnout top`` all use them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Counters", "burn_rate", "prometheus", "summarize", "window_stats"]

TOKEN_KINDS = ("tokens_in", "tokens_out", "cache_read", "cache_write", "reasoning")


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
    }
    for kind in TOKEN_KINDS:
        out[kind] = sum(r[kind] or 0 for r in rows)
    return out


def _grouped(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {
        "by_backend": defaultdict(list),
        "by_model": defaultdict(list),
        "by_key": defaultdict(list),
    }
    for r in rows:
        groups["by_backend"][r["backend"] or "(local)"].append(r)
        groups["by_model"][r["model_served"] or r["model_asked"] or "(none)"].append(r)
        if r["key_alias"]:
            groups["by_key"][f"{r['backend']}/{r['key_alias']}"].append(r)
    out: dict[str, Any] = {"totals": window_stats(rows)}
    for name, group in groups.items():
        out[name] = {k: window_stats(v) for k, v in sorted(group.items())}
    return out


def burn_rate(rows: Sequence[dict[str, Any]], now: float, minutes: float = 10.0) -> dict[str, float]:
    """Tokens per minute and dollars per hour over the last ``minutes``."""
    recent = [r for r in rows if r["ts"] >= now - minutes * 60]
    tokens = sum(
        (r["tokens_in"] or 0) + (r["tokens_out"] or 0) + (r["cache_read"] or 0) + (r["cache_write"] or 0)
        for r in recent
    )
    cost = sum(r["cost"] or 0.0 for r in recent)
    return {
        "window_minutes": minutes,
        "tokens_per_minute": round(tokens / minutes, 1),
        "dollars_per_hour": round(cost * 60 / minutes, 4),
        "requests_per_minute": round(len(recent) / minutes, 2),
    }


def summarize(
    rows: Sequence[dict[str, Any]], now: float, keys: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    return {
        "generated_at": now,
        "last_hour": _grouped([r for r in rows if r["ts"] >= now - 3600]),
        "all_time": _grouped(rows),
        "burn": burn_rate(rows, now),
        "keys": [
            {
                "backend": k["backend"],
                "alias": k["alias"],
                "status": k["status"],
                "headroom": k["headroom"],
                "minutes_to_exhaustion": k["minutes_to_exhaustion"],
            }
            for k in keys
        ],
    }


@dataclass
class Counters:
    """In-memory totals since start, for /metrics (scrapes never touch the database)."""

    requests: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    tokens: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    cost: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    count: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, row: Any) -> None:
        """Count one ``Record`` (anything with its attributes)."""
        backend, model = row.backend or "(local)", row.model_served or row.model_asked or "(none)"
        self.requests[(backend, model, str(row.status))] += 1
        for kind in TOKEN_KINDS:
            if value := getattr(row, kind):
                self.tokens[(backend, model, kind)] += value
        if row.cost:
            self.cost[(backend, model)] += row.cost
        self.seconds[backend] += row.latency_ms / 1000
        self.count[backend] += 1


def _labels(**labels: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"


def prometheus(counters: Counters, keys: Iterable[dict[str, Any]], waiting: int) -> str:
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: Iterable[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    metric(
        "turnout_requests_total",
        "counter",
        "Requests by backend, model and HTTP status.",
        ((_labels(backend=b, model=m, status=s), n) for (b, m, s), n in sorted(counters.requests.items())),
    )
    metric(
        "turnout_tokens_total",
        "counter",
        "Tokens by backend, model and kind.",
        ((_labels(backend=b, model=m, kind=k), n) for (b, m, k), n in sorted(counters.tokens.items())),
    )
    metric(
        "turnout_cost_dollars_total",
        "counter",
        "Estimated cost in US dollars.",
        ((_labels(backend=b, model=m), n) for (b, m), n in sorted(counters.cost.items())),
    )
    metric(
        "turnout_request_duration_seconds_sum",
        "counter",
        "Total request time by backend.",
        ((_labels(backend=b), n) for b, n in sorted(counters.seconds.items())),
    )
    metric(
        "turnout_request_duration_seconds_count",
        "counter",
        "Requests timed, by backend.",
        ((_labels(backend=b), n) for b, n in sorted(counters.count.items())),
    )
    keys = list(keys)
    metric(
        "turnout_key_headroom_ratio",
        "gauge",
        "Smallest remaining/limit the provider reported for a key.",
        ((_labels(backend=k["backend"], key=k["alias"]), k["headroom"]) for k in keys),
    )
    metric(
        "turnout_key_up",
        "gauge",
        "1 if a key takes requests now, 0 if cooling or failed.",
        ((_labels(backend=k["backend"], key=k["alias"]), 1.0 if k["status"] == "ok" else 0.0) for k in keys),
    )
    metric("turnout_queue_waiting", "gauge", "Requests waiting for a key.", [("", waiting)])
    return "\n".join(lines) + "\n"

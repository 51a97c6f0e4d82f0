"""Running totals since start for ``/metrics`` (Prometheus); the report over the stored
rows (``/analytics``, ``turnout stats``, ``turnout top``) is ``report.py``'s."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HOUR", "OTHER", "TOKEN_KINDS", "Counters", "Names", "prometheus"]

TOKEN_KINDS = ("tokens_in", "tokens_out", "cache_read", "cache_write", "reasoning")
OTHER = "(other)"
HOUR = 3600.0


class Names:
    """Model names as labels, at most ``limit`` of them. Clients choose model names: 30,000
    made-up ones must not become 30,000 series in /metrics or groups in /analytics. A name
    becomes a label once a request for it was answered (status below 400), while fewer
    than ``limit`` are known; every other name is counted as ``(other)``."""

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self.known: set[str] = set()

    def model_of(self, row: Any) -> str:
        """The label of a ``Record``'s model. A request the client abandoned was served as
        far as anyone knows: it counts as answered."""
        name = row.model_served or row.model_asked or "(none)"
        return self.label(name, ok=row.status < 400 or bool(row.aborted))

    def label(self, name: str, *, ok: bool) -> str:
        if name in self.known:
            return name
        if ok and len(self.known) < self.limit:
            self.known.add(name)
            return name
        return OTHER


@dataclass
class Counters:
    """In-memory totals since start, for /metrics (scrapes never touch the database)."""

    names: Names = field(default_factory=Names)
    requests: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    tokens: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    cost: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    count: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, row: Any) -> None:
        """Count one ``Record`` (anything with its attributes)."""
        backend = row.backend or "(local)"
        model = self.names.model_of(row)
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

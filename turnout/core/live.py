"""The last hour of requests as running totals, for ``/analytics`` while the proxy serves.

``turnout top`` asks for the last hour every second. Reading it from the database, even
in SQLite on another thread, costs a sort per percentile over every row of the hour
(a third of a second at 25,000 rows), and on a busy machine that CPU comes out of the
proxy's own latency. Here each request is added once, in a few microseconds, to the
totals of its minute; a report sums sixty minutes that were summed as they closed, so
it costs about as much at 25,000 rows an hour as at 25.

The last minute is also kept second by second (``Recent``): ``turnout top`` shows the
last ten seconds next to the last ten minutes, so a burst or an outage shows at once.

Counts, errors (every 4xx and 5xx, and requests that got no answer), tokens and cost
are exact. Latencies are kept as histograms with bins 2 % wide, so a percentile is the
middle of its bin, within 1 % of the exact value (``report.py`` computes exact ones from
the database for ``turnout stats``).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from turnout.core.analytics import TOKEN_KINDS, Names
from turnout.core.store import Record

__all__ = ["Recent", "Window"]

_RATIO = 1.02
_LOG = math.log(_RATIO)
_ZERO = -(10**6)  # the bin of values too small to matter (below 0.01 ms)
_QUANTILES = (("p50", 0.5), ("p95", 0.95))


def _bin(value: float) -> int:
    return math.floor(math.log(value) / _LOG) if value > 0.01 else _ZERO


def _middle(b: int) -> float:
    return 0.0 if b == _ZERO else _RATIO ** (b + 0.5)


class _Totals:
    __slots__ = (
        "aborted",
        "cost",
        "errors",
        "failovers",
        "latency",
        "requests",
        "scrubbed",
        "tokens",
        "ttfb",
    )

    def __init__(self) -> None:
        self.requests = self.errors = self.failovers = self.aborted = self.scrubbed = 0
        self.cost = 0.0
        self.tokens = [0] * len(TOKEN_KINDS)
        self.latency: dict[int, int] = {}
        self.ttfb: dict[int, int] = {}

    def add(self, row: Record, latency: int, ttfb: int | None) -> None:
        self.requests += 1
        self.errors += row.status >= 400 or row.status == 0
        self.failovers += row.attempts > 1
        self.aborted += bool(row.aborted)
        self.scrubbed += row.scrubbed or 0
        self.cost += row.cost or 0.0
        tokens = self.tokens
        tokens[0] += row.tokens_in or 0
        tokens[1] += row.tokens_out or 0
        tokens[2] += row.cache_read or 0
        tokens[3] += row.cache_write or 0
        tokens[4] += row.reasoning or 0
        self.latency[latency] = self.latency.get(latency, 0) + 1
        if ttfb is not None:
            self.ttfb[ttfb] = self.ttfb.get(ttfb, 0) + 1

    def merge(self, other: _Totals, sign: int = 1) -> None:
        self.requests += sign * other.requests
        self.errors += sign * other.errors
        self.failovers += sign * other.failovers
        self.aborted += sign * other.aborted
        self.scrubbed += sign * other.scrubbed
        self.cost += sign * other.cost
        self.tokens = [a + sign * b for a, b in zip(self.tokens, other.tokens, strict=True)]
        for mine, theirs in ((self.latency, other.latency), (self.ttfb, other.ttfb)):
            for b, count in theirs.items():
                if left := mine.get(b, 0) + sign * count:
                    mine[b] = left
                else:
                    mine.pop(b, None)

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.errors / self.requests, 4) if self.requests else 0.0,
            "cost": round(self.cost, 6),
        }
        for name, hist in (("latency", self.latency), ("ttfb", self.ttfb)):
            values = _percentiles(hist)
            for label, _ in _QUANTILES:
                out[f"{name}_{label}_ms"] = values.get(label)
        out.update(failovers=self.failovers, aborted=self.aborted, scrubbed=self.scrubbed)
        out.update(zip(TOKEN_KINDS, self.tokens, strict=True))
        return out


def _percentiles(hist: dict[int, int]) -> dict[str, float]:
    """Nearest-rank percentiles (index ``min(int(q * n), n - 1)``), as bin middles."""
    n = sum(hist.values())
    if not n:
        return {}
    wanted = sorted((min(int(q * n), n - 1), label) for label, q in _QUANTILES)
    out: dict[str, float] = {}
    seen = 0
    for b, count in sorted(hist.items()):
        seen += count
        while wanted and wanted[0][0] < seen:
            out[wanted.pop(0)[1]] = round(_middle(b), 1)
        if not wanted:
            break
    return out


Group = tuple[str, str]  # ("by_backend", "anth"), ("totals", "")
_TOTALS: Group = ("totals", "")


class Recent:
    """The last ``seconds`` seconds, second by second: requests, errors, tokens, cost."""

    def __init__(self, seconds: int = 60) -> None:
        self.seconds = seconds
        self._by_second: dict[int, list[float]] = {}

    def add(self, row: Record) -> None:
        second = int(row.ts)
        counts = self._by_second.get(second)
        if counts is None:
            if len(self._by_second) >= self.seconds:  # forget the oldest seconds
                for old in sorted(self._by_second)[: len(self._by_second) - self.seconds + 1]:
                    del self._by_second[old]
            counts = self._by_second[second] = [0, 0, 0, 0.0]
        counts[0] += 1
        counts[1] += row.status >= 400 or row.status == 0
        counts[2] += (
            (row.tokens_in or 0) + (row.tokens_out or 0) + (row.cache_read or 0) + (row.cache_write or 0)
        )
        counts[3] += row.cost or 0.0

    def rates(self, now: float, seconds: int = 10) -> dict[str, float]:
        """Rates over the ``seconds`` before ``now`` (the second under way included)."""
        since = int(now) - seconds
        requests = errors = tokens = 0
        cost = 0.0
        for second, (r, e, t, c) in self._by_second.items():
            if second > since:
                requests, errors, tokens, cost = requests + int(r), errors + int(e), tokens + int(t), cost + c
        return {
            "window_seconds": float(seconds),
            "requests_per_second": round(requests / seconds, 2),
            "tokens_per_minute": round(tokens * 60 / seconds, 1),
            "dollars_per_hour": round(cost * 3600 / seconds, 4),
            "errors": float(errors),
            "error_rate": round(errors / requests, 4) if requests else 0.0,
        }


class Window:
    """Requests of the last ``minutes`` minutes, by minute, grouped as ``report.py`` groups
    them. Model names go through ``names`` (a flood of made-up models shares one group)."""

    def __init__(self, names: Names, minutes: int = 60) -> None:
        self.names = names
        self.minutes = minutes
        self._closed: deque[tuple[int, dict[Group, _Totals]]] = deque()
        self._closed_sum: dict[Group, _Totals] = {}
        self._minute = 0
        self._current: dict[Group, _Totals] = {}
        self._groups: dict[tuple[str, str, str, str], tuple[Group, ...]] = {}  # a row's groups, made once
        self.recent = Recent()

    def add(self, row: Record) -> None:
        self.recent.add(row)
        minute = int(row.ts // 60)
        if minute > self._minute:
            self.roll(minute)
        if minute == self._minute:
            self._add(self._current, row)
        elif minute > self._minute - self.minutes:  # an older row (the seed at start-up)
            self._add(self._closed_minute(minute), row)
            self._add(self._closed_sum, row)

    def _closed_minute(self, minute: int) -> dict[Group, _Totals]:
        """The totals of a closed minute of the window, made if it had none."""
        for at, (m, groups) in enumerate(reversed(self._closed)):
            if m == minute:
                return groups
            if m < minute:
                self._closed.insert(len(self._closed) - at, (minute, {}))
                return self._closed[len(self._closed) - at - 1][1]
        self._closed.appendleft((minute, {}))
        return self._closed[0][1]

    def _add(self, into: dict[Group, _Totals], row: Record) -> None:
        latency, ttfb = _bin(row.latency_ms), (_bin(row.ttfb_ms) if row.ttfb_ms is not None else None)
        model = self.names.model_of(row)
        entry = row.entry[:120]  # "intercepted <host>": a host the config lets through, or a provider
        groups = self._groups.get((row.backend, model, row.key_alias, entry))
        if groups is None:
            if len(self._groups) >= 4096:  # names are bounded; the products of them, barely
                self._groups.clear()
            groups = (
                _TOTALS,
                ("by_backend", row.backend or "(local)"),
                ("by_model", model),
                ("by_entry", entry or "local endpoint"),
            )
            if row.key_alias:
                groups += (("by_key", f"{row.backend}/{row.key_alias}"),)
            self._groups[(row.backend, model, row.key_alias, entry)] = groups
        for group in groups:
            totals = into.get(group)
            if totals is None:
                totals = into[group] = _Totals()
            totals.add(row, latency, ttfb)

    def roll(self, minute: int) -> None:
        """Close the current minute and forget those that left the window."""
        if minute <= self._minute:
            return
        if self._current:
            self._closed.append((self._minute, self._current))
            _merge_into(self._closed_sum, self._current, 1)
        self._minute, self._current = minute, {}
        while self._closed and self._closed[0][0] <= minute - self.minutes:
            _, old = self._closed.popleft()
            _merge_into(self._closed_sum, old, -1)

    def stats(self, now: float) -> dict[str, Any]:
        """The window's report, shaped as ``report.report``'s ``last_hour``."""
        self.roll(int(now // 60))
        merged: dict[Group, _Totals] = {}
        _merge_into(merged, self._closed_sum, 1)
        _merge_into(merged, self._current, 1)
        out: dict[str, Any] = {"totals": merged.pop(_TOTALS, _Totals()).stats()}
        for kind in ("by_backend", "by_model", "by_key", "by_entry"):
            out[kind] = {name: merged[(k, name)].stats() for k, name in sorted(merged) if k == kind}
        return out

    def burn(self, now: float, minutes: int = 10) -> dict[str, float]:
        """Tokens per minute, dollars per hour and requests per minute over the last minutes."""
        self.roll(int(now // 60))
        total = _Totals()
        for minute, groups in (*self._closed, (self._minute, self._current)):
            if minute > self._minute - minutes and (t := groups.get(_TOTALS)) is not None:
                total.merge(t)
        tokens = sum(total.tokens[:4])  # reasoning is part of the output already
        return {
            "window_minutes": float(minutes),
            "tokens_per_minute": round(tokens / minutes, 1),
            "dollars_per_hour": round(total.cost * 60 / minutes, 4),
            "requests_per_minute": round(total.requests / minutes, 2),
        }


def _merge_into(into: dict[Group, _Totals], groups: dict[Group, _Totals], sign: int) -> None:
    for group, totals in groups.items():
        mine = into.get(group)
        if mine is None:
            mine = into[group] = _Totals()
        mine.merge(totals, sign)
        if mine.requests == 0:
            del into[group]

"""The analytics report over the stored rows (``turnout stats``, ``/analytics``' all time),
computed by SQLite.

Building it in Python from every row held the GIL for as long as the rows took to walk
(1.7 s at 73,000 rows), and the event loop waited that long, in a thread or not. Here
SQLite does the walking, in C with the GIL released, on its own read-only connection:
only the grouped rows come back into Python. (The live last hour that ``turnout top``
watches is ``live.py``'s, which costs the proxy nothing to ask.) Percentiles are the
nearest-rank ones over sorted values (index ``min(int(q * n), n - 1)``), as window
functions give them.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from turnout.core.analytics import HOUR, OTHER, TOKEN_KINDS
from turnout.core.store import SCHEMA, StoreError

__all__ = ["MAX_GROUPS", "burn", "report", "report_from", "stats", "stats_from"]

BURN_MINUTES = 10.0

# Group name → (the SQL expression it groups by, the rows it applies to).
_GROUPS = {
    "totals": ("''", "1"),
    "by_backend": ("COALESCE(NULLIF(backend, ''), '(local)')", "1"),
    "by_model": ("COALESCE(NULLIF(model_served, ''), NULLIF(model_asked, ''), '(none)')", "1"),
    "by_key": ("backend || '/' || key_alias", "COALESCE(key_alias, '') != ''"),
    "by_entry": ("COALESCE(NULLIF(entry, ''), 'local endpoint')", "1"),
}
_SUMS = ", ".join(
    [
        "COUNT(*)",
        "SUM(status >= 400 OR status = 0)",
        "SUM(COALESCE(cost, 0))",
        "SUM(attempts > 1)",
        "SUM(aborted != 0)",
        "SUM(COALESCE(scrubbed, 0))",
        *(f"SUM(COALESCE({kind}, 0))" for kind in TOKEN_KINDS),
    ]
)
_QUANTILES = (0.5, 0.95)
MAX_GROUPS = 100  # per grouping; the rest are summed as "(other)" (model names come from clients)
_SUMMED = ("requests", "errors", "cost", "failovers", "aborted", "scrubbed", *TOKEN_KINDS)


def stats(db: sqlite3.Connection, since: float) -> dict[str, Any]:
    """Totals and groups (by backend, model and key) of the requests since ``since``."""
    out: dict[str, Any] = {}
    for name, (key, where) in _GROUPS.items():
        groups: dict[str, dict[str, Any]] = {}
        query = f"SELECT {key}, {_SUMS} FROM requests WHERE ts >= ? AND {where} GROUP BY 1"
        rows = db.execute(query, (since,))
        for group, requests, errors, cost, failovers, aborted, scrubbed, *tokens in rows:
            groups[group] = {
                "requests": requests,
                "errors": errors,
                "error_rate": round(errors / requests, 4) if requests else 0.0,
                "cost": round(cost, 6),
                "latency_p50_ms": None,
                "latency_p95_ms": None,
                "ttfb_p50_ms": None,
                "ttfb_p95_ms": None,
                "failovers": failovers,
                "aborted": aborted,
                "scrubbed": scrubbed,
                **dict(zip(TOKEN_KINDS, tokens, strict=True)),
            }
        for column, label in (("latency_ms", "latency"), ("ttfb_ms", "ttfb")):
            for group, q, value in _percentiles(db, key, where, column, since):
                groups[group][f"{label}_p{round(q * 100)}_ms"] = round(value, 1)
        out[name] = groups.get("", _empty()) if name == "totals" else _bounded(groups)
    return out


def _bounded(groups: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ``MAX_GROUPS`` busiest groups, sorted by name; the others summed as ``(other)``."""
    if len(groups) <= MAX_GROUPS:
        return dict(sorted(groups.items()))
    ranked = sorted(groups.items(), key=lambda item: -item[1]["requests"])
    kept = dict(sorted(ranked[:MAX_GROUPS]))
    other = _empty()
    for _, group in ranked[MAX_GROUPS:]:
        for field in _SUMMED:
            other[field] += group[field]
    other["cost"] = round(other["cost"], 6)
    other["error_rate"] = round(other["errors"] / other["requests"], 4) if other["requests"] else 0.0
    kept[OTHER] = other
    return kept


def _percentiles(
    db: sqlite3.Connection, key: str, where: str, column: str, since: float
) -> Iterable[tuple[str, float, float]]:
    ranked = (
        f"SELECT {key} AS g, {column} AS v, "
        f"ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {column}) - 1 AS i, "
        f"COUNT(*) OVER (PARTITION BY {key}) AS n "
        f"FROM requests WHERE ts >= ? AND {where} AND {column} IS NOT NULL"
    )
    picks = " OR ".join(f"i = MIN(CAST({q} * n AS INTEGER), n - 1)" for q in _QUANTILES)
    for group, value, i, n in db.execute(f"SELECT g, v, i, n FROM ({ranked}) WHERE {picks}", (since,)):
        for q in _QUANTILES:
            if i == min(int(q * n), n - 1):
                yield group, q, value


def _empty() -> dict[str, Any]:
    return {
        "requests": 0,
        "errors": 0,
        "error_rate": 0.0,
        "cost": 0.0,
        "latency_p50_ms": None,
        "latency_p95_ms": None,
        "ttfb_p50_ms": None,
        "ttfb_p95_ms": None,
        "failovers": 0,
        "aborted": 0,
        "scrubbed": 0,
        **dict.fromkeys(TOKEN_KINDS, 0),
    }


def burn(db: sqlite3.Connection, now: float) -> dict[str, float]:
    """Tokens per minute, dollars per hour and requests per minute over the last minutes."""
    query = (
        "SELECT COUNT(*), SUM(COALESCE(tokens_in, 0) + COALESCE(tokens_out, 0) + COALESCE(cache_read, 0)"
        " + COALESCE(cache_write, 0)), SUM(COALESCE(cost, 0)) FROM requests WHERE ts >= ?"
    )
    count, tokens, cost = db.execute(query, (now - BURN_MINUTES * 60,)).fetchone()
    return {
        "window_minutes": BURN_MINUTES,
        "tokens_per_minute": round((tokens or 0) / BURN_MINUTES, 1),
        "dollars_per_hour": round((cost or 0.0) * 60 / BURN_MINUTES, 4),
        "requests_per_minute": round(count / BURN_MINUTES, 2),
    }


def report(
    db: sqlite3.Connection, now: float, since: float | None = None, keys: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The last hour, everything since ``since`` (all time if None) and the burn rate."""
    last_hour = stats(db, now - HOUR)
    everything = last_hour if since == now - HOUR else stats(db, since or 0.0)
    return {
        "generated_at": now,
        "last_hour": last_hour,
        "all_time": everything,
        "burn": burn(db, now),
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


def report_from(
    path: Path, now: float, since: float | None = None, keys: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    """``report`` on a read-only connection of its own (any thread, any process)."""
    with _reading(path) as db:
        return report(db, now, since, keys)


def stats_from(path: Path, since: float) -> dict[str, Any]:
    """``stats`` on a read-only connection of its own (any thread, any process)."""
    with _reading(path) as db:
        return stats(db, since)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the store; a store not written yet reads as empty."""
    if path.exists():
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    else:
        db = sqlite3.connect(":memory:")
        db.executescript(SCHEMA)
    try:
        yield db
    except sqlite3.Error as e:
        raise StoreError(f"cannot read the analytics database {path}: {e}") from e
    finally:
        db.close()

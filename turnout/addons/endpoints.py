"""Local endpoints answered in place: ``/health``, ``/status``, ``GET /v1/models``."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson
from mitmproxy import http

from turnout.addons._flows import SUMMARY, answer, resent
from turnout.core.analytics import HOUR, prometheus
from turnout.core.catalog import accounts_payload, models_payload, status_payload
from turnout.core.endpoints import GEMINI_MODELS
from turnout.core.errors import BadRequest, NotFound
from turnout.core.models import Dialect
from turnout.core.report import stats_from
from turnout.core.runtime import Runtime
from turnout.core.store import Store

KEY_FIELDS = ("backend", "alias", "status", "headroom", "minutes_to_exhaustion")


class Endpoints:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.reports = Reports()

    def request(self, flow: http.HTTPFlow) -> Any:
        if flow.response or flow.error or resent(flow):
            return None
        path = flow.request.path.split("?", 1)[0].rstrip("/") or "/"
        if flow.request.method not in ("GET", "HEAD"):
            return None
        now, runtime = time.time(), self.runtime
        if path == "/health" or path == "/api/hello":  # /api/hello: Claude Code's connectivity check
            payload: object = {"status": "ok"}
        elif path == "/status":
            payload = status_payload(
                runtime.config,
                runtime.resolver,
                started=runtime.started,
                requests=runtime.requests,
                facts=runtime.facts,
                totals=runtime.board.totals() if runtime.board is not None else None,
            )
        elif path == "/accounts":
            payload = accounts_payload(runtime, now)
        elif path == "/metrics":
            flow.metadata[SUMMARY] = {"local": path}
            self._metrics(flow, now)
            return None
        elif path == "/analytics":
            flow.metadata[SUMMARY] = {"local": path}
            return self._analytics(flow, now)
        elif path in ("/v1/models", "/models", *GEMINI_MODELS):
            payload = models_payload(_lister(flow.request, path), runtime.resolver.model_owners())
        else:
            return None
        flow.metadata[SUMMARY] = {"local": path}
        answer(flow, 200, orjson.dumps(payload))
        return None

    def _metrics(self, flow: http.HTTPFlow, now: float) -> None:
        """Counters are updated as rows are written; flush so they include every answer."""
        if self.runtime.store is not None:
            self.runtime.store.flush()
        keys = self.runtime.pool.snapshot(now) if self.runtime.pool else []
        text = prometheus(self.runtime.counters, keys, self.runtime.waiting).encode()
        answer(flow, 200, text, {"content-type": "text/plain; version=0.0.4; charset=utf-8"})

    async def _analytics(self, flow: http.HTTPFlow, now: float) -> None:
        """The last hour and the burn rate from the live window (``core/live.py``: nothing to
        compute); all time, or ``?since=<seconds>``, from the store (``core/report.py``)."""
        store = self.runtime.store
        if store is None:
            raise NotFound("Analytics are off (analytics.enabled: false, or the store could not be opened).")
        since = _seconds(flow.request.query.get("since"))
        store.flush()  # the rows of every request answered so far, into the window too
        window = self.runtime.window
        last_hour = window.stats(now)
        if since is not None and since <= HOUR:
            everything = last_hour if since == HOUR else await self.reports.get(store, since)
        else:
            everything = await self.reports.get(store, since)
        keys = self.runtime.pool.snapshot(now) if self.runtime.pool else []
        payload = {
            "generated_at": now,
            "last_hour": last_hour,
            "all_time": everything,
            "burn": window.burn(now),
            "now": window.recent.rates(now),
            "keys": [{k: key[k] for k in KEY_FIELDS} for key in keys],
        }
        answer(flow, 200, orjson.dumps(payload))


@dataclass
class _Kept:
    future: asyncio.Future[dict[str, Any]]
    fresh_until: float = float("inf")  # while computing: everyone waits for this one


class Reports:
    """Reports over the store, computed in a thread and kept a while: a dashboard polling
    every second must not keep a core busy. One that took t seconds is reused for
    ``max(MIN_AGE, 20 t)`` seconds (its ``generated_at`` says when it was made); requests
    that arrive while one is computed wait for it rather than start another."""

    MIN_AGE = 5.0
    KEPT = 8  # windows (since=…) remembered; the client chooses them

    def __init__(self) -> None:
        self._kept: dict[float | None, _Kept] = {}

    async def get(self, store: Store, since: float | None) -> dict[str, Any]:
        kept = self._kept.get(since)
        if kept is None or time.monotonic() >= kept.fresh_until:
            if len(self._kept) >= self.KEPT:
                self._kept.clear()
            kept = self._kept[since] = _Kept(asyncio.ensure_future(self._compute(store, since)))
        try:
            return await asyncio.shield(kept.future)
        except Exception:
            self._kept.pop(since, None)  # asked again, it is computed again
            raise

    async def _compute(self, store: Store, since: float | None) -> dict[str, Any]:
        started, wall = time.monotonic(), time.time()
        stats = await asyncio.to_thread(stats_from, store.path, wall - since if since else 0.0)
        took = time.monotonic() - started
        if (kept := self._kept.get(since)) is not None:
            kept.fresh_until = time.monotonic() + max(self.MIN_AGE, 20 * took)
        return {**stats, "generated_at": wall}


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 1e10:
        raise BadRequest(f"since= takes a number of seconds (got {value[:40]!r}).")
    return seconds


def _lister(request: http.Request, path: str) -> Dialect:
    """Who asks for the model list: Gemini's SDKs (``/v1beta``, or ``x-goog-api-client``),
    Anthropic's (``anthropic-version``), else OpenAI's."""
    headers = request.headers
    if path in GEMINI_MODELS or "x-goog-api-client" in headers:
        return "gemini"
    return "anthropic" if "anthropic-version" in headers else "openai"

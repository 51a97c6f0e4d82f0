"""Local endpoints answered in place: ``/health``, ``/status``, ``GET /v1/models``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from mitmproxy import http

from turnout.addons._flows import SUMMARY, answer
from turnout.core.analytics import prometheus, summarize
from turnout.core.catalog import accounts_payload, models_payload, status_payload
from turnout.core.errors import NotFound
from turnout.core.models import Dialect
from turnout.core.runtime import Runtime
from turnout.core.store import read_rows


class Endpoints:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def request(self, flow: http.HTTPFlow) -> Any:
        if flow.response or flow.error:
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
        elif path in ("/v1/models", "/models"):
            dialect: Dialect = "anthropic" if "anthropic-version" in flow.request.headers else "openai"
            payload = models_payload(dialect, runtime.resolver.routable_models())
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
        """Read in a thread: the database may be large, the event loop must not wait on it."""
        store = self.runtime.store
        if store is None:
            raise NotFound("Analytics are off (analytics.enabled: false, or the store could not be opened).")
        store.flush()  # the view includes every request answered so far
        rows = await asyncio.to_thread(read_rows, store.path)
        keys = self.runtime.pool.snapshot(now) if self.runtime.pool else []
        answer(flow, 200, orjson.dumps(summarize(rows, now, keys)))

"""Local endpoints answered in place: ``/health``, ``/status``, ``GET /v1/models``."""

from __future__ import annotations

import time

import orjson
from mitmproxy import http

from turnout.addons._flows import META, answer, fail_closed
from turnout.core.catalog import accounts_payload, models_payload, status_payload
from turnout.core.runtime import Runtime


class Endpoints:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @fail_closed
    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        path = flow.request.path.split("?", 1)[0].rstrip("/") or "/"
        if flow.request.method not in ("GET", "HEAD"):
            return
        if path == "/health":
            payload: object = {"status": "ok"}
        elif path == "/status":
            payload = status_payload(
                self.runtime.config,
                self.runtime.router,
                started=self.runtime.started,
                requests=self.runtime.requests,
            )
        elif path == "/accounts":
            payload = accounts_payload(self.runtime, time.time())
        elif path in ("/v1/models", "/models"):
            dialect = "anthropic" if "anthropic-version" in flow.request.headers else "openai"
            payload = models_payload(dialect, self.runtime.router.routable_models())
        else:
            return
        flow.metadata[META + "local"] = path
        answer(flow, 200, orjson.dumps(payload))

"""Feeds every response's rate-limit headers and status into the key pool.

A 429 cools the key until its ``retry-after`` or reset, a 401/403 fails it, a 5xx or a
connection failure rests it briefly. This is also where a request leaves its backend's
rate governor, when the response has fully arrived or the flow has failed.
"""

from __future__ import annotations

import time

from mitmproxy import http

from turnout.addons._flows import Meta, client_gone, fail_closed
from turnout.core.runtime import Runtime


class RateLimits:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @fail_closed
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        state = self._state(flow)
        if state is None or flow.response is None or flow.metadata.get(Meta.observed):
            return
        flow.metadata[Meta.observed] = True
        assert self.runtime.pool is not None
        self.runtime.pool.observe_fields(
            state, flow.response.status_code, flow.response.headers.fields, time.time()
        )

    def response(self, flow: http.HTTPFlow) -> None:
        self._release(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        state = self._state(flow)
        if client_gone(flow):
            state = None  # the client gave up: nothing is known about the backend
        if state is not None and not flow.metadata.get(Meta.observed) and self.runtime.pool is not None:
            reason = "timed out" if flow.metadata.get(Meta.timed_out) else "unreachable"
            self.runtime.pool.observe_failure(state, reason, time.time())
        self._release(flow)

    def _state(self, flow: http.HTTPFlow):  # type: ignore[no-untyped-def]
        backend, alias = flow.metadata.get(Meta.backend), flow.metadata.get(Meta.key)
        if backend is None or alias is None or self.runtime.pool is None:
            return None
        return self.runtime.pool.state(backend, alias)

    def _release(self, flow: http.HTTPFlow) -> None:
        if name := flow.metadata.pop(Meta.governed, None):
            self.runtime.governors[name].finish()

"""Feeds the first attempt's rate-limit headers and status into the key pool, and frees
its rate governor slot when it is over.

A 429 cools the key until its ``retry-after`` or reset, a 401/403 fails it, a 5xx, a
connection failure, a stall or a response broken off mid-body rests it briefly
(``core/pool.py``). A client that gave up tells nothing about the backend: its key is
left alone. Retries are observed where they are
sent (``failover.py``), through the same pool calls.
"""

from __future__ import annotations

import time

from mitmproxy import http

from turnout.addons._flows import Exchanges, client_gone
from turnout.core.runtime import Runtime


class RateLimits:
    def __init__(self, runtime: Runtime, exchanges: Exchanges) -> None:
        self.runtime = runtime
        self.exchanges = exchanges

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        exchange = self.exchanges.get(flow)
        if exchange is None or exchange.placement is None or flow.response is None or exchange.observed:
            return
        exchange.observed = True
        assert self.runtime.pool is not None
        self.runtime.pool.observe_fields(
            exchange.placement.state, flow.response.status_code, flow.response.headers.fields, time.time()
        )

    def response(self, flow: http.HTTPFlow) -> None:
        if exchange := self.exchanges.get(flow):
            exchange.release()

    def error(self, flow: http.HTTPFlow) -> None:
        exchange = self.exchanges.get(flow)
        if exchange is None:
            return
        exchange.release()
        placement = exchange.placement
        if placement is None or client_gone(flow) or self.runtime.pool is None or not exchange.attempts:
            return  # turnout refused it, or the client left: nothing is known of the backend
        reason = exchange.timed_out or (
            "broke off its response" if flow.response is not None else "unreachable"
        )
        self.runtime.pool.observe_failure(placement.state, reason, time.time())

"""Relays the backend's response: SSE streamed chunk by chunk, the route named in headers
(``x-turnout-backend``, and ``x-turnout-attempts``, which failover raises when it retries).

Without ``stream`` mitmproxy would buffer an SSE response to its end, so every
``text/event-stream`` response is streamed. Same-dialect bodies pass through untouched.
"""

from __future__ import annotations

from mitmproxy import http

from turnout.addons._flows import Exchanges
from turnout.core.headers import header_value


class Relay:
    def __init__(self, exchanges: Exchanges) -> None:
        self.exchanges = exchanges

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        exchange = self.exchanges.get(flow)
        if exchange is None or exchange.placement is None or flow.response is None:
            return
        headers = flow.response.headers
        # Appended to the raw fields: one tuple concatenation instead of two scans of the headers.
        headers.fields += (
            (b"x-turnout-backend", exchange.placement.backend.name.encode()),
            (b"x-turnout-attempts", b"1"),
        )
        if (header_value(headers.fields, b"content-type") or b"").startswith(b"text/event-stream"):
            flow.response.stream = True

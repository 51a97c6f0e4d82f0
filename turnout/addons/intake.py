"""Every request that reaches turnout gets its exchange here, first, so that whatever
refuses it later (the gate, an unknown path, a malformed body) still leaves an analytics
row in the client's dialect. Reads of the local endpoints (``GET /health``, ``/status``,
…) are the only requests without one: they are not traffic to record."""

from __future__ import annotations

from mitmproxy import http

from turnout.addons._flows import Exchanges, resent
from turnout.addons.interception import intercepted
from turnout.core.endpoints import classify, intake
from turnout.core.headers import header_value


class Intake:
    def __init__(self, exchanges: Exchanges) -> None:
        self.exchanges = exchanges

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if resent(flow):
            return  # goes out as it was sent (secrecy.py): no exchange, no route
        request = flow.request
        endpoint = classify(request.path) or intake(
            request.method,
            request.path,
            header_value(request.headers.fields, b"anthropic-version") is not None,
        )
        if endpoint is not None:
            exchange = self.exchanges.start(flow, endpoint)
            if intercepted(flow):
                exchange.entry = f"intercepted {request.host[:100]}"

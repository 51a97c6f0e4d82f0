"""What happened to each request, said once it is over: the exchange's summary for
mitmweb (``flow.metadata["turnout"]``), and one line per request with ``--verbose``
(model → backend, status, latency). Never a secret.

Only requests meant for a backend: local endpoints (``/health``, ``/status``, Claude
Code's ``/api/hello``, ``turnout top``'s polling) would drown them out.
"""

from __future__ import annotations

import logging
import time

from mitmproxy import ctx, http

from turnout.addons._flows import Exchanges, publish
from turnout.core.exchange import Exchange
from turnout.core.placement import Outcome

logger = logging.getLogger("turnout.requests")


def describe(flow: http.HTTPFlow, exchange: Exchange) -> str:
    status = flow.response.status_code if flow.response else "ERR"
    end = (flow.response.timestamp_end if flow.response else None) or time.time()
    ms = (end - flow.request.timestamp_start) * 1000
    route = flow.comment or flow.request.path.split("?")[0]
    extra = f" [{type(exchange.error).__name__}]" if exchange.error is not None else ""
    return f"{flow.request.method} {route} → {status} in {ms:.0f} ms{extra}"


class RequestLog:
    def __init__(self, exchanges: Exchanges) -> None:
        self.exchanges = exchanges
        self.summarize = True  # off under a master that keeps no flows (nobody would see it)

    def running(self) -> None:
        self.summarize = ctx.master.addons.get("view") is not None  # mitmweb's flow list

    def response(self, flow: http.HTTPFlow) -> None:
        self._said(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._said(flow)

    def _said(self, flow: http.HTTPFlow) -> None:
        if exchange := self.exchanges.get(flow):
            if self.summarize:
                if flow.response is not None and exchange.attempts and exchange.attempts[-1].status is None:
                    exchange.end(Outcome(flow.response.status_code))  # the answer that stood
                publish(flow, exchange)
            if logger.isEnabledFor(logging.INFO):
                logger.info(describe(flow, exchange))

"""One line per request when ``--verbose``: model → backend, status, latency. Never a secret.

Only requests meant for a backend: local endpoints (``/health``, ``/status``, Claude
Code's ``/api/hello``, ``turnout top``'s polling) would drown them out.
"""

from __future__ import annotations

import logging
import time

from mitmproxy import http

from turnout.addons._flows import Exchanges
from turnout.core.exchange import Exchange

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

    def response(self, flow: http.HTTPFlow) -> None:
        if logger.isEnabledFor(logging.INFO) and (exchange := self.exchanges.get(flow)):
            logger.info(describe(flow, exchange))

    def error(self, flow: http.HTTPFlow) -> None:
        if logger.isEnabledFor(logging.INFO) and (exchange := self.exchanges.get(flow)):
            logger.info(describe(flow, exchange))

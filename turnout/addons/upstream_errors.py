"""Backend failures (unreachable, timed out) answered as JSON in the client's dialect.

mitmproxy has no per-request upstream timeout and answers a failed upstream with an
HTML page. So:

* a deadline per forwarded request closes the upstream connection when no response
  headers arrive within the backend's ``timeout`` (``_mitm.close_upstream``); mitmproxy
  then takes the error path;
* the ``error`` hook prepares the client's reply (502, or 504 after a deadline) unless
  failover already prepared a better one or the client is gone, and ``_mitm.Replies``
  sends it in place of mitmproxy's page.

Deadlines are kept by flow and swept every ``SWEEP`` seconds: a timer per request
(``call_later`` and ``cancel``) would cost more than the sweep on every request.
"""

from __future__ import annotations

import asyncio
import time
import weakref

from mitmproxy import http

from turnout.addons import _mitm
from turnout.addons._flows import Exchanges, client_gone, error_response
from turnout.core.errors import BackendTimeout, BackendUnreachable, TurnoutError
from turnout.core.exchange import Exchange
from turnout.core.runtime import Runtime


class UpstreamErrors:
    SWEEP = 0.1

    def __init__(self, runtime: Runtime, exchanges: Exchanges, replies: _mitm.Replies) -> None:
        self.runtime = runtime
        self.exchanges = exchanges
        self.replies = replies
        self._deadlines: weakref.WeakKeyDictionary[http.HTTPFlow, float] = weakref.WeakKeyDictionary()
        self._sweeper: asyncio.Task[None] | None = None

    def running(self) -> None:
        self.replies.install()
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def done(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self._deadlines.clear()
        self.replies.uninstall()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.SWEEP)
            now = time.monotonic()
            for flow, deadline in list(self._deadlines.items()):
                if deadline <= now:
                    del self._deadlines[flow]
                    self._expire(flow)

    def request(self, flow: http.HTTPFlow) -> None:
        exchange = self.exchanges.get(flow)
        if flow.response or flow.error or exchange is None or exchange.placement is None:
            return
        self._deadlines[flow] = time.monotonic() + exchange.placement.backend.timeout

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._deadlines.pop(flow, None)

    def _expire(self, flow: http.HTTPFlow) -> None:
        if exchange := self.exchanges.get(flow):
            exchange.timed_out = True
        _mitm.close_upstream(flow)  # mitmproxy sees the server hang up and takes the error path

    def error(self, flow: http.HTTPFlow) -> None:
        self._deadlines.pop(flow, None)
        exchange = self.exchanges.get(flow)
        if exchange is None or exchange.placement is None or flow.response is not None or client_gone(flow):
            return  # not ours, answered, or nobody to tell
        if self.replies.prepared(flow) is not None:
            return  # failover found an answer
        exchange.error = self._failure(exchange, flow)
        reply = error_response(exchange.dialect, exchange.error)
        reply.headers["x-turnout-backend"] = exchange.placement.backend.name
        self.replies.prepare(flow, reply)

    def _failure(self, exchange: Exchange, flow: http.HTTPFlow) -> TurnoutError:
        """The last attempt's failure, said so that the user knows what to check."""
        backend = exchange.placement.backend if exchange.placement else None
        where = f"{backend.name} ({backend.base_url})" if backend else "the backend"
        last = exchange.attempts[-1] if exchange.attempts else None
        timed_out = last.failure == "timed out" if last is not None and last.failure else exchange.timed_out
        if timed_out:
            secs = backend.timeout if backend else 0
            return BackendTimeout(
                f"Backend {where} sent no response within {secs:g} s; "
                "if it is just slow, raise its timeout: in the config."
            )
        reason = (
            flow.error.msg if flow.error and len(exchange.attempts) < 2 else (last.failure if last else "")
        )
        return BackendUnreachable(
            f"Cannot reach backend {where}: {reason or 'connection failed'}. "
            "Is it running, and is its base_url right?"
        )

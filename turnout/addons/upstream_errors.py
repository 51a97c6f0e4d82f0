"""Backend failures answered in the client's dialect, whenever they happen.

mitmproxy has no per-request upstream timeout and answers a failed upstream with an
HTML page. So:

* a deadline per forwarded request closes the upstream connection when no response
  headers arrive within the backend's ``timeout``; once a response has begun, its
  connection is closed after ``read_timeout`` seconds without a byte (``_mitm``);
  mitmproxy then takes the error path;
* the ``error`` hook says what the client gets (via ``_mitm.Replies``): before the
  response headers, a whole reply (502, 504; 413 for a body over ``limits.max_body_mb``);
  after them, for a buffered response, the same whole reply (nothing was sent yet);
  for a stream already flowing, an error event in the client's dialect that ends it
  cleanly. Failover prepares a better reply when another key or backend answered.

Deadlines are kept by flow and swept every ``SWEEP`` seconds: a timer per request
(``call_later`` and ``cancel``) would cost more than the sweep on every request.
"""

from __future__ import annotations

import time

from mitmproxy import http

from turnout.addons import _mitm
from turnout.addons._flows import Exchanges, Sweeper, client_gone, error_response
from turnout.core.dialects.errors import stream_error_event
from turnout.core.dialects.translate import StreamAdapter
from turnout.core.errors import (
    BackendTimeout,
    BackendUnreachable,
    BadUpstreamResponse,
    BodyTooLarge,
    TurnoutError,
)
from turnout.core.exchange import Exchange
from turnout.core.models import Backend
from turnout.core.passthrough import PassThrough
from turnout.core.runtime import Runtime
from turnout.core.urls import display_url

REQUEST_TOO_LARGE = "Request body exceeds"  # mitmproxy's body_size_limit, on the way in
RESPONSE_TOO_LARGE = "Response body exceeds"  # and on the way out


class UpstreamErrors:
    SWEEP = 0.1

    def __init__(self, runtime: Runtime, exchanges: Exchanges, replies: _mitm.Replies) -> None:
        self.runtime = runtime
        self.exchanges = exchanges
        self.replies = replies
        # By flow id (a weak dictionary costs a weakref per entry, on every request): entries
        # go in response/error, and the sweep drops any whose flow is over.
        self._deadlines: dict[str, tuple[http.HTTPFlow, float]] = {}
        self._reading: dict[str, tuple[http.HTTPFlow, float]] = {}
        self.sweeper = Sweeper(self.SWEEP, self.sweep)

    def running(self) -> None:
        self.replies.install()
        self.sweeper.start()

    def done(self) -> None:
        self.sweeper.stop()
        self._deadlines.clear()
        self._reading.clear()
        self.replies.uninstall()

    def sweep(self, now: float, wall: float) -> None:
        for key, (flow, deadline) in list(self._deadlines.items()):
            if not flow.live:
                del self._deadlines[key]
            elif deadline <= now:
                del self._deadlines[key]
                self._expire(flow, "timed out")
        for key, (flow, read_timeout) in list(self._reading.items()):
            if not flow.live:
                del self._reading[key]
                continue
            last = _mitm.last_activity(flow.client_conn)
            if last is not None and wall - last > read_timeout:
                del self._reading[key]
                self._expire(flow, f"sent nothing for {read_timeout:g} s")

    def request(self, flow: http.HTTPFlow) -> None:
        exchange = self.exchanges.get(flow)
        if flow.response or flow.error or exchange is None or (limits := _timeouts(exchange)) is None:
            return
        self._deadlines[flow.id] = (flow, time.monotonic() + limits[0])

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._deadlines.pop(flow.id, None)
        exchange = self.exchanges.get(flow)
        if exchange is not None and (limits := _timeouts(exchange)) is not None:
            self._reading[flow.id] = (flow, limits[1])

    def response(self, flow: http.HTTPFlow) -> None:
        self._reading.pop(flow.id, None)

    def _expire(self, flow: http.HTTPFlow, why: str) -> None:
        if exchange := self.exchanges.get(flow):
            exchange.timed_out = why
        _mitm.close_upstream(flow)  # mitmproxy sees the server hang up and takes the error path

    def error(self, flow: http.HTTPFlow) -> None:
        self._deadlines.pop(flow.id, None)
        self._reading.pop(flow.id, None)
        exchange = self.exchanges.get(flow)
        if exchange is None or client_gone(flow) or self.replies.prepared(flow) is not None:
            return  # not ours, nobody to tell, or failover found an answer
        message = flow.error.msg if flow.error else ""
        if message.startswith(REQUEST_TOO_LARGE):
            limit = self.runtime.config.limits.max_body_bytes
            exchange.error = exchange.error or BodyTooLarge(
                f"The request body is over turnout's limit of {limit:,} bytes "
                "(limits.max_body_mb in the config)."
            )
            exchange.answered = exchange.error.status
            self.replies.prepare(flow, error_response(exchange.dialect, exchange.error))
            return
        if exchange.placement is None and not exchange.passed:
            return
        exchange.error = self._failure(exchange, message, flow.request.host)
        response = flow.response
        if response is not None and response.stream:  # already flowing to the client
            stream = response.stream
            if isinstance(stream, StreamAdapter):
                tail = stream.fail(exchange.error.message)
            elif isinstance(stream, PassThrough):
                tail = stream.fail(exchange.error.message, exchange.error.status)  # a held half event dropped
            else:
                error = exchange.error
                tail = stream_error_event(
                    exchange.dialect, error.status, error.message, exchange.endpoint.name
                )
            if tail and "content-length" not in response.headers:
                self.replies.prepare_tail(flow, tail)
            return
        reply = error_response(exchange.dialect, exchange.error)
        if exchange.placement is not None:
            reply.headers["x-turnout-backend"] = exchange.placement.backend.name
        exchange.answered = reply.status_code
        self.replies.prepare(flow, reply)

    def _failure(self, exchange: Exchange, message: str, host: str) -> TurnoutError:
        """The last attempt's failure, said so that the user knows what to check."""
        backend = exchange.placement.backend if exchange.placement else None
        where = f"{backend.name} ({display_url(backend.base_url)})" if backend else "the backend"
        if exchange.passed:
            where = f"{host[:100]} (an unrouted request, passed through: intercept.passthrough_unrouted)"
        last = exchange.attempts[-1] if exchange.attempts else None
        failure = last.failure if last is not None and last.failure else ""
        timed_out = exchange.timed_out or ("timed out" if failure == "timed out" else "")
        if timed_out == "timed out":
            secs = limits[0] if (limits := _timeouts(exchange)) else 0
            return BackendTimeout(
                f"Backend {where} sent no response within {secs:g} s; "
                "if it is just slow, raise its timeout: in the config."
            )
        if timed_out:  # the response had begun, then stalled
            return BackendTimeout(
                f"Backend {where} {timed_out} in the middle of its response; "
                "if it is just slow, raise its read_timeout: in the config."
            )
        if message.startswith(RESPONSE_TOO_LARGE):
            return BadUpstreamResponse(
                f"Backend {where} sent a response over turnout's limit (limits.max_body_mb in the config)."
            )
        reason = failure if len(exchange.attempts) > 1 and failure else message
        if exchange.observed:
            return BadUpstreamResponse(
                f"Backend {where} broke off its response: {reason or 'connection closed'}."
            )
        return BackendUnreachable(
            f"Cannot reach backend {where}: {reason or 'connection failed'}. "
            "Is it running, and is its base_url right?"
        )


# A request passed through unrouted has no backend: it is held to a backend's defaults.
_DEFAULT = Backend("", "openai", "")
PASSED_THROUGH = (_DEFAULT.timeout, _DEFAULT.read_timeout)


def _timeouts(exchange: Exchange) -> tuple[float, float] | None:
    """(to the response headers, of silence once it has begun), for a request sent on."""
    if exchange.placement is not None:
        backend = exchange.placement.backend
        return backend.timeout, backend.read_timeout
    return PASSED_THROUGH if exchange.passed else None

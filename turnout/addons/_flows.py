"""What every concern shares: the exchange of each flow, answering a flow, a sweeper.

``Exchanges`` keeps each live flow's ``Exchange`` (``core/exchange.py``) in a weak
dictionary keyed by the flow, as mitmproxy's own addons keep per-connection state: it
goes when the flow goes, and nothing about it is saved with the flow. mitmweb gets the
exchange's plain ``summary()`` in ``flow.metadata["turnout"]`` and the route in the
flow comment.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Callable

from mitmproxy import http
from mitmproxy.connection import ConnectionState

from turnout.core.endpoints import Endpoint, client_dialect
from turnout.core.errors import TurnoutError, error_body
from turnout.core.exchange import Exchange
from turnout.core.headers import rewrite
from turnout.core.models import Dialect

__all__ = [
    "SENT",
    "SUMMARY",
    "Exchanges",
    "Sweeper",
    "answer",
    "client_gone",
    "dialect_of",
    "drop_headers",
    "error_response",
    "publish",
    "replace_whole",
    "resent",
]

logger = logging.getLogger(__name__)

SUMMARY = "turnout"  # the flow.metadata key of the exchange's summary
SENT = "turnout.sent"  # the flow.metadata key of (backend, key alias) its request went out with
JSON = {"content-type": "application/json"}


class Exchanges:
    def __init__(self) -> None:
        self._of: weakref.WeakKeyDictionary[http.HTTPFlow, Exchange] = weakref.WeakKeyDictionary()
        # The concerns of one hook ask about the same flow one after the other: remember the
        # last answer (a weak lookup makes a weakref each time, ~0.7 µs).
        self._last: tuple[http.HTTPFlow | None, Exchange | None] = (None, None)

    def start(self, flow: http.HTTPFlow, endpoint: Endpoint) -> Exchange:
        exchange = self._of[flow] = Exchange(endpoint, flow.request.timestamp_start)
        self._last = (flow, exchange)
        return exchange

    def get(self, flow: http.HTTPFlow) -> Exchange | None:
        last, exchange = self._last
        if last is not flow:
            exchange = self._of.get(flow)
            self._last = (flow, exchange)
        return exchange

    def live(self) -> list[tuple[http.HTTPFlow, Exchange]]:
        return list(self._of.items())


def publish(flow: http.HTTPFlow, exchange: Exchange) -> None:
    """The exchange's plain summary, for mitmweb (and for flows it saves)."""
    flow.metadata[SUMMARY] = exchange.summary()


def dialect_of(flow: http.HTTPFlow, exchange: Exchange | None = None) -> Dialect:
    """The dialect to answer ``flow`` in: its endpoint's, else Anthropic's if it says so."""
    if exchange is not None:
        return exchange.dialect
    return client_dialect(flow.request.path, "anthropic-version" in flow.request.headers)


def client_gone(flow: http.HTTPFlow) -> bool:
    """The client has closed its connection (Esc in Claude Code, a timeout, a load tool
    stopping): whatever fails next is the client's abort, never the backend's failure."""
    return not (flow.client_conn.state & ConnectionState.CAN_READ)


def resent(flow: http.HTTPFlow) -> bool:
    """A flow replayed from mitmweb whose request turnout had sent upstream: it goes out as is."""
    return flow.is_replay == "request" and SENT in flow.metadata


def drop_headers(headers: http.Headers, names: frozenset[bytes]) -> None:
    """Remove every header in ``names`` (lowercase bytes) in one pass (see core/headers.py)."""
    fields = headers.fields
    if (kept := rewrite(fields, names)) is not fields:
        headers.fields = kept


def answer(flow: http.HTTPFlow, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    flow.response = http.Response.make(status, body, {**JSON, **(headers or {})})


def error_response(dialect: Dialect, error: TurnoutError) -> http.Response:
    """``error`` as the client's dialect has it, with ``retry-after`` when it has one."""
    headers = dict(JSON)
    if error.retry_after is not None:
        headers["retry-after"] = str(math.ceil(error.retry_after))
    body = error_body(dialect, error.status, error.message, error.code)
    return http.Response.make(error.status, body, headers)


def replace_whole(response: http.Response, reply: http.Response) -> None:
    """Before anything is sent: the error's status, headers and body, the upstream's dropped."""
    response.status_code, response.reason = reply.status_code, reply.reason
    response.headers = reply.headers.copy()
    body = reply.raw_content or b""
    if response.http_version.startswith("HTTP/1"):
        response.headers["transfer-encoding"] = "chunked"
        response.headers.pop("content-length", None)
    else:
        response.headers["content-length"] = str(len(body))
    # Each upstream read is dropped ([]: an empty chunk would end an HTTP/1 body); the error
    # goes out at the end (the b"" call).
    response.stream = lambda data: [] if data else [body]


class Sweeper:
    """``sweep(monotonic, wall)`` every ``seconds`` on mitmproxy's loop, from ``start`` (in
    ``running``) to ``stop`` (in ``done``): one timer for many deadlines, never one each."""

    def __init__(self, seconds: float, sweep: Callable[[float, float], None]) -> None:
        self.seconds, self.sweep = seconds, sweep
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.seconds)
            try:
                self.sweep(time.monotonic(), time.time())
            except Exception:  # a bad sweep is logged; the next one still runs
                logger.exception("sweep failed")

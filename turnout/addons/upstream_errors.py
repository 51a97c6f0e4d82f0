"""Backend failures (unreachable, timed out) answered as JSON in the client's dialect.

Two mitmproxy facts shape this file. When the upstream connection fails, mitmproxy
sends its own HTML 502 page, and a response set in the ``error`` hook is ignored. And
mitmproxy has no per-request upstream timeout. So:

* the ``error`` hook prepares the client's reply (502, or 504 after our timeout) and
  leaves it on the request; a small wrapper around mitmproxy's HTTP/1 server layer sends
  that reply in place of the HTML page (and falls back to mitmproxy's own behaviour for
  flows turnout did not prepare);
* a watchdog per forwarded request closes the upstream connection when no response
  headers arrive within the backend's ``timeout``, which turns into that same path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Generator
from typing import Any

from mitmproxy import ctx, http
from mitmproxy.connection import ConnectionState
from mitmproxy.net.http import http1
from mitmproxy.proxy import commands
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._events import ResponseProtocolError

from turnout.addons._flows import Meta, client_gone, dialect_of, fail_closed
from turnout.core.errors import BackendTimeout, BackendUnreachable, TurnoutError, error_body
from turnout.core.runtime import Runtime

logger = logging.getLogger("turnout")

REPLY = "_turnout_reply"  # attribute on the live Request object; never serialized


def _send_prepared_reply(original: Any) -> Any:
    def send(self: _http1.Http1Server, event: Any) -> Generator[Any, Any, None]:
        # Not a generator itself: every other event gets mitmproxy's own generator back,
        # with no extra frame per chunk of every response.
        if type(event) is ResponseProtocolError and self.response is None:
            reply = getattr(self.request, REPLY, None)
            if reply is not None:
                return _reply(self, reply)
        return original(self, event)

    send.__turnout_original__ = original  # type: ignore[attr-defined]
    return send


def _reply(layer: _http1.Http1Server, reply: bytes) -> Generator[Any, Any, None]:
    if layer.conn.state & ConnectionState.CAN_WRITE:
        yield commands.SendData(layer.conn, reply)
    yield commands.CloseConnection(layer.conn)


def json_error_response(status_code: int, message: str = "") -> bytes:
    """Replaces mitmproxy's HTML error page where turnout knows no flow (a malformed request
    head, say): one body both SDKs read, ``{"type":"error","error":{"type","message"}}``."""
    body = error_body("anthropic", status_code, message or f"HTTP {status_code}")
    response = http.Response.make(
        status_code, body, {"content-type": "application/json", "connection": "close"}
    )
    return http1.assemble_response(response)


_ORIGINAL_ERROR_RESPONSE = _http1.make_error_response


def install_reply_patch() -> None:
    """Idempotent: wrap ``Http1Server.send`` and replace the HTML page, once per process."""
    if not hasattr(_http1.Http1Server.send, "__turnout_original__"):
        _http1.Http1Server.send = _send_prepared_reply(_http1.Http1Server.send)  # type: ignore[method-assign]
    _http1.make_error_response = json_error_response


def uninstall_reply_patch() -> None:
    original = getattr(_http1.Http1Server.send, "__turnout_original__", None)
    if original is not None:
        _http1.Http1Server.send = original  # type: ignore[method-assign]
    _http1.make_error_response = _ORIGINAL_ERROR_RESPONSE


def assemble_response(response: http.Response) -> bytes:
    """A whole HTTP/1.1 response to send in place of mitmproxy's error page; closes the connection."""
    response.headers["connection"] = "close"
    response.headers["content-length"] = str(len(response.raw_content or b""))
    return http1.assemble_response(response)


def assemble_reply(flow: http.HTTPFlow, error: TurnoutError) -> bytes:
    body = error_body(dialect_of(flow), error.status, error.message)
    response = http.Response.make(error.status, body, {"content-type": "application/json"})
    if backend := flow.metadata.get(Meta.backend):
        response.headers["x-turnout-backend"] = backend
    return assemble_response(response)


class UpstreamErrors:
    """Deadlines are kept in a dict and swept every ``SWEEP`` seconds: a timer per request
    (``call_later`` and ``cancel``) would cost more than the dict on every request."""

    SWEEP = 0.1

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._deadlines: dict[str, tuple[float, http.HTTPFlow]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def running(self) -> None:
        install_reply_patch()
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def done(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        self._deadlines.clear()
        uninstall_reply_patch()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.SWEEP)
            now = time.monotonic()
            for flow_id, (deadline, flow) in list(self._deadlines.items()):
                if deadline <= now:
                    del self._deadlines[flow_id]
                    self._expire(flow)

    @fail_closed
    def request(self, flow: http.HTTPFlow) -> None:
        name = flow.metadata.get(Meta.backend)
        if flow.response or flow.error or name is None:
            return
        self._deadlines[flow.id] = (time.monotonic() + self.runtime.config.backends[name].timeout, flow)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        self._deadlines.pop(flow.id, None)

    def _expire(self, flow: http.HTTPFlow) -> None:
        flow.metadata[Meta.timed_out] = True
        proxyserver = ctx.master.addons.get("proxyserver")
        handler = proxyserver.connections.get(flow.client_conn.id) if proxyserver else None
        io = handler.transports.get(flow.server_conn) if handler else None
        if io is not None and io.writer is not None:
            io.writer.close()  # mitmproxy sees the server hang up and raises the error path

    def error(self, flow: http.HTTPFlow) -> None:
        self._deadlines.pop(flow.id, None)
        name = flow.metadata.get(Meta.backend)
        if name is None or flow.response is not None or hasattr(flow.request, REPLY) or client_gone(flow):
            return  # not ours, answered, a failover already prepared the reply, or nobody to tell
        backend = self.runtime.config.backends.get(name)
        where = f"{name} ({backend.base_url})" if backend else name
        error: TurnoutError
        if flow.metadata.get(Meta.timed_out):
            secs = backend.timeout if backend else 0
            error = BackendTimeout(
                f"Backend {where} sent no response within {secs:g} s; "
                "if it is just slow, raise its timeout: in the config."
            )
        else:
            reason = flow.error.msg if flow.error else "connection failed"
            error = BackendUnreachable(
                f"Cannot reach backend {where}: {reason}. Is it running, and is its base_url right?"
            )
        flow.metadata[Meta.error] = type(error).__name__
        setattr(flow.request, REPLY, assemble_reply(flow, error))

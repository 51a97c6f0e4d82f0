"""Everything turnout needs from mitmproxy's private modules, and nothing else, is here.

Three things mitmproxy (12.2.x) offers no public way to do:

- **Answer an upstream failure with turnout's JSON.** When the backend cannot be
  reached, times out or hangs up, mitmproxy sends its own HTML error page, and a
  response set in the ``error`` hook is ignored. ``Replies`` wraps the HTTP stream
  layer's ``handle_protocol_error`` (which runs only on errors): when the ``error`` hook
  has prepared a reply for the flow, that reply goes to the client as an ordinary
  response, over HTTP/1 or HTTP/2 alike. A request too malformed to become a flow gets
  a JSON 400 instead of the HTML page too (``_http1.make_error_response``).
- **Give up on an upstream after a deadline.** mitmproxy has no per-request upstream
  timeout; ``close_upstream`` closes the flow's server connection, which mitmproxy then
  handles as the server hanging up.
- **Log to stderr.** The master's terminal log goes to stdout unless its private
  ``_termlog_addon`` is set up by hand.

``check()`` runs at start-up and says plainly which of these moved, should a
mitmproxy upgrade break them.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Generator
from typing import Any

from mitmproxy import http, master
from mitmproxy.addons import termlog
from mitmproxy.net.http import http1

from turnout.core.errors import ConfigError, error_body

__all__ = ["Replies", "check", "close_upstream", "log_to_stderr"]

_MITMPROXY = "mitmproxy>=12.2,<13"


def _internals() -> dict[str, Any]:
    """The private objects turnout uses; raises ImportError/AttributeError if one moved."""
    from mitmproxy.proxy.layers import http as http_layers
    from mitmproxy.proxy.layers.http import _events, _http1

    return {
        "HttpStream.handle_protocol_error": http_layers.HttpStream.handle_protocol_error,
        "SendHttp": http_layers.SendHttp,
        "ResponseProtocolError": _events.ResponseProtocolError,
        "ResponseHeaders": _events.ResponseHeaders,
        "ResponseData": _events.ResponseData,
        "ResponseEndOfMessage": _events.ResponseEndOfMessage,
        "_http1.make_error_response": _http1.make_error_response,
        "Master._termlog_addon": master.Master._termlog_addon,
    }


def check() -> None:
    """Fail at start-up, clearly, if mitmproxy no longer has what turnout relies on."""
    try:
        _internals()
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            f"this mitmproxy ({_version()}) lacks what turnout needs ({e}); install {_MITMPROXY}"
        ) from None


def _version() -> str:
    from mitmproxy import version

    return str(version.VERSION)


def log_to_stderr(m: master.Master) -> None:
    """mitmproxy's terminal log, on stderr: stdout carries only what the user asked for."""
    m._termlog_addon = termlog.TermLog(sys.stderr)  # the master uninstalls it when it ends
    m.addons.add(m._termlog_addon)


def close_upstream(flow: http.HTTPFlow) -> bool:
    """Close ``flow``'s upstream connection; mitmproxy then sees the server hang up."""
    from mitmproxy import ctx

    proxyserver = ctx.master.addons.get("proxyserver")
    handler = proxyserver.connections.get(flow.client_conn.id) if proxyserver else None
    io = handler.transports.get(flow.server_conn) if handler else None
    if io is None or io.writer is None:
        return False
    io.writer.close()
    return True


def _json_error_page(status_code: int, message: str = "") -> bytes:
    """For a request too malformed to become a flow (no dialect known): a body both SDKs read."""
    body = error_body("anthropic", status_code, message or f"HTTP {status_code}")
    response = http.Response.make(
        status_code, body, {"content-type": "application/json", "connection": "close"}
    )
    return bytes(http1.assemble_response(response))


class Replies:
    """Replies prepared in the ``error`` hook, sent in place of mitmproxy's error page."""

    def __init__(self) -> None:
        self._prepared: weakref.WeakKeyDictionary[http.HTTPFlow, http.Response] = weakref.WeakKeyDictionary()
        self._originals: dict[str, Any] = {}

    def prepare(self, flow: http.HTTPFlow, response: http.Response) -> None:
        """``response`` goes to the client instead of mitmproxy's page for this flow's failure."""
        if flow.request.http_version.startswith("HTTP/1"):
            response.headers["connection"] = "close"  # the upstream side of it is broken
        self._prepared[flow] = response

    def prepared(self, flow: http.HTTPFlow) -> http.Response | None:
        return self._prepared.get(flow)

    def install(self) -> None:
        from mitmproxy.proxy.layers import http as http_layers
        from mitmproxy.proxy.layers.http import _http1

        if self._originals:
            return
        self._originals = {
            "handle_protocol_error": http_layers.HttpStream.handle_protocol_error,
            "make_error_response": _http1.make_error_response,
        }
        http_layers.HttpStream.handle_protocol_error = self._wrap(  # type: ignore[method-assign]
            self._originals["handle_protocol_error"]
        )
        _http1.make_error_response = _json_error_page

    def uninstall(self) -> None:
        from mitmproxy.proxy.layers import http as http_layers
        from mitmproxy.proxy.layers.http import _http1

        if not self._originals:
            return
        http_layers.HttpStream.handle_protocol_error = self._originals["handle_protocol_error"]  # type: ignore[method-assign]
        _http1.make_error_response = self._originals["make_error_response"]
        self._originals = {}

    def _wrap(self, original: Callable[..., Generator[Any, Any, None]]) -> Callable[..., Any]:
        from mitmproxy.proxy.layers.http import SendHttp
        from mitmproxy.proxy.layers.http._events import (
            ResponseData,
            ResponseEndOfMessage,
            ResponseHeaders,
            ResponseProtocolError,
        )

        replies = self

        def handle_protocol_error(stream: Any, event: Any) -> Generator[Any, Any, None]:
            steps = original(stream, event)  # mitmproxy's own handling, the error hook included
            sent = None
            while True:
                try:
                    command = steps.send(sent)
                except StopIteration:
                    return
                reply = (
                    replies._prepared.pop(stream.flow, None)
                    if isinstance(command, SendHttp) and isinstance(command.event, ResponseProtocolError)
                    else None
                )
                if reply is None:
                    sent = yield command
                    continue
                # The prepared reply instead of the error page: an ordinary whole response.
                stream.flow.response = reply
                client = command.connection
                yield SendHttp(ResponseHeaders(stream.stream_id, reply, not reply.raw_content), client)
                if reply.raw_content:
                    yield SendHttp(ResponseData(stream.stream_id, reply.raw_content), client)
                yield SendHttp(ResponseEndOfMessage(stream.stream_id), client)
                sent = None

        handle_protocol_error.__wrapped__ = original  # type: ignore[attr-defined]
        return handle_protocol_error

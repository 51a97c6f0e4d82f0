"""Everything turnout needs from mitmproxy's private modules, and nothing else, is here.

What mitmproxy (12.2.x) offers no public way to do:

- **Answer an upstream failure with turnout's JSON.** When the backend cannot be
  reached, times out or hangs up, mitmproxy sends its own HTML error page, and a
  response set in the ``error`` hook is ignored. ``Replies`` wraps the HTTP stream
  layer's ``handle_protocol_error`` and ``check_body_size`` (which send mitmproxy's
  error page): when the ``error`` hook
  has prepared a reply for the flow, that reply goes to the client as an ordinary
  response, over HTTP/1 or HTTP/2 alike; when the response was already streaming, a
  prepared *tail* (an error event in the client's dialect) ends the stream cleanly
  instead of cutting it off. A request too malformed to become a flow gets a JSON 400
  instead of the HTML page too (``_http1.make_error_response``).
- **Take an HTTP/1 body with trailers.** mitmproxy raises ``NotImplementedError`` on a
  chunked body that ends with trailers, and the flow hangs; ``Relaying`` swaps in a
  chunked reader that drops them.
- **Less work per chunk and per request.** mitmproxy makes every HTTP/1 chunk an event
  that travels its layers to the client (and, intercepted, a TLS record of its own), its
  TLS layers end each send with a read that fails, and every request and response it
  builds has each field type-checked (a check that is off under ``python -O``: 12 % of a
  request's CPU); it notes on each task it starts (one per hook) which pytest test made
  it, looked up in the environment each time; and each read of an option deep-copies its
  value (one per chunk, forty per request). ``Relaying``'s chunked reader gives the chunks
  that came in one read as one piece (cut out of the buffer in one pass), its TLS layers
  stop reading at a short read, the check and the look-up are left out, and a value that
  cannot change is not copied.
- **Call hooks without walking the chain.** mitmproxy looks every hook up on every addon,
  for every flow, twice (the hook, then ``update``); ``Dispatch`` replaces the lean
  master's ``trigger_event`` with one that finds a hook's handlers once per chain.
- **Time connections.** mitmproxy has no per-request upstream timeout and no client
  header timeout: ``close_upstream`` closes a flow's server connection (mitmproxy then
  handles the server hanging up), ``close_client`` drops a client connection,
  ``last_activity`` reads when a connection last moved a byte and ``unsent_bytes`` how
  much a client has yet to read.
- **Keep keys out of flows.** A flow is what mitmweb shows, exports and saves, so it
  holds a backend's credential masked; ``WireHeaders`` puts the real value into the
  copy of the request that mitmproxy's HTTP/1 or HTTP/2 layer writes to the backend
  (by wrapping ``HttpStream.state_consume_request_body``, which sends it).
- **Run before mitmweb's view.** ``ahead_of`` moves turnout's chain before the view in
  the addon list, so what the view shows has been through the gate (client
  credentials gone) and the router.
- **Listen with a backlog that fits a burst.** asyncio listens with a backlog of 100:
  a thousand clients connecting at once overflow it (connections retried after 1 s,
  and more). ``Listening`` wraps ``AsyncioServerInstance.listen`` to listen again on each
  new socket with turnout's backlog (the kernel caps it at ``net.core.somaxconn``).
- **Several workers on one port.** For ``--workers``, ``Listening`` opens the TCP
  listener itself, as mitmproxy would (``asyncio.start_server`` with the instance's
  ``handle_stream``), adding ``reuse_port``.
- **Several proxies in one process.** ``mitmproxy.ctx`` names the master made last;
  ``Contexts`` makes it name the master whose task reads it.
- **Log to stderr.** The master's terminal log goes to stdout unless its private
  ``_termlog_addon`` is set up by hand.

``check()`` runs at start-up and says plainly which of these moved, should a
mitmproxy upgrade break them.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import functools
import inspect
import os
import re
import socket
import sys
import time
import types
import weakref
from collections.abc import Callable, Generator
from typing import Any, ClassVar

from mitmproxy import http, master, optmanager
from mitmproxy.addons import termlog
from mitmproxy.net.http import http1

from turnout.core.errors import ConfigError, error_body
from turnout.core.headers import Fields

__all__ = [
    "Contexts",
    "Dispatch",
    "Listening",
    "Relaying",
    "Replies",
    "WireHeaders",
    "ahead_of",
    "check",
    "close_client",
    "close_upstream",
    "last_activity",
    "log_to_stderr",
    "unsent_bytes",
]

_MITMPROXY = "mitmproxy>=12.2,<13"


def _internals() -> dict[str, Any]:
    """The private objects turnout uses; raises ImportError/AttributeError/KeyError if one moved."""
    from h11 import _readers as h11_readers
    from h11._receivebuffer import ReceiveBuffer
    from mitmproxy.proxy import mode_servers
    from mitmproxy.proxy import server as _server
    from mitmproxy.proxy.layers import http as http_layers
    from mitmproxy.proxy.layers import tls
    from mitmproxy.proxy.layers.http import _events, _http1
    from mitmproxy.utils import asyncio_utils

    return {
        "HttpStream.handle_protocol_error": http_layers.HttpStream.handle_protocol_error,
        "HttpStream.check_body_size": http_layers.HttpStream.check_body_size,
        "HttpStream.state_consume_request_body": http_layers.HttpStream.state_consume_request_body,
        "AsyncioServerInstance.listen": mode_servers.AsyncioServerInstance.listen,
        "AsyncioServerInstance.handle_stream": mode_servers.AsyncioServerInstance.handle_stream,
        "RequestHeaders": _events.RequestHeaders,
        "SendHttp": http_layers.SendHttp,
        "ResponseProtocolError": _events.ResponseProtocolError,
        "ResponseHeaders": _events.ResponseHeaders,
        "ResponseData": _events.ResponseData,
        "ResponseEndOfMessage": _events.ResponseEndOfMessage,
        "_http1.make_error_response": _http1.make_error_response,
        "_http1.ChunkedReader": _http1.ChunkedReader,
        "ChunkedReader._bytes_in_chunk": _http1.ChunkedReader().__dict__["_bytes_in_chunk"],
        "ChunkedReader._bytes_to_discard": _http1.ChunkedReader().__dict__["_bytes_to_discard"],
        "h11 chunk_header_re": h11_readers.chunk_header_re,
        "ReceiveBuffer._extract": ReceiveBuffer._extract,
        "ReceiveBuffer._data": ReceiveBuffer().__dict__["_data"],
        "TLSLayer.tls_interact": tls.TLSLayer.tls_interact,
        "asyncio_utils.set_task_debug_info": asyncio_utils.set_task_debug_info,
        "_Option.current": optmanager._Option.current,
        "optmanager.unset": optmanager.unset,
        "_Option._default": dict.fromkeys(optmanager._Option.__slots__)["_default"],
        "Master._termlog_addon": master.Master._termlog_addon,
        "ConnectionHandler.timeout_watchdog": _server.ConnectionHandler.__init__,
        "ConnectionHandler.transports": _server.ConnectionHandler.__annotations__["transports"],
        "ConnectionIO.writer": _server.ConnectionIO.__dataclass_fields__["writer"],
    }


def check() -> None:
    """Fail at start-up, clearly, if mitmproxy no longer has what turnout relies on."""
    try:
        _internals()
    except (ImportError, AttributeError, KeyError) as e:
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


def _handler(client: Any) -> Any:
    from mitmproxy import ctx

    proxyserver = ctx.master.addons.get("proxyserver")
    return proxyserver.connections.get(client.id) if proxyserver else None


def close_upstream(flow: http.HTTPFlow) -> bool:
    """Close ``flow``'s upstream connection; mitmproxy then sees the server hang up."""
    handler = _handler(flow.client_conn)
    io = handler.transports.get(flow.server_conn) if handler else None
    if io is None or io.writer is None:
        return False
    io.writer.close()
    return True


def close_client(client: Any) -> bool:
    """Drop a client connection (its handler task is cancelled, its flows end in error)."""
    handler = _handler(client)
    io = handler.transports.get(client) if handler else None
    if io is None or io.handler is None:
        return False
    io.handler.cancel("turnout: client timeout")
    return True


def unsent_bytes(client: Any) -> int:
    """Bytes written to the client that it has not read yet (waiting in our send buffer)."""
    handler = _handler(client)
    io = handler.transports.get(client) if handler else None
    transport = getattr(io.writer, "transport", None) if io is not None else None
    return transport.get_write_buffer_size() if transport is not None else 0


def last_activity(client: Any) -> float | None:
    """When the client's connection last moved a byte, either way (wall clock)."""
    handler = _handler(client)
    return handler.timeout_watchdog.last_activity if handler else None


def _json_error_page(status_code: int, message: str = "") -> bytes:
    """For a request too malformed to become a flow (no dialect known): a body both SDKs read."""
    body = error_body("anthropic", status_code, message or f"HTTP {status_code}")
    response = http.Response.make(
        status_code, body, {"content-type": "application/json", "connection": "close"}
    )
    return bytes(http1.assemble_response(response))


_PLAIN_CHUNK_HEAD = re.compile(rb"([0-9A-Fa-f]{1,20})\r\n")  # what h11's pattern takes, less the rest


def _whole_chunks(buf: Any, full: Callable[..., Any]) -> bytes:
    """The data of the complete chunks at the head of h11's receive buffer ``buf``, taken out
    of it (b"" when there are none): 0.6 µs a chunk, where h11's reader takes 2.7. A chunk
    counts only when h11's own pattern takes its header (a plain size is tried first) and
    its data and CRLF are all there; the last chunk, and anything odd, is left for h11's
    reader to read, or to refuse with its own error. ``full``: h11's pattern's ``match``."""
    data = buf._data
    end, at, parts = len(data), 0, []
    plain = _PLAIN_CHUNK_HEAD.match
    while head := plain(data, at) or full(data, at):
        start = head.end()
        stop = start + int(head[1], 16)
        if stop == start or stop + 2 > end or data[stop : stop + 2] != b"\r\n":
            break
        parts.append(data[start:stop])
        at = stop + 2
    if not parts:
        return b""
    buf._extract(at)
    return b"".join(parts)


def _trailerless(reader: type) -> type:
    """h11's chunked reader, minus trailers (which mitmproxy's HTTP/1 layer cannot take), and
    giving all the chunks already received as one piece of data.

    It reads every chunk of every upstream stream, so it adds little per chunk: h11 reads
    its ``_reading_trailer`` flag once per call, and setting it (at the last chunk) turns
    the reader into one that ends the message without the trailer lines. mitmproxy makes
    each piece of data an event that goes through every layer to the client (and through
    TLS, one record each, on an intercepted connection), so chunks that came in one read
    go on as one: fewer events, never a wait for more. Whole chunks are cut out of the
    buffer in one pass (``_whole_chunks``) rather than read by h11 a header, a piece of
    data and a CRLF at a time; h11 reads the rest (a chunk still arriving, the end)."""
    import h11
    from h11._readers import chunk_header_re

    call, full = reader.__call__, chunk_header_re.match

    class Then(reader):  # type: ignore[misc]
        """What came after the pieces given last: the end, or the error to raise."""

        then: h11.EndOfMessage | h11.ProtocolError

        def __call__(self, buf: Any) -> Any:
            if isinstance(self.then, h11.ProtocolError):
                raise self.then
            return self.then

    class EndWithoutTrailers(reader):  # type: ignore[misc]
        def __call__(self, buf: Any) -> Any:
            lines = buf.maybe_extract_lines()
            return None if lines is None else h11.EndOfMessage()

    def start_trailer(self: Any, value: bool) -> None:
        if value:
            self.__class__ = EndWithoutTrailers

    class TrailerlessChunkedReader(reader):  # type: ignore[misc]
        _reading_trailer = property(lambda self: False, start_trailer)

        def __call__(self, buf: Any) -> Any:
            whole = b"" if self._bytes_in_chunk or self._bytes_to_discard else _whole_chunks(buf, full)
            if whole:
                parts = [whole]
            else:
                event = call(self, buf)
                if len(buf) < 5 or event.__class__ is not h11.Data:  # no next chunk's head and data
                    return event
                parts = [event.data]
            while len(buf) >= 5:  # what is left: a chunk still arriving, the end, an error
                try:
                    more = call(self, buf)
                except h11.ProtocolError as e:
                    more = e
                if more.__class__ is h11.Data:
                    parts.append(more.data)
                    continue
                if more is not None:  # the end or an error: on the next call, after this data
                    self.__class__, self.then = Then, more
                break
            return h11.Data(data=b"".join(parts) if len(parts) > 1 else parts[0])

    return TrailerlessChunkedReader


def _drain_once(original: Callable[..., Any]) -> Callable[..., Any]:
    """mitmproxy's TLS layers read what OpenSSL wrote until a read fails (an exception
    raised and caught on every record sent: every chunk of an intercepted stream).
    A memory BIO that gives fewer bytes than asked for is empty, so that read is skipped
    (over TLS; DTLS reads one datagram at a time)."""
    from mitmproxy.proxy import commands
    from OpenSSL import SSL

    size = 65535

    def tls_interact(self: Any) -> Generator[Any, Any, None]:
        if self.is_dtls:
            yield from original(self)
            return
        while True:
            try:
                data = self.tls.bio_read(size)
            except SSL.WantReadError:
                return
            yield commands.SendData(self.conn, data)
            if len(data) < size:
                return

    return tls_interact


def _unchecked(self: Any) -> None:
    """Requests and responses built without mitmproxy's debug-only type check of every field."""


_ATOMIC = frozenset({bool, int, float, str, bytes, type(None)})


def _current(option: Any) -> Any:
    """An option's value as mitmproxy gives it, without deep-copying a value that cannot
    change (deepcopy gives those back as they are): mitmproxy reads an option for every
    chunk of a stream (``store_streamed_bodies``), and more for every request."""
    value = option._default if option.value is optmanager.unset else option.value
    return value if value.__class__ in _ATOMIC else copy.deepcopy(value)


def _noted(task: asyncio.Task[Any], *, name: str, client: tuple[Any, ...] | None = None) -> None:
    """mitmproxy's note on each task it starts (a task per hook of every request): when and
    for whom, less its look-up of ``PYTEST_CURRENT_TEST`` in the environment for each."""
    task.created = time.time()
    task.set_name(name)
    if client:
        task.client = client


class Relaying:
    """mitmproxy's HTTP/1 chunked reader, its TLS layers' sending, its messages' type check,
    its notes on tasks and its option reads, swapped for ones that do less per chunk and
    per request (and take trailers). The swap is the process's: it stays while any master
    that installed it runs."""

    _originals: ClassVar[dict[str, Any]] = {}
    _users: ClassVar[int] = 0

    def __init__(self) -> None:
        self.installed = False

    def install(self) -> None:
        from mitmproxy.proxy.layers import tls
        from mitmproxy.proxy.layers.http import _http1
        from mitmproxy.utils import asyncio_utils

        if self.installed:
            return
        self.installed = True
        Relaying._users += 1
        if Relaying._users > 1:
            return
        originals = Relaying._originals = {
            "ChunkedReader": _http1.ChunkedReader,
            "tls_interact": tls.TLSLayer.tls_interact,
            "__post_init__": getattr(http.MessageData, "__post_init__", _unchecked),
            "set_task_debug_info": asyncio_utils.set_task_debug_info,
            "current": optmanager._Option.current,
        }
        asyncio_utils.set_task_debug_info = _noted
        optmanager._Option.current = _current
        _http1.ChunkedReader = _trailerless(originals["ChunkedReader"])
        tls.TLSLayer.tls_interact = _drain_once(originals["tls_interact"])
        http.MessageData.__post_init__ = _unchecked

    def uninstall(self) -> None:
        from mitmproxy.proxy.layers import tls
        from mitmproxy.proxy.layers.http import _http1
        from mitmproxy.utils import asyncio_utils

        if not self.installed:
            return
        self.installed = False
        Relaying._users -= 1
        if Relaying._users:
            return
        originals = Relaying._originals
        asyncio_utils.set_task_debug_info = originals["set_task_debug_info"]
        optmanager._Option.current = originals["current"]
        _http1.ChunkedReader = originals["ChunkedReader"]
        tls.TLSLayer.tls_interact = originals["tls_interact"]
        http.MessageData.__post_init__ = originals["__post_init__"]


_UNSET: Any = object()
_Master = master.Master  # in ``Contexts``, ``master`` is ctx's


def _per_context(name: str, var: contextvars.ContextVar[Any], last: dict[str, Any]) -> property:
    def get(module: types.ModuleType) -> Any:
        value = var.get(_UNSET)
        if value is _UNSET:
            value = last.get(name, _UNSET)
            if value is _UNSET:
                raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")
        return value

    def set_(module: types.ModuleType, value: Any) -> None:
        var.set(value)
        last[name] = value

    return property(get, set_)


class Contexts(types.ModuleType):
    """``mitmproxy.ctx`` with each proxy's own master, options and log, when a process runs
    several (the library, the tests).

    mitmproxy keeps them in module globals that name the master made last, and its addons
    and turnout's read them in every hook: of two proxies in one process, the first would
    read the second's options (check the second's key, decrypt the second's hosts, reload
    the second's config). Here they are context variables, set where a master is made and
    inherited by every task and ``asyncio.to_thread`` call it starts; code that runs in no
    master's context (another thread) sees the master made last, as with mitmproxy."""

    _last: ClassVar[dict[str, Any]] = {}
    _vars: ClassVar[dict[str, contextvars.ContextVar[Any]]] = {
        name: contextvars.ContextVar(f"mitmproxy.ctx.{name}") for name in ("master", "options", "log")
    }
    master = _per_context("master", _vars["master"], _last)
    options = _per_context("options", _vars["options"], _last)
    log = _per_context("log", _vars["log"], _last)

    @classmethod
    def install(cls) -> None:
        """For good: with one master it reads as mitmproxy's globals do."""
        from mitmproxy import ctx

        if type(ctx) is cls:
            return
        for name in cls._vars:
            if name in ctx.__dict__:
                cls._last[name] = ctx.__dict__.pop(name)
        ctx.__class__ = cls

    @classmethod
    def enter(cls, m: _Master) -> None:
        """``m``'s in the running task from here on (a task started from another thread)."""
        cls._vars["master"].set(m)
        cls._vars["options"].set(m.options)
        cls._vars["log"].set(m.log)


class _Swaps:
    """Attributes of mitmproxy's classes replaced while a master runs, for several masters in
    one process that start and stop in any order. One that stops puts back what it replaced
    unless another's replacement has since wrapped its own: then its own stays in the chain
    (passing on what is not its flows') and is taken out when the one above it goes."""

    _left: ClassVar[dict[int, Any]] = {}  # id of a replacement left in place → what it replaced

    def __init__(self) -> None:
        self._made: list[tuple[Any, str, Any, Any]] = []

    def __bool__(self) -> bool:
        return bool(self._made)

    def swap(self, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
        """``owner.name`` becomes ``make(what it was)``, which must be a new object each time
        (masters' replacements are told apart by identity)."""
        original = getattr(owner, name)
        replacement = make(original)
        setattr(owner, name, replacement)
        self._made.append((owner, name, original, replacement))

    def undo(self) -> None:
        for owner, name, original, replacement in reversed(self._made):
            if getattr(owner, name) is not replacement:  # wrapped since by another master's
                _Swaps._left[id(replacement)] = (replacement, original)
                continue
            while id(original) in _Swaps._left:  # a stopped master's, still in the chain
                original = _Swaps._left.pop(id(original))[1]
            setattr(owner, name, original)
        self._made.clear()


class Replies:
    """Replies prepared in the ``error`` hook, sent in place of mitmproxy's error page."""

    def __init__(self) -> None:
        self._prepared: weakref.WeakKeyDictionary[http.HTTPFlow, http.Response] = weakref.WeakKeyDictionary()
        self._tails: weakref.WeakKeyDictionary[http.HTTPFlow, bytes] = weakref.WeakKeyDictionary()
        self._swaps = _Swaps()

    def prepare(self, flow: http.HTTPFlow, response: http.Response) -> None:
        """``response`` goes to the client instead of mitmproxy's page for this flow's failure."""
        if flow.request.http_version.startswith("HTTP/1"):
            response.headers["connection"] = "close"  # the upstream side of it is broken
        self._prepared[flow] = response

    def prepared(self, flow: http.HTTPFlow) -> http.Response | None:
        return self._prepared.get(flow)

    def prepare_tail(self, flow: http.HTTPFlow, tail: bytes) -> None:
        """``tail`` ends this flow's response, already streaming, when its upstream fails."""
        self._tails[flow] = tail

    def install(self) -> None:
        from mitmproxy.proxy.layers import http as http_layers
        from mitmproxy.proxy.layers.http import _http1

        if self._swaps:
            return
        self._swaps.swap(http_layers.HttpStream, "handle_protocol_error", self._wrap)
        self._swaps.swap(http_layers.HttpStream, "check_body_size", self._wrap)  # sends its own 413
        # A replacement of its own (a master that stops knows its own by identity).
        self._swaps.swap(_http1, "make_error_response", lambda _: functools.partial(_json_error_page))

    def uninstall(self) -> None:
        self._swaps.undo()

    def _wrap(self, original: Callable[..., Generator[Any, Any, None]]) -> Callable[..., Any]:
        from mitmproxy.proxy.layers.http import SendHttp
        from mitmproxy.proxy.layers.http._events import (
            ResponseData,
            ResponseEndOfMessage,
            ResponseHeaders,
            ResponseProtocolError,
        )

        replies = self

        def before(stream: Any, command: Any) -> tuple[list[Any], Any]:
            """What goes out ahead of ``command``: a prepared reply, or a stream's last event."""
            if not (isinstance(command, SendHttp) and isinstance(command.event, ResponseProtocolError)):
                return [], command
            client = command.connection
            if (reply := replies._prepared.pop(stream.flow, None)) is not None:
                # The prepared reply instead of the error page: an ordinary whole response.
                stream.flow.response = reply
                out = [SendHttp(ResponseHeaders(stream.stream_id, reply, not reply.raw_content), client)]
                if reply.raw_content:
                    out.append(SendHttp(ResponseData(stream.stream_id, reply.raw_content), client))
                out.append(SendHttp(ResponseEndOfMessage(stream.stream_id), client))
            elif (tail := replies._tails.pop(stream.flow, None)) is not None:
                # The stream had begun: end it with the error event.
                out = [
                    SendHttp(ResponseData(stream.stream_id, tail), client),
                    SendHttp(ResponseEndOfMessage(stream.stream_id), client),
                ]
            else:
                return [], command
            # Then the failure itself, with the reply already out: HTTP/1 closes the
            # connection (a refused body still arriving is not read on), HTTP/2 resets
            # the stream if the client is still sending.
            return out, command

        def intercepted(stream: Any, *args: Any) -> Generator[Any, Any, Any]:
            # mitmproxy's own handling (the error hook included), with the replies ahead of it.
            return (yield from _rewritten(original(stream, *args), lambda c: before(stream, c)))

        intercepted.__wrapped__ = original
        return intercepted


class Dispatch:
    """Hooks called as mitmproxy calls them, without walking the whole chain each time.

    mitmproxy's ``AddonManager.trigger_event`` looks up the hook on every addon of the
    chain (and its sub-addons), in a context manager and a coroutine per addon, for every
    hook of every flow, and then does it again for the ``update`` hook: 19 % of a JSON
    request's CPU. ``Dispatch`` finds a hook's handlers once per chain (found again when
    the chain changes: added, removed or reordered) and calls them in the same order, an
    error reported as mitmproxy reports it. A chain with sub-addons (scripts, which can
    change their own) is left to mitmproxy."""

    def __init__(self, addons: Any) -> None:
        self.addons = addons
        self.original = addons.trigger_event
        self.handlers: dict[str, list[Callable[..., Any]]] = {}
        self.chain: tuple[int, ...] = ()

    @classmethod
    def install(cls, m: master.Master) -> Dispatch:
        dispatch = cls(m.addons)
        m.addons.trigger_event = dispatch.trigger_event
        return dispatch

    async def trigger_event(self, event: Any) -> None:
        from mitmproxy import exceptions
        from mitmproxy.addonmanager import safecall

        chain = tuple(map(id, self.addons.chain))
        if chain != self.chain:
            self.chain, self.handlers = chain, {}
        handlers = self.handlers.get(event.name)
        if handlers is None:
            found = self._find(event.name)
            if found is None:
                return await self.original(event)
            handlers = self.handlers[event.name] = found
        if not handlers:
            return None
        args = event.args()
        for handler in handlers:
            try:
                result = handler(*args)
                if result is not None and inspect.isawaitable(result):
                    await result
            except exceptions.AddonHalt:
                return None
            except Exception:
                with safecall():  # mitmproxy's own report (and OptionsError raised on)
                    raise
        return None

    def _find(self, name: str) -> list[Callable[..., Any]] | None:
        handlers = []
        for addon in self.addons.chain:
            if hasattr(addon, "addons"):
                return None
            handler = getattr(addon, name, None)
            if handler is None or isinstance(handler, types.ModuleType):
                continue
            if not callable(handler):
                return None  # mitmproxy's error to report
            handlers.append(handler)
        return handlers


def ahead_of(m: master.Master, addon: Any, name: str) -> None:
    """Move ``addon`` (already added) just before the addon called ``name``, if there is one."""
    chain = getattr(m.addons, "chain", None)
    other = m.addons.get(name)
    if not isinstance(chain, list) or other not in chain or addon not in chain:
        raise ConfigError(
            f"this mitmproxy ({_version()}) orders its addons differently; install {_MITMPROXY}"
        )
    chain.remove(addon)
    chain.insert(chain.index(other), addon)


class WireHeaders:
    """Header values a flow's request carries on the wire only, never in the flow itself."""

    def __init__(self) -> None:
        self._held: weakref.WeakKeyDictionary[http.HTTPFlow, Fields] = weakref.WeakKeyDictionary()
        self._swaps = _Swaps()

    def hold(self, flow: http.HTTPFlow, fields: Fields) -> None:
        """``fields`` (lowercase names) replace the same-named headers on the wire, once."""
        if fields:
            self._held[flow] = fields

    def held(self, flow: http.HTTPFlow) -> Fields:
        return self._held.get(flow, ())

    def install(self) -> None:
        from mitmproxy.proxy.layers import http as http_layers

        if not self._swaps:
            self._swaps.swap(http_layers.HttpStream, "state_consume_request_body", self._wrap)

    def uninstall(self) -> None:
        self._swaps.undo()

    def _wrap(self, original: Callable[..., Generator[Any, Any, None]]) -> Callable[..., Any]:
        from mitmproxy.proxy.layers.http import SendHttp
        from mitmproxy.proxy.layers.http._events import RequestHeaders

        held = self._held

        def with_key(stream: Any, command: Any) -> tuple[list[Any], Any]:
            if isinstance(command, SendHttp) and isinstance(command.event, RequestHeaders):
                fields = held.pop(stream.flow, None)
                if fields is not None:
                    headers = command.event
                    request = _with_fields(headers.request, fields)
                    command = SendHttp(
                        RequestHeaders(headers.stream_id, request, headers.end_stream), command.connection
                    )
            return [], command

        def sending(stream: Any, event: Any) -> Generator[Any, Any, Any]:
            return (yield from _rewritten(original(stream, event), lambda c: with_key(stream, c)))

        sending.__wrapped__ = original
        return sending


def _rewritten(
    steps: Generator[Any, Any, Any], rewrite: Callable[[Any], tuple[list[Any], Any]]
) -> Generator[Any, Any, Any]:
    """``steps`` (a layer's command generator) as it is, but each command through
    ``rewrite``: the commands to send ahead of it (their answers unused), and itself or a
    replacement."""
    sent = None
    while True:
        try:
            command = steps.send(sent)
        except StopIteration as done:
            return done.value
        ahead, command = rewrite(command)
        for extra in ahead:  # noqa: UP028 (a list cannot take what mitmproxy sends back)
            yield extra
        sent = yield command


def _with_fields(request: http.Request, fields: Fields) -> http.Request:
    """A copy of ``request`` (sharing its body) whose headers named in ``fields`` hold those values."""
    values = dict(fields)
    headers = []
    for name, value in request.headers.fields:
        lower = name.lower()
        if lower in values:
            value = values.pop(lower)
        headers.append((name, value))
    headers.extend(values.items())  # removed meanwhile (an intercept's edit): put back
    wire = object.__new__(http.Request)  # a shallow copy (copy.copy costs twice as much)
    wire.__dict__.update(request.__dict__)
    data = wire.data = object.__new__(type(request.data))
    data.__dict__.update(request.data.__dict__)
    data.headers = http.Headers(tuple(headers))
    return wire


class Listening:
    """Every TCP listener mitmproxy opens: with ``backlog()`` pending connections, and,
    when ``reuse_port()``, with ``SO_REUSEPORT`` so that several workers accept on one
    port and the kernel spreads the connections over them."""

    def __init__(self, backlog: Callable[[], int], reuse_port: Callable[[], bool] = lambda: False) -> None:
        self.backlog, self.reuse_port = backlog, reuse_port
        self._swaps = _Swaps()

    def install(self) -> None:
        from mitmproxy.proxy.mode_servers import AsyncioServerInstance

        if not self._swaps:
            self._swaps.swap(AsyncioServerInstance, "listen", self._wrap)

    def uninstall(self) -> None:
        self._swaps.undo()

    def _wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        backlog, reuse_port = self.backlog, self.reuse_port

        async def listen(instance: Any, host: str, port: int) -> Any:
            if reuse_port() and port and instance.mode.transport_protocol == "tcp":
                return [
                    await asyncio.start_server(
                        instance.handle_stream, host, port, backlog=backlog(), reuse_port=True
                    )
                ]
            servers = await original(instance, host, port)
            for server in servers:
                for sock in getattr(server, "sockets", None) or ():  # asyncio's (TCP) servers
                    _listen_again(sock.fileno(), backlog())
            return servers

        listen.__wrapped__ = original
        return listen


def _listen_again(fd: int, backlog: int) -> None:
    """listen() on a listening socket only changes its backlog (Linux, macOS, BSDs)."""
    with socket.socket(fileno=os.dup(fd)) as sock:
        sock.listen(backlog)

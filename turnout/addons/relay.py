"""Relays the backend's response: SSE streamed chunk by chunk, the route named in headers
(``x-turnout-backend``, and ``x-turnout-attempts``, which failover raises when it retries).

Without ``stream`` mitmproxy would buffer an SSE response to its end, so every
``text/event-stream`` response is streamed. Same-dialect bodies pass through untouched,
but for a compression the backend applied although asked not to.
"""

from __future__ import annotations

from mitmproxy import http

from turnout.addons import _mitm
from turnout.addons._flows import Exchanges, error_response, replace_whole
from turnout.core.codec import DecodeError, StreamDecoder
from turnout.core.dialects.sse import MAX_EVENT
from turnout.core.errors import BackendUnreachable
from turnout.core.exchange import Exchange
from turnout.core.headers import header_value, is_sse, rewrite

_FRAMING = frozenset({b"content-length", b"transfer-encoding"})
_CHUNKED = ((b"transfer-encoding", b"chunked"),)


class Relay:
    def __init__(self, exchanges: Exchanges) -> None:
        self.exchanges = exchanges
        self.relaying = _mitm.Relaying()  # chunks that arrived together relayed as one piece

    def running(self) -> None:
        self.relaying.install()

    def done(self) -> None:
        self.relaying.uninstall()

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        exchange = self.exchanges.get(flow)
        if exchange is None or flow.response is None:
            return
        if exchange.passed:  # unrouted, passed through to its own host: relayed untouched
            if is_sse(flow.response.headers.fields):
                flow.response.stream = True
            return
        if exchange.placement is None:
            return
        headers = flow.response.headers
        # Appended to the raw fields: one tuple concatenation instead of two scans of the headers.
        headers.fields += (
            (b"x-turnout-backend", exchange.placement.backend.name.encode()),
            (b"x-turnout-attempts", b"1"),
        )
        if is_sse(headers.fields):
            flow.response.stream = True
            # Framed by chunks, not a length: turnout may end the stream with an error event.
            chunked = _CHUNKED if flow.response.data.http_version.startswith(b"HTTP/1") else ()
            headers.fields = rewrite(headers.fields, _FRAMING, chunked)
            if (encoding := header_value(headers.fields, b"content-encoding")) is not None:
                self._decode(flow.response, exchange, encoding.decode("latin-1"))

    @staticmethod
    def _decode(response: http.Response, exchange: Exchange, encoding: str) -> None:
        """Streams are asked for uncompressed (``core/upstream.py``); one sent compressed
        anyway is decoded read by read, so turnout can read it and the client gets it plain."""
        try:
            exchange.decoder = StreamDecoder(encoding, MAX_EVENT)
        except DecodeError as e:  # an encoding nobody can read: an error before anything is sent
            replace_whole(response, error_response(exchange.dialect, BackendUnreachable(f"{e}.")))
            return
        del response.headers["content-encoding"]

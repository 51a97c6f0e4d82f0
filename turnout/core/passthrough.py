"""A same-dialect stream, relayed as whole events.

The client's SDK parses what turnout forwards, so turnout forwards only whole events:
a read that ends inside an event keeps that part back until the rest arrives (providers
flush per event, so this is almost always free). That is what lets a broken stream end
cleanly: the half event is never sent, and the error event that follows it is one the
SDK can read, not JSON glued onto half of another. On the side, the usage is read
(``usage.UsageSniffer``), a stream compressed although asked not to is decoded, and
whether the stream reached its own end is noted (a client that hangs up after the last
event has not abandoned anything).
"""

from __future__ import annotations

import contextlib
import logging

from turnout.core.codec import DecodeError, StreamDecoder
from turnout.core.dialects.errors import stream_error_event
from turnout.core.dialects.sse import MAX_EVENT, last_event_end
from turnout.core.models import Dialect
from turnout.core.prices import Usage
from turnout.core.restore import StreamRestorer
from turnout.core.usage import UsageSniffer

__all__ = ["PassThrough"]

logger = logging.getLogger(__name__)


class PassThrough:
    """mitmproxy's ``response.stream`` callable for a stream in the client's own dialect."""

    def __init__(self, dialect: Dialect, decoder: StreamDecoder | None = None, api: str = "") -> None:
        self.dialect = dialect
        self.api = api  # "responses": errors are that API's events
        self.decoder = decoder
        self.sniffer = UsageSniffer(dialect)
        self._last = b""  # the last read sent on
        self.failure: str | None = None  # the error event turnout ended it with, if it did
        self._held: list[bytes] = []  # the start of an event whose end has not come
        self._held_size = 0
        self._broken = False
        self.restorer: StreamRestorer | None = None  # secrets put back (scrub.py), when any went out

    @property
    def usage(self) -> Usage | None:
        return self.sniffer.usage

    def __call__(self, data: bytes) -> bytes | list[bytes]:
        if not data:
            return self._end()
        if self._broken:
            return []
        if self.decoder is not None:
            try:
                data = self.decoder(data)
            except DecodeError as e:
                return self._fail(f"The backend's stream is unreadable: {e}.")
        if self._held or not data.endswith(b"\n\n"):  # else the usual read: whole events
            whole = self._whole(data)
            if whole is None:
                return self._fail(f"The backend sent an event of more than {MAX_EVENT:,} bytes.")
            if not whole:
                return []  # an empty chunk would end an HTTP/1 body
            data = whole
        if b'"usage' in data:  # most reads carry none: nothing more to do
            with contextlib.suppress(Exception):  # bookkeeping never breaks the stream
                self.sniffer.feed(data)
        self._last = data
        restorer = self.restorer
        if restorer is not None and (not restorer.idle or b"[[" in data or b'["' in data):  # else: no call
            try:
                data = restorer(data)
            except Exception:  # never raise into mitmproxy: it would drop the chunk and go on
                logger.exception("restoring a stream's secrets failed")
                self.restorer = None  # what it held is dropped with it
                return self._fail("turnout could not put the stream's secrets back.")
            if not data:
                return []  # all held back: an empty chunk would end an HTTP/1 body
        return data

    @property
    def complete(self) -> bool:
        """The stream's own last event went by (a hang-up after it abandons nothing)."""
        tail = self._last[-64:]
        return b"[DONE]" in tail or b"message_stop" in tail or b'"response.completed"' in tail

    def _whole(self, data: bytes) -> bytes | None:
        """The whole events ``data`` completes; the rest is held (None: held past the cap)."""
        joint = b"".join(self._held[-3:])[-3:]  # a boundary may span reads (of a byte each, even)
        end = last_event_end(joint + data)
        if end < 0:
            self._held.append(data)
            self._held_size += len(data)
            return None if self._held_size > MAX_EVENT else b""
        cut = end - len(joint)
        events = b"".join((*self._held, data[:cut])) if self._held else data[:cut]
        rest = data[cut:]
        self._held, self._held_size = ([rest], len(rest)) if rest else ([], 0)
        return events

    def _fail(self, message: str, status: int = 502) -> list[bytes]:
        self._broken, self.failure = True, message
        self._held, self._held_size = [], 0
        return [self._release() + stream_error_event(self.dialect, status, message, self.api)]

    def _release(self) -> bytes:
        """What the restorer still holds (a delta that ended like the start of a placeholder)."""
        return self.restorer.end() if self.restorer is not None else b""

    def _end(self) -> list[bytes]:
        """The stream is over. If it stopped inside an event, that half is dropped and the
        client is told, rather than left with half an event its SDK may take for all."""
        if self._broken or not any(piece.strip() for piece in self._held):
            held = self._release()
            return [held] if held else []
        return self._fail("The backend's stream ended in the middle of an event.")

    def fail(self, message: str, status: int = 502) -> bytes:
        """The connection broke: what ends the stream for the client (the held half dropped)."""
        return b"" if self._broken else self._fail(message, status)[0]

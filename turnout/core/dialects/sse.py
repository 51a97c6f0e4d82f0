"""Server-sent events: an incremental parser fed arbitrary byte chunks, and a writer.

Follows the HTML spec's framing: lines end in LF, CRLF or CR; ``data:`` lines of one
event are joined with LF; a blank line dispatches; ``:`` lines are comments. Only whole
lines are decoded, so a UTF-8 character split across reads is never damaged.

The work is linear in the bytes fed, however an upstream splits them: a read without a
line break is set aside and joined once the line ends (a 50 MB line in 64 KB reads used
to be re-copied on every read), and an event larger than ``MAX_EVENT`` raises
``EventTooLarge`` rather than growing without bound.
"""

from __future__ import annotations

__all__ = [
    "MAX_EVENT",
    "EventBuffer",
    "EventTooLarge",
    "SSEParser",
    "event_around",
    "format_event",
    "last_event_end",
]

Event = tuple[bytes | None, bytes]  # (event name, data), as the parser hands them out
MAX_EVENT = 16 * 1024 * 1024  # bytes in one event; far above any provider's, well below harm
_FAST_BLOCK = 64 * 1024  # a partial block kept for the fast lane; longer ones go line by line


class EventTooLarge(ValueError):
    """The upstream sent one event of more than ``MAX_EVENT`` bytes."""


class SSEParser:
    def __init__(self) -> None:
        self._buffer = b""
        self._tail: list[bytes] = []  # reads with no line break, after ``_buffer``, not yet joined
        self._tail_size = 0
        self._event: bytes | None = None
        self._data: list[bytes] = []
        self._data_size = 0
        self._pending_cr = False

    @property
    def idle(self) -> bool:
        """Nothing pending: every byte fed so far belonged to a complete event."""
        return not (self._buffer or self._tail or self._data or self._event)

    def _set_aside(self, chunk: bytes) -> None:
        self._tail.append(chunk)
        self._tail_size += len(chunk)
        if len(self._buffer) + self._tail_size + self._data_size > MAX_EVENT:
            raise EventTooLarge(f"the upstream sent an event of more than {MAX_EVENT:,} bytes")

    def _joined(self, chunk: bytes) -> bytes:
        """``chunk`` after the reads set aside before it."""
        if not self._tail:
            return chunk
        self._tail.append(chunk)
        joined = b"".join(self._tail)
        self._tail, self._tail_size = [], 0
        return joined

    def single_data(self, chunk: bytes) -> bytes | None:
        """The data of ``chunk`` when it is exactly one ``data:`` event (LF or CRLF framed)
        and nothing is pending; else None (then call ``feed_raw``). The per-event fast lane
        of streams."""
        if not chunk.startswith(b"data: ") or self._pending or chunk.count(b"\n") != 2:
            return None
        if chunk.endswith(b"\n\n") and b"\r" not in chunk:
            return chunk[6:-2]
        if chunk.endswith(b"\r\n\r\n") and chunk.count(b"\r") == 2:
            return chunk[6:-4]
        return None

    def single_event(self, chunk: bytes) -> Event | None:
        """``chunk`` as one event, when it is exactly one (``data:``, or ``event:`` then
        ``data:``) and nothing is pending; else None (then call ``feed_raw``)."""
        if (data := self.single_data(chunk)) is not None:
            return None, data
        if (
            chunk.startswith(b"event: ")
            and chunk.endswith(b"\n\n")
            and chunk.count(b"\n") == 3
            and not self._pending
            and b"\r" not in chunk
        ):
            head, _, rest = chunk.partition(b"\n")
            if rest.startswith(b"data: "):
                return head[7:], rest[6:-2]
        return None

    @property
    def _pending(self) -> bool:
        return bool(self._buffer or self._tail or self._data or self._event or self._pending_cr)

    def feed_raw(self, chunk: bytes) -> list[Event]:
        """The events ``chunk`` completes, as (event name, data) bytes: the hot path of every
        stream translator, with a fast lane for reads that hold whole events (providers
        flush per event) and the line-by-line parser for everything else."""
        if b"\n" not in chunk and b"\r" not in chunk:
            if chunk:
                self._set_aside(chunk)  # no line can end here: nothing to do until one does
            return []
        chunk = self._joined(chunk)
        if b"\r" in chunk and not self._pending_cr and chunk.count(b"\r") == chunk.count(b"\r\n"):
            chunk = chunk.replace(b"\r\n", b"\n")  # CRLF framing (Gemini's): every CR ends a line here
        if not (self._data or self._event or self._pending_cr) and b"\r" not in chunk:
            data = self._buffer + chunk if self._buffer else chunk
            if data.endswith(b"\n\n"):
                head, rest = data, b""
            else:
                cut = data.rfind(b"\n\n")
                if cut < 0:
                    if len(data) <= _FAST_BLOCK:
                        self._buffer = data  # no event completed yet; the partial block waits
                        return []
                    self._buffer = b""  # a long unfinished block: the line parser keeps one line
                    return self._lines(data)
                head, rest = data[: cut + 2], data[cut + 2 :]
            fast = _whole_events(head)
            if fast is not None:
                if len(rest) <= _FAST_BLOCK:
                    self._buffer = rest
                    return fast
                self._buffer = b""
                return fast + self._lines(rest)
        return self._lines(chunk)

    def _lines(self, chunk: bytes) -> list[Event]:
        """The line-by-line parser: ``_buffer`` holds at most one unfinished line."""
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across two reads
        self._pending_cr = chunk.endswith(b"\r")
        data = self._buffer + chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._buffer = data.split(b"\n")
        events: list[Event] = []
        for raw in lines:
            self._line(raw, events)
        if len(self._buffer) + self._data_size > MAX_EVENT:
            raise EventTooLarge(f"the upstream sent an event of more than {MAX_EVENT:,} bytes")
        return events

    def flush_raw(self) -> list[Event]:
        """End of stream: a last event without its blank line still counts."""
        events: list[Event] = []
        self._buffer += self._joined(b"")
        for line in self._buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
            self._line(line, events)  # the buffer may hold several lines of an unfinished event
        self._buffer = b""
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[Event]) -> None:
        if not line:
            if self._data:
                events.append((self._event, b"\n".join(self._data)))
            self._event, self._data, self._data_size = None, [], 0
            return
        if line.startswith(b":"):
            return
        name, _, value = line.partition(b":")
        value = value.removeprefix(b" ")
        if name == b"data":
            self._data.append(value)
            self._data_size += len(value)
        elif name == b"event":
            self._event = value


def _whole_events(chunk: bytes) -> list[Event] | None:
    """Events of the usual shapes (``data: x`` or ``event: e\\ndata: x``), or None."""
    blocks = chunk.split(b"\n\n")
    blocks.pop()  # the empty tail after the last blank line
    if len(blocks) == 1 and blocks[0].startswith(b"data: ") and b"\n" not in blocks[0]:
        return [(None, blocks[0][6:])]  # the commonest read of all: one OpenAI chunk
    events: list[Event] = []
    for block in blocks:
        if block.startswith(b"data: ") and b"\n" not in block:
            events.append((None, block[6:]))
        elif block.startswith(b"event: ") and block.count(b"\n") == 1:
            head, _, data = block.partition(b"\n")
            if not data.startswith(b"data: "):
                return None
            events.append((head[7:], data[6:]))
        else:
            return None
    return events


_BOUNDARIES = (b"\n\n", b"\r\n\r\n", b"\r\r")  # what ends an event (the spec's line ends, twice)
_LF = (b"\n\n",)  # all a stream without a CR can use: one search instead of three


def last_event_end(window: bytes, before: int | None = None) -> int:
    """Where the last whole event in ``window[:before]`` ends, or -1."""
    best = -1
    for boundary in _BOUNDARIES if b"\r" in window else _LF:
        at = window.rfind(boundary, 0, before)
        if at >= 0:
            best = max(best, at + len(boundary))
    return best


def event_around(events: bytes, start: int, end: int) -> tuple[int, int]:
    """The bounds of the event(s) holding ``events[start:end]``: from the end of the one
    before to the end of the last one it reaches into (or the end of ``events``)."""
    first = max(last_event_end(events, start), 0)
    boundaries = _BOUNDARIES if b"\r" in events else _LF
    after = [at + len(b) for b in boundaries if (at := events.find(b, end)) >= 0]
    return first, min(after, default=len(events))


def format_event(event: str | None, data: bytes) -> bytes:
    """One SSE event. ``data`` must be a single line (compact JSON is)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


class EventBuffer:
    """Events a stream translator has written since the last ``take``."""

    _out: list[bytes]

    def take(self) -> bytes:
        out = self._out
        if not out:
            return b""
        self._out = []
        return out[0] if len(out) == 1 else b"".join(out)

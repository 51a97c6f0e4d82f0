"""Server-sent events: an incremental parser fed arbitrary byte chunks, and a writer.

Follows the HTML spec's framing: lines end in LF, CRLF or CR; ``data:`` lines of one
event are joined with LF; a blank line dispatches; ``:`` lines are comments. Only whole
lines are decoded, so a UTF-8 character split across reads is never damaged.
"""

from __future__ import annotations

__all__ = ["EventBuffer", "SSEParser", "format_event"]

Event = tuple[bytes | None, bytes]  # (event name, data), as the parser hands them out


class SSEParser:
    def __init__(self) -> None:
        self._buffer = b""
        self._event: bytes | None = None
        self._data: list[bytes] = []
        self._pending_cr = False

    @property
    def idle(self) -> bool:
        """Nothing pending: every byte fed so far belonged to a complete event."""
        return not (self._buffer or self._data or self._event)

    def single_data(self, chunk: bytes) -> bytes | None:
        """The data of ``chunk`` when it is exactly one ``data:`` event and nothing is
        pending; else None (then call ``feed_raw``). The per-event fast lane of streams."""
        if (
            chunk.startswith(b"data: ")
            and chunk.endswith(b"\n\n")
            and chunk.count(b"\n") == 2
            and not (self._buffer or self._data or self._event or self._pending_cr)
            and b"\r" not in chunk
        ):
            return chunk[6:-2]
        return None

    def feed_raw(self, chunk: bytes) -> list[Event]:
        """The events ``chunk`` completes, as (event name, data) bytes: the hot path of every
        stream translator, with a fast lane for reads that hold whole events (providers
        flush per event) and the line-by-line parser for everything else."""
        if not (self._data or self._event or self._pending_cr) and b"\r" not in chunk:
            data = self._buffer + chunk if self._buffer else chunk
            if data.endswith(b"\n\n"):
                head, rest = data, b""
            else:
                cut = data.rfind(b"\n\n")
                if cut < 0:
                    self._buffer = data  # no event completed yet; the partial block waits
                    return []
                head, rest = data[: cut + 2], data[cut + 2 :]
            fast = _whole_events(head)
            if fast is not None:
                self._buffer = rest
                return fast
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
        return events

    def flush_raw(self) -> list[Event]:
        """End of stream: a last event without its blank line still counts."""
        events: list[Event] = []
        for line in self._buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"):
            self._line(line, events)  # the buffer may hold several lines of an unfinished event
        self._buffer = b""
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[Event]) -> None:
        if not line:
            if self._data:
                events.append((self._event, b"\n".join(self._data)))
            self._event, self._data = None, []
            return
        if line.startswith(b":"):
            return
        name, _, value = line.partition(b":")
        value = value.removeprefix(b" ")
        if name == b"data":
            self._data.append(value)
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

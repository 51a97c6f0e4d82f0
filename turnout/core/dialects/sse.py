"""Server-sent events: an incremental parser fed arbitrary byte chunks, and a writer.

Follows the HTML spec's framing: lines end in LF, CRLF or CR; ``data:`` lines of one
event are joined with LF; a blank line dispatches; ``:`` lines are comments. Only whole
lines are decoded, so a UTF-8 character split across reads is never damaged.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEEvent", "SSEParser", "format_event"]


@dataclass(frozen=True)
class SSEEvent:
    event: str | None
    data: str


class SSEParser:
    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across two reads
        self._pending_cr = chunk.endswith(b"\r")
        data = self._buffer + chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._buffer = data.split(b"\n")
        events: list[SSEEvent] = []
        for raw in lines:
            self._line(raw.decode("utf-8", "replace"), events)
        return events

    def flush(self) -> list[SSEEvent]:
        """End of stream: a last event without its blank line still counts."""
        events: list[SSEEvent] = []
        if self._buffer:
            self._line(self._buffer.decode("utf-8", "replace"), events)
            self._buffer = b""
        self._line("", events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(SSEEvent(self._event, "\n".join(self._data)))
            self._event, self._data = None, []
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value


def format_event(event: str | None, data: bytes) -> bytes:
    """One SSE event. ``data`` must be a single line (compact JSON is)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"

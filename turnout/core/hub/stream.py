"""A stream translated through the hub: a backend dialect's reader, a client dialect's writer.

The reader turns bytes into events, the writer events into bytes. When a backend reports
no usage (llama.cpp and others ignore ``include_usage``), the end of the answer gets an
estimate (chars/4, as ``core/tokens.py``) and says so in ``estimated``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from turnout.core.dialects.sse import EventBuffer, SSEParser
from turnout.core.hub.answer import Event, Failed, Finished
from turnout.core.prices import Usage

__all__ = ["EventReader", "HubStream", "Reader", "Writer"]


class Reader(Protocol):
    ended: bool

    def feed(self, data: bytes) -> list[Event]: ...
    def finish(self) -> list[Event]: ...


class EventReader:
    """What every backend stream reader shares: the SSE framing, however the bytes are
    split (a read holding one whole event takes the parser's fast lane), each event to
    ``_on``, and an end that is ``Failed`` unless the answer had finished. A reader never
    raises on what an upstream sends; after ``ended`` it reads nothing more."""

    def __init__(self) -> None:
        self._parser = SSEParser()
        self.ended = False

    def feed(self, data: bytes) -> list[Event]:
        out: list[Event] = []
        if (single := self._parser.single_event(data)) is not None:
            self._on(single[0], single[1], out)
            return out
        for name, payload in self._parser.feed_raw(data):
            self._on(name, payload, out)
        return out

    def finish(self) -> list[Event]:
        out: list[Event] = []
        for name, payload in self._parser.flush_raw():
            self._on(name, payload, out)
        if not self.ended:
            self._stopped_short(out)
        return out

    def _stopped_short(self, out: list[Event]) -> None:
        """The bytes ended and the answer had not: the client is told."""
        self._fail(out, "The upstream stream ended before it finished.")

    def _fail(
        self, out: list[Event], message: str, code: str = "server_error", kind: str | None = None
    ) -> None:
        out.append(Failed(message, code, kind))
        self.ended = True

    def _on(self, name: bytes | None, payload: bytes, out: list[Event]) -> None:
        raise NotImplementedError


class Writer(EventBuffer):
    """A client dialect's stream writer: what every one keeps, and how it fails (once, as
    its dialect's error event; ``_fail`` writes that event)."""

    def __init__(self) -> None:
        self._out = []
        self.chars = 0  # text, reasoning and tool input written: the estimate when no usage comes
        self.usage: Usage | None = None
        self.completed = False  # the stream's own last event went out
        self.failure: str | None = None
        self.stopped = False

    def write(self, events: list[Event]) -> bytes:
        raise NotImplementedError

    def _fail(self, message: str) -> None:
        raise NotImplementedError

    def fail(self, message: str) -> bytes:
        """An internal failure or a cut stream, reported in the client's dialect."""
        if not self.stopped:
            self._fail(message)
        return self.take()


class HubStream:
    def __init__(
        self, reader: Reader, writer: Writer, prompt_tokens: Callable[[], int] | None = None
    ) -> None:
        self.reader, self.writer = reader, writer
        self._prompt_tokens = prompt_tokens
        self.estimated = False

    @property
    def completed(self) -> bool:
        return self.writer.completed

    @property
    def failure(self) -> str | None:
        return self.writer.failure

    @property
    def usage(self) -> Usage | None:
        return self.writer.usage

    def feed(self, data: bytes) -> bytes:
        return self._write(self.reader.feed(data))

    def finish(self) -> bytes:
        return self._write(self.reader.finish())

    def fail(self, message: str) -> bytes:
        return self.writer.fail(message)

    def _write(self, events: list[Event]) -> bytes:
        if not events:
            return b""
        last = events[-1]
        if not isinstance(last, Finished) or last.usage is not None:
            return self.writer.write(events)
        head = self.writer.write(events[:-1])  # counted first: the estimate includes them
        prompt = self._prompt_tokens() if self._prompt_tokens is not None else 0
        self.estimated = True
        return head + self.writer.write(
            [Finished(last.stop, Usage(prompt, math.ceil(self.writer.chars / 4)))]
        )

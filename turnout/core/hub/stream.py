"""A stream translated through the hub: a backend dialect's reader, a client dialect's writer.

The reader turns bytes into events, the writer events into bytes. When a backend reports
no usage (llama.cpp and others ignore ``include_usage``), the end of the answer gets an
estimate (chars/4, as ``core/tokens.py``) and says so in ``estimated``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

from turnout.core.hub.answer import Event, Finished
from turnout.core.prices import Usage

__all__ = ["HubStream", "Reader", "Writer"]


class Reader(Protocol):
    ended: bool

    def feed(self, data: bytes) -> list[Event]: ...
    def finish(self) -> list[Event]: ...


class Writer(Protocol):
    chars: int
    usage: Usage | None
    completed: bool
    failure: str | None
    stopped: bool

    def write(self, events: list[Event]) -> bytes: ...
    def fail(self, message: str) -> bytes: ...


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

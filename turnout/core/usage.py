"""Token usage read from responses in either dialect, whole or streamed.

Streams are sniffed cheaply: a read is looked at only if it mentions a usage object, and
only the event holding it is parsed, so pass-through streams stay fast.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from turnout.core.dialects.mapping import as_mapping, count
from turnout.core.dialects.sse import SSEParser, event_around
from turnout.core.models import Dialect
from turnout.core.prices import Usage

__all__ = ["USAGE", "UsageSniffer", "usage_from_body", "usage_in", "usage_of"]

# An object, not OpenAI's `"usage": null` per chunk (or a line end: the object on the next data line).
USAGE = re.compile(rb'"usage(?:Metadata)?"\s*:(?:\s*\{|[ \t]*\r?\n)')


def usage_of(dialect: Dialect, usage: Any) -> Usage:
    """``usage`` in ``dialect``'s shape (or anything an upstream put there) as token counts."""
    usage = as_mapping(usage)
    if dialect == "gemini":  # usageMetadata: the prompt count includes cached tokens
        prompt, cached = count(usage.get("promptTokenCount")), count(usage.get("cachedContentTokenCount"))
        return Usage(
            max(prompt - cached, 0),
            count(usage.get("candidatesTokenCount")),
            cached,
            0,
            count(usage.get("thoughtsTokenCount")),
        )
    if dialect == "anthropic":
        details = as_mapping(usage.get("output_tokens_details"))
        return Usage(
            count(usage.get("input_tokens")),
            count(usage.get("output_tokens")),
            count(usage.get("cache_read_input_tokens")),
            count(usage.get("cache_creation_input_tokens")),
            count(details.get("thinking_tokens")),
        )
    prompt = count(usage.get("prompt_tokens")) or count(usage.get("input_tokens"))
    details = as_mapping(usage.get("prompt_tokens_details") or usage.get("input_tokens_details"))
    out_details = as_mapping(usage.get("completion_tokens_details") or usage.get("output_tokens_details"))
    cached, written = count(details.get("cached_tokens")), count(details.get("cache_write_tokens"))
    return Usage(
        max(prompt - cached - written, 0),
        count(usage.get("completion_tokens")) or count(usage.get("output_tokens")),
        cached,
        written,
        count(out_details.get("reasoning_tokens")),
    )


def usage_from_body(dialect: Dialect, body: bytes) -> Usage | None:
    if b'"usage' not in body:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return usage_of(dialect, usage_in(data)) if isinstance(data, dict) else None


def usage_in(data: dict[str, Any]) -> Any:
    """Where an answer keeps its usage, in any dialect: ``usage`` (Gemini: ``usageMetadata``)."""
    return data.get("usage") or data.get("usageMetadata")


def _data_line(events: bytes, at: int) -> tuple[int, int] | None:
    """The bounds of the JSON on the ``data: `` line holding ``events[at]``, when that line is
    its event's only data line and the event has no CR; else None (``SSEParser`` reads it).
    ``events`` starts at an event's start (``passthrough.py`` aligns them)."""
    boundary = events.rfind(b"\n\n", 0, at)  # LF only: an event with a CR is refused below
    event = boundary + 2 if boundary >= 0 else 0
    start = events.rfind(b"\n", 0, at) + 1
    end = events.find(b"\n", at)
    if (
        end < 0
        or not events.startswith(b"data: ", start)
        or not events.startswith(b"\n", end + 1)  # a blank line: the event ends with this line
        or b"\r" in events[event : end + 2]
    ):
        return None
    before = events[event:start]  # the event's lines before it: no other data line
    if before.startswith(b"data:") or b"\ndata:" in before:
        return None
    return start + 6, end


class UsageSniffer:
    """The usage in a stream of whole events (``passthrough.py`` aligns them), read on the
    side: only a read that mentions a usage object is parsed, from the event holding it."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.raw: dict[str, Any] = {}

    @property
    def usage(self) -> Usage | None:
        return usage_of(self.dialect, self.raw) if self.raw else None

    def feed(self, events: bytes) -> None:
        """Only the events that mention a usage object are parsed: a read may hold a whole
        stream (chunks that arrived together), and most of its events carry none."""
        at = events.find(b'"usage')  # a byte search first: the pattern only where it may match
        while at >= 0:
            found = USAGE.match(events, at)
            if found is not None:
                line = _data_line(events, at)
                if line is not None:  # the usual event: its one data line holds the usage
                    self._take(events[line[0] : line[1]])
                    at = line[1]
                else:
                    start, end = event_around(events, at, found.end())
                    for _, payload in SSEParser().feed_raw(events[start:end]):
                        self._take(payload)
                    at = end
            at = events.find(b'"usage', at + 1)

    def _take(self, payload: bytes) -> None:
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        usage = (
            usage_in(event)
            or as_mapping(event.get("message")).get("usage")  # Anthropic's message_start
            or as_mapping(event.get("response")).get("usage")  # the Responses API's response.completed
        )
        if isinstance(usage, dict):
            self.raw.update({k: v for k, v in usage.items() if v is not None})

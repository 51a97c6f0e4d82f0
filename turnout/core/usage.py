"""Token usage read from responses in either dialect, whole or streamed.

Streams are sniffed cheaply: a read is looked at only if it mentions ``"usage"``, and
only the event holding it is parsed, so pass-through streams stay fast.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from turnout.core.dialects.sse import SSEParser
from turnout.core.models import Dialect
from turnout.core.prices import Usage

__all__ = ["UsageSniffer", "usage_from_body", "usage_of"]

_USAGE = re.compile(rb'"usage"\s*:\s*\{')  # a usage object, not OpenAI's `"usage": null` on every chunk


def usage_of(dialect: Dialect, usage: dict[str, Any] | None) -> Usage:
    usage = usage or {}
    if dialect == "anthropic":
        details = usage.get("output_tokens_details") or {}
        return Usage(
            int(usage.get("input_tokens") or 0),
            int(usage.get("output_tokens") or 0),
            int(usage.get("cache_read_input_tokens") or 0),
            int(usage.get("cache_creation_input_tokens") or 0),
            int(details.get("thinking_tokens") or 0),
        )
    prompt = usage.get("prompt_tokens") or usage.get("input_tokens") or 0
    details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    out_details = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
    cached, written = int(details.get("cached_tokens") or 0), int(details.get("cache_write_tokens") or 0)
    return Usage(
        max(int(prompt) - cached - written, 0),
        int(usage.get("completion_tokens") or usage.get("output_tokens") or 0),
        cached,
        written,
        int(out_details.get("reasoning_tokens") or 0),
    )


def usage_from_body(dialect: Dialect, body: bytes) -> Usage | None:
    if b'"usage"' not in body:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return usage_of(dialect, data.get("usage")) if isinstance(data, dict) else None


class UsageSniffer:
    """Pass-through stream reads in, the same reads out; the usage is kept on the side."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.raw: dict[str, Any] = {}
        self._tail = b""
        self._parser: SSEParser | None = None

    @property
    def usage(self) -> Usage | None:
        return usage_of(self.dialect, self.raw) if self.raw else None

    def __call__(self, data: bytes) -> bytes:
        try:
            self._sniff(data)
        except Exception:  # never break the stream over bookkeeping
            self._parser, self._tail = None, b""
        return data

    def _sniff(self, data: bytes) -> None:
        if self._parser is None:
            window = self._tail + data
            found = _USAGE.search(window)
            if found is None:  # keep the unfinished event: its usage may come in the next read
                end = window.rfind(b"\n\n")
                self._tail = (window[end + 2 :] if end >= 0 else window)[-65536:]
                return
            at = found.start()
            start = window.rfind(b"\n\n", 0, at)
            data = window[start + 2 if start >= 0 else 0 :]
            self._parser = SSEParser()
        for _, payload in self._parser.feed_raw(data):
            self._take(payload)
        if self._parser.idle:  # the usage event is complete: back to skimming
            self._parser, self._tail = None, b""

    def _take(self, payload: bytes) -> None:
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        usage = event.get("usage") or (event.get("message") or {}).get("usage")
        if isinstance(usage, dict):
            self.raw.update({k: v for k, v in usage.items() if v is not None})

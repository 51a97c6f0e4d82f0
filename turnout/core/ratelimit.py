"""Providers' rate-limit headers, read into one shape: (remaining, limit, reset time).

OpenAI-style: ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``, resets as Go
durations (``6m0s``, ``12ms``). Anthropic: ``anthropic-ratelimit-{requests,tokens,
input-tokens,output-tokens}-{limit,remaining,reset}``, resets as RFC 3339 times.
``retry-after`` is seconds or an HTTP date; ``retry-after-ms`` is milliseconds.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import NamedTuple

__all__ = ["Limit", "headers_from_fields", "parse_duration", "parse_limits", "parse_retry_after"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_OPENAI = re.compile(r"^x-ratelimit-(limit|remaining|reset)-(requests|tokens)$")
_ANTHROPIC = re.compile(
    r"^anthropic-ratelimit-(requests|tokens|input-tokens|output-tokens)-(limit|remaining|reset)$"
)


class Limit(NamedTuple):
    name: str  # requests, tokens, input-tokens, output-tokens
    remaining: float
    limit: float
    reset_at: float | None  # wall-clock seconds, when the bucket is full again

    @property
    def fraction(self) -> float:
        return max(0.0, min(1.0, self.remaining / self.limit)) if self.limit > 0 else 1.0


@functools.lru_cache(maxsize=1024)
def parse_duration(text: str) -> float | None:
    """``6m0s`` → 360.0, ``12ms`` → 0.012, ``1.5`` → 1.5; None if unreadable."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


@functools.lru_cache(maxsize=1024)
def _rfc3339(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@functools.lru_cache(maxsize=256)
def _header_name(key: str) -> tuple[str, str] | None:
    """(limit name, field) of a rate-limit header name, or None."""
    if m := _OPENAI.match(key):
        return m.group(2), m.group(1)
    if m := _ANTHROPIC.match(key):
        return m.group(1), m.group(2)
    return None


def parse_limits(headers: Mapping[str, str], now: float) -> list[Limit]:
    """Every limit the response reports; placeholder values (Azure's -1/0 limits) skipped."""
    found: dict[str, dict[str, str]] = {}
    for key, value in headers.items():
        if parsed := _header_name(key.lower()):
            name, field = parsed
            found.setdefault(name, {})[field] = value
    limits = []
    for name, fields in found.items():
        try:
            limit, remaining = float(fields["limit"]), float(fields["remaining"])
        except (KeyError, ValueError):
            continue
        if limit <= 0 or remaining < 0:
            continue
        reset = fields.get("reset")
        reset_at = None
        if reset:
            seconds = parse_duration(reset)
            reset_at = now + seconds if seconds is not None else _rfc3339(reset)
        limits.append(Limit(name, remaining, limit, reset_at))
    return limits


_PREFIXES = (b"x-ratelimit-", b"anthropic-ratelimit-", b"retry-after")


def headers_from_fields(fields: tuple[tuple[bytes, bytes], ...]) -> dict[str, str]:
    """Only the rate-limit headers of raw HTTP header fields, decoded (decoding them all costs more)."""
    return {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in fields if k.lower().startswith(_PREFIXES)
    }


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``retry-after`` (seconds or a date)."""
    lowered = {k.lower(): v for k, v in headers.items() if k.lower().startswith("retry-after")}
    if ms := lowered.get("retry-after-ms"):
        try:
            return max(float(ms) / 1000, 0.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - now, 0.0)
    except (TypeError, ValueError):
        return None

"""HTTP header edits on raw ``(name, value)`` byte pairs, as mitmproxy stores them.

mitmproxy's ``Headers`` converts every name and value and rescans its fields on each
``get``, ``[]=`` or ``pop`` (a few µs each). turnout reads and edits headers several times
per request, so it works on the raw fields instead: one scan to read, one pass to edit.
Names given to these functions are lowercase bytes; header names match case-insensitively.
"""

from __future__ import annotations

__all__ = ["Fields", "header_value", "is_sse", "rewrite"]

Fields = tuple[tuple[bytes, bytes], ...]


def header_value(fields: Fields, name: bytes) -> bytes | None:
    """The first value of header ``name``, or None."""
    for key, value in fields:
        if key.lower() == name:
            return value
    return None


def rewrite(fields: Fields, drop: frozenset[bytes], add: Fields = (), *, first: Fields = ()) -> Fields:
    """``fields`` without every header named in ``drop``, with ``first`` before them and
    ``add`` after them: the whole edit in one pass, and no copy when nothing changes."""
    if drop:
        kept = [f for f in fields if f[0].lower() not in drop]  # a list comprehension: no generator frame
        if len(kept) != len(fields):
            fields = tuple(kept)
    if first:
        fields = first + fields
    return fields + add if add else fields


def is_sse(fields: Fields) -> bool:
    """The body is a stream of server-sent events."""
    return (header_value(fields, b"content-type") or b"").startswith(b"text/event-stream")

"""The config's ``scrub:`` section and a backend's ``scrub:`` policy (``core/scrub.py``)."""

from __future__ import annotations

import re
from typing import Any, cast

from turnout.core.config_reader import Reader
from turnout.core.models import SCRUB_POLICIES, ScrubPolicy, ScrubSettings
from turnout.core.secrets import allow_regex

__all__ = ["read_scrub", "scrub_policy"]


def scrub_policy(raw: Any, read: Reader, path: str) -> ScrubPolicy | None:
    if raw is None:
        return None
    if raw is False:
        return "off"  # YAML reads a bare `off` as false
    if raw not in SCRUB_POLICIES:
        raise read.error(path, f"must be one of {', '.join(SCRUB_POLICIES)} (got {raw!r})")
    return cast(ScrubPolicy, raw)


def read_scrub(raw: Any, read: Reader) -> ScrubSettings:
    """``scrub: {patterns, allow}``: each pattern compiled here, so a bad one is named now."""
    raw = read.mapping(raw, "scrub")
    read.only(raw, ("patterns", "allow"), "scrub")
    patterns = []
    for i, item in enumerate(read.expect(raw.get("patterns") or [], list, "scrub.patterns", "a list")):
        where = f"scrub.patterns[{i}]"
        if isinstance(item, str):
            kind, regex = "custom", item
        else:
            item = read.mapping(item, where, "a regular expression, or {kind: …, regex: …}")
            read.only(item, ("kind", "regex"), where)
            kind = read.text(item.get("kind", "custom"), f"{where}.kind", "a name")
            regex = read.text(item.get("regex"), f"{where}.regex", "a regular expression")
            if not re.fullmatch(r"[a-z0-9_]{1,40}", kind):
                raise read.error(f"{where}.kind", "must be lowercase letters, digits and _ (at most 40)")
        try:
            if re.compile(regex.encode()).search(b""):
                raise read.error(where, "matches empty text: it would match everywhere")
        except re.error as e:
            raise read.error(where, f"is not a regular expression ({e})") from None
        patterns.append((kind, regex))
    allow = read.expect(raw.get("allow") or [], list, "scrub.allow", "a list")
    allowed = tuple(
        read.text(a, f"scrub.allow[{i}]", "a value, or /a regular expression/") for i, a in enumerate(allow)
    )
    for i, entry in enumerate(allowed):
        if (expression := allow_regex(entry)) is not None:
            try:
                re.compile(expression.encode())
            except re.error as e:
                raise read.error(f"scrub.allow[{i}]", f"is not a regular expression ({e})") from None
    return ScrubSettings(tuple(patterns), allowed)

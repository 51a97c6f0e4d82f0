"""Routes in the config: a model-name pattern (``match:`` or ``regex:``), optionally
``when:`` conditions on what the request is, a backend, a model to rewrite to, and
fallbacks. Each checked, each error naming its key path."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

from turnout.core.config_reader import Reader, kind_of
from turnout.core.models import Backend, Route, When

__all__ = ["read_route"]

_APIS = ("messages", "chat", "responses", "gemini")


def _when(raw: Any, path: str, read: Reader) -> When:
    """A rule's conditions: ``{request_class: subagent}``, ``{tokens_over: 60000}``…"""
    raw = read.mapping(raw, path, "a mapping like {request_class: subagent}")
    read.only(raw, ("api", "request_class", "agent_type", "tokens_over", "thinking", "tools"), path)
    if not raw:
        raise read.error(path, "name at least one condition (api, request_class, agent_type, tokens_over, …)")
    given: dict[str, Any] = {}
    for key in ("api", "request_class", "agent_type"):
        if key in raw:
            given[key] = read.text(raw[key], f"{path}.{key}", "a name")
    if "api" in given and given["api"] not in _APIS:
        raise read.error(f"{path}.api", f"must be one of {', '.join(_APIS)}")
    for key in ("thinking", "tools"):
        if key in raw:
            given[key] = read.expect(raw[key], bool, f"{path}.{key}", "true or false")
    if "tokens_over" in raw:
        value = raw["tokens_over"]
        if type(value) is not int or not 0 <= value <= 10**8:
            raise read.error(f"{path}.tokens_over", "must be a whole number of tokens from 0 to 100000000")
        given["tokens_over"] = value
    return When(**given)


def read_route(i: int, raw: Any, read: Reader, backends: Mapping[str, Backend]) -> Route:
    path = f"routes[{i}]"
    raw = read.mapping(raw, path, "a mapping like {match: 'claude-*', backend: anthropic}")
    read.only(raw, ("match", "regex", "backend", "model", "fallbacks", "when"), path)
    if ("match" in raw and "regex" in raw) or not ({"match", "regex", "when"} & set(raw)):
        raise read.error(path, "give one of match: (a glob) or regex:, or when: (then match: '*' is meant)")
    when = _when(raw["when"], f"{path}.when", read) if "when" in raw else None
    backend = raw.get("backend")
    if backend not in backends:
        known = ", ".join(backends) or "none"
        shown = repr(backend)[:60] if isinstance(backend, str | None) else kind_of(backend)
        raise read.error(f"{path}.backend", f"unknown backend {shown} (known: {known})")
    model = read.text(raw["model"], f"{path}.model", "a model id") if raw.get("model") is not None else None
    fallbacks = []
    for k, item in enumerate(read.expect(raw.get("fallbacks") or [], list, f"{path}.fallbacks", "a list")):
        spec = read.text(item, f"{path}.fallbacks[{k}]", "'backend' or 'backend/model'")
        name, _, fallback_model = spec.partition("/")
        if name not in backends:
            raise read.error(
                f"{path}.fallbacks[{k}]", f"unknown backend {name[:60]!r} (known: {', '.join(backends)})"
            )
        fallbacks.append((name, fallback_model or None))
    if "regex" not in raw:
        glob = read.text(raw.get("match", "*"), f"{path}.match", "a glob such as 'claude-*'")
        compiled = re.compile(fnmatch.translate(glob))
        return Route(glob, backend, compiled, model, "glob", tuple(fallbacks), when)
    pattern = read.text(raw["regex"], f"{path}.regex", "a regular expression")
    try:
        return Route(pattern, backend, re.compile(pattern), model, "regex", tuple(fallbacks), when)
    except re.error as e:
        raise read.error(f"{path}.regex", f"invalid regular expression: {e}") from e

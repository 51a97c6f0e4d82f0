"""Tool ids and names that survive the trip between dialects.

Anthropic tool ids must match ``^[a-zA-Z0-9_-]+$``; upstreams send ``functions.Bash:0``
(Kimi), numeric ids (OpenRouter) or none at all (vLLM). Sanitizing is deterministic so
the id a client stores and replays maps to the same id every time.

Ids must also be unique per response. OpenAI-style upstreams repeat them (Ollama's
``chatcmpl-<0..998>``, llama.cpp's fixed ids, a call id per position), and Claude Code
merges assistant turns that share a message id and drops tool calls whose id it has
seen, which sends it into an endless tool loop. So every translated response gets a
``nonce``: message ids carry it, and tool ids get the suffix ``-t<nonce>``. The suffix is
taken off again when the client sends the history back, so the upstream sees its own ids.

OpenAI-style backends reject tool names over 64 characters; long names are shortened
with a hash and mapped back in the response.
"""

from __future__ import annotations

import hashlib
import re
import secrets

__all__ = [
    "MAX_TOOL_NAME",
    "ToolIds",
    "message_id",
    "new_nonce",
    "sanitize_tool_id",
    "shorten_tool_name",
    "synthetic_tool_id",
    "upstream_tool_id",
]

_BAD = re.compile(r"[^a-zA-Z0-9_-]")
_SUFFIX = re.compile(r"-t[0-9a-f]{12}$")
MAX_TOOL_NAME = 64


def new_nonce() -> str:
    """Twelve hex digits, fresh per translated response (unique across proxy restarts too)."""
    return secrets.token_hex(6)


def sanitize_tool_id(tool_id: object, fallback: str) -> str:
    if not tool_id:
        return fallback
    return _BAD.sub("_", str(tool_id))


def synthetic_tool_id(seed: str, index: int) -> str:
    """A stable id for a call the client's history left without one."""
    digest = hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()[:16]
    return f"toolu_{digest}"


def message_id(upstream: object, nonce: str) -> str:
    """``msg_<upstream id>_<nonce>``: names the upstream's id, unique however it repeats."""
    base = sanitize_tool_id(upstream, "turnout").removeprefix("msg_")[:48]
    return f"msg_{base}_{nonce}"


class ToolIds:
    """The tool ids of one response: sanitized, unique within it and across responses."""

    def __init__(self, nonce: str) -> None:
        self.nonce = nonce
        self._seen: set[str] = set()

    def mint(self, upstream: object, position: int) -> str:
        base = sanitize_tool_id(upstream, f"call_{position}")
        if base in self._seen:  # the upstream repeated an id inside one response
            base = f"{base}_{position}"
        self._seen.add(base)
        return f"{base}-t{self.nonce}"


def upstream_tool_id(tool_id: object) -> str:
    """A tool id from the client's history as the upstream issued it (the nonce taken off)."""
    return _SUFFIX.sub("", str(tool_id or ""))


def shorten_tool_name(name: str) -> str:
    if len(name) <= MAX_TOOL_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:55]}_{digest}"

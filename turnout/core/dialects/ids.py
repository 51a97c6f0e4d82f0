"""Tool ids and names that survive the trip between dialects, without stored state.

Anthropic tool ids must match ``^[a-zA-Z0-9_-]+$``; upstreams send ``functions.Bash:0``
(Kimi), numeric ids (OpenRouter) or none at all (vLLM). Sanitizing is deterministic so
the id a client stores and replays maps to the same id every time. OpenAI-style
backends reject tool names over 64 characters; long names are shortened with a hash
and mapped back in the response.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["MAX_TOOL_NAME", "sanitize_tool_id", "shorten_tool_name", "synthetic_tool_id"]

_BAD = re.compile(r"[^a-zA-Z0-9_-]")
MAX_TOOL_NAME = 64


def sanitize_tool_id(tool_id: str | None, fallback: str) -> str:
    if not tool_id:
        return fallback
    return _BAD.sub("_", str(tool_id))


def synthetic_tool_id(seed: str, index: int) -> str:
    digest = hashlib.sha256(f"{seed}:{index}".encode()).hexdigest()[:16]
    return f"toolu_{digest}"


def shorten_tool_name(name: str) -> str:
    if len(name) <= MAX_TOOL_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:55]}_{digest}"

"""A documented estimate of input tokens, for ``count_tokens`` on non-Anthropic backends.

The estimate is ``ceil(characters / 4)`` over every piece of text the model reads —
the system prompt, each message's text, tool calls and tool results (as JSON), and the
tool definitions (name, description and JSON schema) — plus 4 tokens per message and
1,600 per image. It over-counts slightly for English and under-counts for CJK text;
it never leaves out the system prompt or tools, which is what breaks Claude Code's
auto-compaction when other routers get it wrong.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

__all__ = ["estimate_input_tokens"]

CHARS_PER_TOKEN = 4
PER_MESSAGE = 4
PER_IMAGE = 1600


def _chars(value: Any) -> tuple[int, int]:
    """(characters of model-visible text, number of images) in ``value``."""
    if value is None:
        return 0, 0
    if isinstance(value, str):
        return len(value), 0
    if isinstance(value, list):
        chars = images = 0
        for item in value:
            c, i = _chars(item)
            chars, images = chars + c, images + i
        return chars, images
    if isinstance(value, dict):
        kind = value.get("type")
        if kind in ("image", "image_url", "input_image"):
            return 0, 1
        if kind == "text" or isinstance(value.get("text"), str):
            return _chars(value.get("text"))
        if kind == "tool_use":
            return _chars(value.get("name"))[0] + _json_length(value.get("input")), 0
        if kind == "tool_result":
            return _chars(value.get("content"))
        if kind in ("thinking", "redacted_thinking"):
            return _chars(value.get("thinking") or value.get("data"))
        return _json_length(value), 0
    return len(str(value)), 0


def _json_length(value: Any) -> int:
    """Characters of ``value`` as JSON; whatever a client nests, never an error."""
    try:
        return len(orjson.dumps(value))
    except orjson.JSONEncodeError:  # nested past orjson's limit: count what can be counted
        return len(str(value)[:1_000_000])


def estimate_input_tokens(body: dict[str, Any]) -> int:
    chars, images = _chars(body.get("system"))
    messages = body.get("messages") or []
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict):
            c, i = _chars(message.get("content"))
            chars, images = chars + c, images + i
            if message.get("tool_calls"):
                chars += _json_length(message["tool_calls"])
    if tools := body.get("tools"):
        chars += _json_length(tools)
    count = math.ceil(chars / CHARS_PER_TOKEN) + PER_IMAGE * images
    return count + PER_MESSAGE * len(messages if isinstance(messages, list) else [])

"""What a target model refuses, taken out of a request before it is sent.

Two things the client could not know when a route or a fallback sends its conversation
to another model than it asked for:

- **Thinking belongs to the model that wrote it.** Anthropic checks a thinking block's
  signature against the model answering now; another model's block is refused. When the
  model changes, earlier thinking (and redacted thinking) is taken out of the history.
- **The newest Claude models** (``claude-*-5*``) take no sampling parameters
  (``temperature``, ``top_p``, ``top_k``), cannot turn thinking off, and cannot be forced
  to a tool while thinking: those are dropped or relaxed. A backend's quirk
  ``sampling: true`` says a model takes them after all.

Every change is named in ``adjusted`` (said once per backend in the log).
"""

from __future__ import annotations

import re
from typing import Any

from turnout.core.models import Quirks

__all__ = ["clean_messages", "newest_claude"]

_NEWEST = re.compile(r"^claude-(opus|sonnet|haiku)-[5-9]")
_SAMPLING = ("temperature", "top_p", "top_k")
_THINKING = frozenset({"thinking", "redacted_thinking"})


def newest_claude(model: str, quirks: Quirks) -> bool:
    """Whether ``model`` has the newest Claude models' limits (a quirk may say otherwise)."""
    if quirks.sampling is not None:
        return not quirks.sampling
    return bool(_NEWEST.match(model))


def clean_messages(
    body: dict[str, Any], *, model: str, other_model: bool, quirks: Quirks, adjusted: dict[str, str]
) -> dict[str, Any] | None:
    """``body`` (an Anthropic Messages request) as ``model`` takes it, or None when it
    takes it as it is. ``other_model``: the client asked for another model, so its
    history's thinking is not this model's. Only requests not sent as the client wrote
    them come here: a client that named this model is trusted to know it."""
    out: dict[str, Any] | None = None

    def copy() -> dict[str, Any]:
        nonlocal out
        if out is None:
            out = dict(body)
        return out

    if other_model and any(
        isinstance(block, dict) and block.get("type") in _THINKING
        for message in body.get("messages") or []
        if isinstance(message, dict)
        and message.get("role") == "assistant"
        and isinstance(message.get("content"), list)
        for block in message["content"]
    ):
        messages = []
        for message in body["messages"]:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list) and message.get("role") == "assistant":
                kept = [b for b in content if not (isinstance(b, dict) and b.get("type") in _THINKING)]
                message = {**message, "content": kept or [{"type": "text", "text": "(thinking)"}]}
            messages.append(message)
        copy()["messages"] = messages
        adjusted["thinking history"] = "taken out: it was written by another model"
    if newest_claude(model, quirks):
        if dropped := [k for k in _SAMPLING if body.get(k) is not None]:
            for key in dropped:
                copy().pop(key)
            adjusted["sampling"] = f"{', '.join(dropped)} not sent: {model} takes none"
        thinking = body.get("thinking")
        if isinstance(thinking, dict) and thinking.get("type") == "disabled":
            copy().pop("thinking")
            adjusted["thinking"] = f"'disabled' not sent: {model} cannot turn thinking off"
            thinking = None
        choice = body.get("tool_choice")
        thinks = thinking is None or (
            isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
        )
        if thinks and isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
            copy()["tool_choice"] = {k: v for k, v in choice.items() if k != "name"} | {"type": "auto"}
            adjusted["tool_choice"] = (
                f"{choice['type']} → auto: {model} cannot be forced to a tool while thinking"
            )
    return out

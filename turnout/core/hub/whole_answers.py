"""Whole (non-streamed) backend answers read into a hub ``Answer``.

The answer was checked against its dialect's schema first (``validate.check_response``),
so fields have the types read here; anything else an upstream adds is ignored.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.hub.answer import Answer
from turnout.core.hub.chat_stream import chat_stop, reasoning_text
from turnout.core.hub.conversation import Reasoning, Text, ToolCall
from turnout.core.hub.messages_stream import messages_stop
from turnout.core.usage import usage_of

__all__ = ["read_chat_answer", "read_messages_answer"]


def read_chat_answer(body: dict[str, Any]) -> Answer:
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    parts: list[Text | Reasoning | ToolCall] = []
    if thinking := reasoning_text(message):
        parts.append(Reasoning(thinking))
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if text or message.get("refusal"):
        parts.append(Text(text or message["refusal"]))
    calls = message.get("tool_calls") or []
    for call in calls:
        function = call.get("function") or {}
        arguments = function.get("arguments") or ""
        if isinstance(arguments, dict):
            arguments = orjson.dumps(arguments).decode()
        parts.append(ToolCall(str(call.get("id") or ""), function.get("name") or "", arguments))
    usage = usage_of("openai", body["usage"]) if isinstance(body.get("usage"), dict) else None
    return Answer(
        body.get("id"), parts, chat_stop(choice.get("finish_reason"), tool_calls=bool(calls)), usage
    )


def read_messages_answer(body: dict[str, Any]) -> Answer:
    parts: list[Text | Reasoning | ToolCall] = []
    calls = False
    for block in body.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            parts.append(Text(block.get("text") or ""))
        elif kind == "thinking":
            parts.append(
                Reasoning(block.get("thinking") or "", "anthropic", signature=block.get("signature"))
            )
        elif kind == "redacted_thinking":
            parts.append(Reasoning("", "anthropic", encrypted=block.get("data")))
        elif kind == "tool_use":
            calls = True
            arguments = orjson.dumps(block.get("input") or {}).decode()
            parts.append(ToolCall(str(block.get("id") or ""), block.get("name") or "", arguments))
    usage = usage_of("anthropic", body["usage"]) if isinstance(body.get("usage"), dict) else None
    return Answer(body.get("id"), parts, "tool" if calls else messages_stop(body.get("stop_reason")), usage)

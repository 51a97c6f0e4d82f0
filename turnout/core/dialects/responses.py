"""Non-streaming response bodies, both directions.

OpenAI → Anthropic: reasoning becomes a ``thinking`` block placed first, with a
recognizable synthetic signature (a genuine one cannot exist); tool calls become
``tool_use`` blocks with sanitized ids and parsed input; tool calls always win the stop
reason. Anthropic → OpenAI: thinking becomes ``reasoning_content``.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.context import Context
from turnout.core.dialects.ids import ToolIds, message_id
from turnout.core.dialects.mapping import (
    anthropic_stop_reason,
    anthropic_usage,
    openai_finish_reason,
    openai_usage,
    tool_input,
)

__all__ = [
    "SYNTHETIC_SIGNATURE",
    "reasoning_text",
    "to_anthropic_message",
    "to_openai_completion",
]

SYNTHETIC_SIGNATURE = "turnout-synthetic-signature"


def reasoning_text(message: dict[str, Any]) -> str:
    """Reasoning under any of its names: ``reasoning_content``, ``reasoning``, ``reasoning_details``."""
    for key in ("reasoning_content", "reasoning"):
        if isinstance(message.get(key), str) and message[key]:
            return str(message[key])
    details = message.get("reasoning_details")
    if isinstance(details, list):
        return "".join(d.get("text") or d.get("summary") or "" for d in details if isinstance(d, dict))
    return ""


def to_anthropic_message(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if thinking := reasoning_text(message):
        content.append({"type": "thinking", "thinking": thinking, "signature": SYNTHETIC_SIGNATURE})
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if text or message.get("refusal"):
        content.append({"type": "text", "text": text or message["refusal"]})
    calls = message.get("tool_calls") or []
    ids = ToolIds(ctx.nonce)
    for k, call in enumerate(calls):
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": ids.mint(call.get("id"), k),
                "name": ctx.client_tool_name(function.get("name", "")),
                "input": tool_input(function.get("arguments") or ""),
            }
        )
    return {
        "id": message_id(body.get("id"), ctx.nonce),
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": content,
        "stop_reason": anthropic_stop_reason(choice.get("finish_reason"), tool_calls=bool(calls)),
        "stop_sequence": None,
        "usage": anthropic_usage(body.get("usage")),
    }


def to_openai_completion(body: dict[str, Any], ctx: Context) -> dict[str, Any]:
    texts, thinking, calls = [], [], []
    for block in body.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "thinking":
            thinking.append(block.get("thinking", ""))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id", ""),
                    "type": "function",
                    "function": {
                        "name": block.get("name", ""),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    reasoning_tokens = ((body.get("usage") or {}).get("output_tokens_details") or {}).get(
        "thinking_tokens"
    ) or 0
    return {
        "id": f"chatcmpl-{body.get('id', 'turnout')}",
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if calls else openai_finish_reason(body.get("stop_reason")),
            }
        ],
        "usage": openai_usage(body.get("usage"), reasoning_tokens=int(reasoning_tokens)),
    }

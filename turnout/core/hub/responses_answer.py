"""Hub answers written as OpenAI Responses objects, and the output items both the whole
answer and the stream are made of. Another provider's opaque reasoning rides in a
reasoning item's ``encrypted_content``, sealed (``seal.py``)."""

from __future__ import annotations

import time
from typing import Any

from turnout.core.dialects.context import Context
from turnout.core.dialects.ids import ToolIds, message_id
from turnout.core.hub.answer import Answer, Stop
from turnout.core.hub.conversation import Reasoning, Text, ToolCall
from turnout.core.hub.seal import seal
from turnout.core.hub.tools import custom_input
from turnout.core.prices import Usage

__all__ = [
    "Items",
    "keep",
    "response_object",
    "responses_usage",
    "write_answer",
]


def responses_usage(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    prompt = usage.input + usage.cache_read + usage.cache_write
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": usage.cache_read},
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": prompt + usage.output,
    }


class Items:
    """Output items of one response: ids unique to it, tools given back their client names."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.ids = ToolIds(ctx.nonce)
        self.count = 0

    def item_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.ctx.nonce}{self.count:03d}"

    def message(self, text: str, item_id: str | None = None, status: str = "completed") -> dict[str, Any]:
        content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        return {
            "type": "message",
            "id": item_id or self.item_id("msg"),
            "status": status,
            "role": "assistant",
            "content": content if status == "completed" else [],
        }

    def reasoning(self, reasoning: Reasoning, item_id: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "type": "reasoning",
            "id": item_id or self.item_id("rs"),
            "summary": [{"type": "summary_text", "text": reasoning.text}] if reasoning.text else [],
        }
        if (sealed := seal(reasoning)) is not None:
            item["encrypted_content"] = sealed
        return item

    def call(self, upstream_name: str, upstream_id: str, position: int) -> dict[str, Any]:
        """A tool call's item, without its arguments yet."""
        flat = self.ctx.client_tool_name(upstream_name)
        namespace, name = self.ctx.namespaces.get(flat, (None, flat))
        call_id = self.ids.mint(upstream_id, position)
        if flat in self.ctx.custom_tools:
            item = {
                "type": "custom_tool_call",
                "id": self.item_id("ctc"),
                "call_id": call_id,
                "name": name,
                "input": "",
            }
        else:
            item = {
                "type": "function_call",
                "id": self.item_id("fc"),
                "call_id": call_id,
                "name": name,
                "arguments": "",
                "status": "in_progress",
            }
        if namespace:
            item["namespace"] = namespace
        return item

    @staticmethod
    def finish_call(item: dict[str, Any], arguments: str) -> dict[str, Any]:
        if item["type"] == "custom_tool_call":
            return {**item, "input": custom_input(arguments)}
        return {**item, "arguments": arguments or "{}", "status": "completed"}


def response_object(
    ctx: Context,
    response_id: str,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None = None,
    *,
    stop: Stop | None = None,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    incomplete = {"reason": "max_output_tokens"} if stop == "length" else None
    return {
        "id": response_id,
        "object": "response",
        "created_at": ctx.created or int(time.time()),
        "status": "incomplete" if incomplete else status,
        "error": error,
        "incomplete_details": incomplete,
        "instructions": None,
        "metadata": {},
        "model": ctx.model,
        "output": output,
        "parallel_tool_calls": True,
        "temperature": None,
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "usage": usage,
    }


def response_id(upstream: object, ctx: Context) -> str:
    return "resp_" + message_id(upstream, ctx.nonce).removeprefix("msg_")


def keep(ctx: Context, response: dict[str, Any]) -> None:
    """Remember a finished response for ``previous_response_id``, when the client asked."""
    if ctx.memory is not None and ctx.kept_input is not None and response.get("status") != "failed":
        ctx.memory.put(response["id"], [*ctx.kept_input, *response["output"]])


def write_answer(answer: Answer, ctx: Context) -> dict[str, Any]:
    items = Items(ctx)
    output: list[dict[str, Any]] = []
    position = 0
    for part in answer.parts:
        if isinstance(part, Reasoning):
            output.append(items.reasoning(part))
        elif isinstance(part, Text):
            if part.text:
                output.append(items.message(part.text))
        elif isinstance(part, ToolCall):
            output.append(items.finish_call(items.call(part.name, part.id, position), part.arguments))
            position += 1
    response = response_object(
        ctx, response_id(answer.id, ctx), "completed", output, responses_usage(answer.usage), stop=answer.stop
    )
    keep(ctx, response)
    return response

"""A hub request written as an OpenAI Chat Completions request.

The same rules as the Anthropic → Chat translator: tool results first, one tool message
per call, images from tool results moved to a following user message; reasoning echoed
back in the backend's own field (DeepSeek and OpenRouter want it with tool calls);
``max_tokens`` fitted to the backend's window; ``reasoning_effort`` only where it is
taken. Opaque reasoning from another provider is dropped (only its issuer can read it).
"""

from __future__ import annotations

import math
from typing import Any

from turnout.core.dialects.ids import upstream_tool_id
from turnout.core.dialects.schema import clean_schema
from turnout.core.dialects.to_openai_request import fit_max_tokens, takes_reasoning_effort
from turnout.core.hub.conversation import Image, Reasoning, Request, Text, ToolCall, ToolResult, Turn
from turnout.core.hub.tools import ToolNames, custom_description, custom_schema
from turnout.core.models import Quirks

__all__ = ["write_request"]


def _content(parts: list[Any]) -> str | list[dict[str, Any]]:
    if all(isinstance(p, Text) for p in parts):
        return "\n".join(p.text for p in parts)
    return [
        {"type": "text", "text": p.text}
        if isinstance(p, Text)
        else {"type": "image_url", "image_url": {"url": p.url}}
        for p in parts
    ]


def _user(turn: Turn) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    images: list[Image] = []
    parts: list[Text | Image] = []
    for part in turn.parts:
        if isinstance(part, ToolResult):
            texts = [c.text for c in part.content if isinstance(c, Text)]
            carried = [c for c in part.content if isinstance(c, Image)]
            text = "\n".join(texts)
            if carried:
                text = (
                    text + "\n" if text else ""
                ) + f"[{len(carried)} image(s) attached in the next message]"
                images += carried
            if part.is_error:
                text = f"Error: {text}" if text else "Error"
            out.append({"role": "tool", "tool_call_id": upstream_tool_id(part.call_id), "content": text})
        elif isinstance(part, Text | Image):
            parts.append(part)
    if images:
        parts = [Text("Images from the tool results above:"), *images, *parts]
    if parts:
        out.append({"role": "user", "content": _content(parts)})
    return out


def _assistant(turn: Turn, names: ToolNames, quirks: Quirks) -> dict[str, Any] | None:
    texts = [p.text for p in turn.parts if isinstance(p, Text) and p.text]
    reasoning = [p.text for p in turn.parts if isinstance(p, Reasoning) and p.text]
    calls = [
        {
            "id": upstream_tool_id(p.id),
            "type": "function",
            "function": {"name": names.of_call(p), "arguments": names.arguments(p)},
        }
        for p in turn.parts
        if isinstance(p, ToolCall)
    ]
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        out["tool_calls"] = calls
    if reasoning and quirks.reasoning_field:
        out[quirks.reasoning_field] = "\n".join(reasoning)
    return out if out["content"] is not None or calls else None


def write_request(
    request: Request, *, model: str, quirks: Quirks, window: int | None = None
) -> tuple[dict[str, Any], ToolNames, dict[str, str]]:
    """The Chat body, the tool names it used, and what was adjusted (capped or not sent)."""
    names = ToolNames(shorten=True)
    adjusted = dict(request.dropped)
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": "\n\n".join(request.system)})
    for turn in request.turns:
        if turn.role == "assistant":
            if (message := _assistant(turn, names, quirks)) is not None:
                messages.append(message)
        else:
            messages += _user(turn)
    out: dict[str, Any] = {"model": model, "messages": messages}
    if request.max_tokens is not None:
        out[quirks.max_tokens_param] = fit_max_tokens(
            request.max_tokens, lambda: math.ceil(request.text_size() / 4), quirks, window, adjusted
        )
    if request.temperature is not None:
        out["temperature"] = request.temperature
    if request.top_p is not None:
        out["top_p"] = request.top_p
    if request.stop:
        out["stop"] = request.stop[:4]
    if quirks.forward_user_id and request.user:
        out["user"] = request.user
    if request.stream:
        out["stream"] = True
        if quirks.stream_usage:
            out["stream_options"] = {"include_usage": True}
    if request.tools:
        tools = []
        for tool in request.tools:
            schema = custom_schema() if tool.custom else tool.schema
            function: dict[str, Any] = {
                "name": names.of_tool(tool),
                "parameters": clean_schema(schema) if quirks.clean_schema else schema,
            }
            if description := custom_description(tool) if tool.custom else tool.description:
                function["description"] = description
            tools.append({"type": "function", "function": function})
        out["tools"] = tools
        choice = request.tool_choice
        if choice is not None and choice.mode == "tool" and choice.name:
            out["tool_choice"] = {"type": "function", "function": {"name": names.name(choice.name)}}
        elif choice is not None and choice.mode != "tool":
            out["tool_choice"] = choice.mode
        if request.parallel_tools is False:
            out["parallel_tool_calls"] = False
    if request.effort and request.effort != "none" and takes_reasoning_effort(model, quirks, adjusted):
        out["reasoning_effort"] = {"xhigh": "high", "max": "high"}.get(request.effort, request.effort)
    if request.json_schema is not None:
        out["response_format"] = {"type": "json_schema", "json_schema": request.json_schema}
    return out, names, adjusted

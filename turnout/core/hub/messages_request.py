"""A hub request written as an Anthropic Messages request.

Thinking goes back only with the signature Anthropic issued for it (origin
``anthropic``); anyone else's reasoning would be rejected as a forged thinking block, so it
is dropped. Tool results lead their user turn; the first turn is a user's; ``max_tokens``
is always set (it is required); a reasoning effort becomes a thinking budget, with what
thinking forbids (temperature, a forced tool) relaxed and said so.
"""

from __future__ import annotations

from typing import Any

from turnout.core.dialects.ids import sanitize_tool_id, upstream_tool_id
from turnout.core.dialects.mapping import budget_for_effort, tool_input
from turnout.core.dialects.to_anthropic_request import image_block
from turnout.core.hub.conversation import Image, Reasoning, Request, Text, ToolCall, ToolResult, Turn
from turnout.core.hub.tools import ToolNames, custom_description, custom_schema
from turnout.core.models import Quirks

__all__ = ["write_request"]


def _block(part: Text | Image) -> dict[str, Any]:
    return {"type": "text", "text": part.text} if isinstance(part, Text) else image_block(part.url)


def _tool_id(call_id: str) -> str:
    return sanitize_tool_id(upstream_tool_id(call_id), "toolu_turnout")


def _user(turn: Turn) -> list[dict[str, Any]]:
    results, blocks = [], []
    for part in turn.parts:
        if isinstance(part, ToolResult):
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": _tool_id(part.call_id)}
            if content := [_block(c) for c in part.content if not isinstance(c, Text) or c.text]:
                result["content"] = content
            if part.is_error:
                result["is_error"] = True
            results.append(result)
        elif (isinstance(part, Text) and part.text) or isinstance(part, Image):
            blocks.append(_block(part))
    return results + blocks


def _assistant(turn: Turn, names: ToolNames) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in turn.parts:
        if isinstance(part, Reasoning):
            if part.origin != "anthropic":
                continue  # only Anthropic can vouch for a thinking block
            if part.signature:
                blocks.append({"type": "thinking", "thinking": part.text, "signature": part.signature})
            elif part.encrypted:
                blocks.append({"type": "redacted_thinking", "data": part.encrypted})
        elif isinstance(part, Text) and part.text:
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, ToolCall):
            arguments = {"input": part.arguments} if part.custom else tool_input(part.arguments)
            blocks.append(
                {"type": "tool_use", "id": _tool_id(part.id), "name": names.of_call(part), "input": arguments}
            )
    return blocks


def write_request(
    request: Request, *, model: str, quirks: Quirks
) -> tuple[dict[str, Any], ToolNames, dict[str, str]]:
    """The Messages body, the tool names it used, and what was adjusted."""
    names = ToolNames(shorten=False)
    adjusted = dict(request.dropped)
    messages: list[dict[str, Any]] = []
    for turn in request.turns:
        blocks = _user(turn) if turn.role == "user" else _assistant(turn, names)
        if not blocks:
            continue
        if messages and messages[-1]["role"] == turn.role:
            messages[-1]["content"] += blocks
        else:
            messages.append({"role": turn.role, "content": blocks})
    if not messages or messages[0]["role"] != "user":
        messages.insert(0, {"role": "user", "content": [{"type": "text", "text": "(continue)"}]})
    out: dict[str, Any] = {"model": model, "messages": messages}
    if request.system:
        out["system"] = [{"type": "text", "text": text} for text in request.system if text]
    max_tokens = request.max_tokens or quirks.default_max_tokens
    out["max_tokens"] = min(max_tokens, quirks.max_tokens_cap) if quirks.max_tokens_cap else max_tokens
    if request.temperature is not None:
        out["temperature"] = min(float(request.temperature), 1.0)
    if request.top_p is not None:
        out["top_p"] = request.top_p
    if request.stop:
        out["stop_sequences"] = request.stop
    if quirks.forward_user_id and request.user:
        out["metadata"] = {"user_id": request.user}
    if request.stream:
        out["stream"] = True
    choice: dict[str, Any] | None = None
    if request.tools:
        tools = []
        for tool in request.tools:
            entry: dict[str, Any] = {
                "name": names.of_tool(tool),
                "input_schema": custom_schema() if tool.custom else tool.schema,
            }
            if description := custom_description(tool) if tool.custom else tool.description:
                entry["description"] = description
            tools.append(entry)
        out["tools"] = tools
        mode = request.tool_choice.mode if request.tool_choice else None
        if mode == "tool" and request.tool_choice and request.tool_choice.name:
            choice = {"type": "tool", "name": names.name(request.tool_choice.name)}
        elif mode is not None:
            choice = {"type": {"required": "any"}.get(mode, mode)}
        if request.parallel_tools is False:
            choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    budget = budget_for_effort(request.effort) if request.effort not in (None, "none", "minimal") else None
    if budget:
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        out["max_tokens"] = max(out["max_tokens"], budget + 1024)
        if out.pop("temperature", None) is not None:
            adjusted["temperature"] = "not sent: thinking takes none"
        if choice is not None and choice["type"] in ("any", "tool"):
            adjusted["tool_choice"] = f"{choice['type']} → auto: thinking cannot force a tool"
            choice = {k: v for k, v in choice.items() if k != "name"} | {"type": "auto"}
    if choice is not None:
        out["tool_choice"] = choice
    if request.json_schema is not None:
        out["output_config"] = {
            "format": {"type": "json_schema", "schema": request.json_schema.get("schema") or {}}
        }
    return out, names, adjusted

"""Anthropic Messages requests, read into the hub and written out of it.

Written: thinking goes back only with the signature Anthropic issued for it (origin
``anthropic``); anyone else's reasoning would be rejected as a forged thinking block, so
it is dropped. Tool results lead their user turn; the first turn is a user's;
``max_tokens`` is always set (it is required) and clamped; temperature clamped to 1; a
reasoning effort becomes a thinking budget, with what thinking forbids (temperature, a
forced tool) relaxed and said so; images must be of a type Anthropic takes.

Read: text, images, documents, thinking (with its signature, tagged ``anthropic``),
tool calls and results; ``cache_control`` kept on text for backends that take it;
server tools (``web_search_…``, ``bash_…``) dropped and named; ``thinking`` and
``output_config.effort`` as an effort; Claude Code's ``metadata.user_id`` as the user.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.ids import sanitize_tool_id, upstream_tool_id
from turnout.core.dialects.mapping import budget_for_effort, effort_for_budget, tool_input
from turnout.core.dialects.validate import check_request
from turnout.core.errors import BadRequest
from turnout.core.hub.cleaning import clean_messages
from turnout.core.hub.conversation import (
    DATA_URL,
    File,
    Image,
    Part,
    Reasoning,
    Request,
    Text,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    Turn,
    data_url,
)
from turnout.core.hub.tools import ToolNames, custom_description, custom_schema
from turnout.core.models import Quirks
from turnout.core.tokens import estimate_input_tokens

__all__ = ["image_block", "read_request", "write_request"]


_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


# -- written ----------------------------------------------------------------------------------
def image_block(url: str) -> dict[str, Any]:
    """An image URL or data: URL as an Anthropic image block (the media types it takes)."""
    if m := DATA_URL.match(url):
        media = "image/jpeg" if m["media"] == "image/jpg" else m["media"]
        if media not in _IMAGE_TYPES:
            raise BadRequest(f"Images must be JPEG, PNG, GIF or WebP for this model (got {media[:60]}).")
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": m["data"]}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _block(part: Text | Image | File) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    if isinstance(part, Image):
        return image_block(part.url)
    found = DATA_URL.match(part.data_url)
    media, data = (found["media"], found["data"]) if found else ("application/octet-stream", "")
    return {"type": "document", "source": {"type": "base64", "media_type": media, "data": data}}


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
        elif (isinstance(part, Text) and part.text) or isinstance(part, Image | File):
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


def _tool_choice(request: Request, names: ToolNames) -> dict[str, Any] | None:
    choice: dict[str, Any] | None = None
    mode = request.tool_choice.mode if request.tool_choice else None
    if mode == "tool" and request.tool_choice and request.tool_choice.name:
        choice = {"type": "tool", "name": names.name(request.tool_choice.name)}
    elif mode is not None and mode != "tool":  # a tool without a name: no choice
        choice = {"type": {"required": "any"}.get(mode, mode)}
    if request.parallel_tools is False:
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    return choice


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
    if system := [{"type": "text", "text": t.text} for t in request.system if t.text]:
        out["system"] = system
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
    choice = None
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
        choice = _tool_choice(request, names)
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
        schema = request.json_schema.get("schema") or {}
        out["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    cleaned = clean_messages(out, model=model, other_model=False, quirks=quirks, adjusted=adjusted)
    return cleaned or out, names, adjusted


# -- read -------------------------------------------------------------------------------------
def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(
        b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"
    )


def _image(block: dict[str, Any]) -> Image | None:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        return Image(data_url(source.get("media_type", "image/png"), source.get("data", "")))
    if source.get("type") == "url":
        return Image(source.get("url", ""))
    return None


def _document(block: dict[str, Any]) -> Text | File | None:
    source = block.get("source") or {}
    title = block.get("title")
    if source.get("type") == "text":
        text = source.get("data", "")
        return Text(f"{title}\n\n{text}" if title else text)
    if source.get("type") == "content":
        return Text(_text_of(source.get("content")))
    if source.get("type") == "base64":
        media = source.get("media_type", "application/pdf")
        return File(data_url(media, source.get("data", "")), title or "document.pdf")
    if source.get("type") == "url":
        return Text(f"[document: {source.get('url', '')}]")
    return None


def _content_part(block: dict[str, Any]) -> Text | Image | File | None:
    kind = block.get("type")
    if kind == "text":
        return Text(block["text"], block.get("cache_control")) if block.get("text") else None
    if kind == "image":
        return _image(block)
    if kind == "document":
        return _document(block)
    return None


def _result(block: dict[str, Any]) -> ToolResult:
    content = block.get("content")
    parts: list[Text | Image] = []
    if isinstance(content, str):
        parts = [Text(content)] if content else []
    else:
        for item in content or []:
            part = _content_part(item) if isinstance(item, dict) else None
            if isinstance(part, Text | Image):
                parts.append(part)
    return ToolResult(block.get("tool_use_id") or "", parts, bool(block.get("is_error")))


def _message(message: dict[str, Any]) -> list[Part]:
    content = message.get("content")
    if isinstance(content, str):
        return [Text(content)] if content else []
    parts: list[Part] = []
    for block in content or []:
        kind = block.get("type")
        if kind == "tool_result":
            parts.append(_result(block))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            parts.append(ToolCall(block.get("id") or "", block.get("name", ""), arguments))
        elif kind == "thinking":
            parts.append(
                Reasoning(block.get("thinking") or "", "anthropic", signature=block.get("signature"))
            )
        elif kind == "redacted_thinking":
            parts.append(Reasoning("", "anthropic", encrypted=block.get("data")))
        elif (part := _content_part(block)) is not None:
            parts.append(part)
    return parts


def _effort(body: dict[str, Any]) -> str | None:
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        return effort_for_budget(budget if isinstance(budget, int) else 0)
    if thinking.get("type") == "adaptive":
        return (body.get("output_config") or {}).get("effort") or "medium"
    return None


def read_request(body: dict[str, Any]) -> Request:
    check_request(body, "anthropic")  # a client's mistake is a 400 naming the field
    request = Request(stream=body.get("stream") is True, prompt_estimate=lambda: estimate_input_tokens(body))
    system = body.get("system")
    if isinstance(system, str):
        request.system = [Text(system)] if system else []
    else:
        request.system = [p for b in system or [] if isinstance(p := _content_part(b), Text)]
    for message in body.get("messages") or []:
        role = "assistant" if message.get("role") == "assistant" else "user"
        if parts := _message(message):
            request.turns.append(Turn(role, parts))  # type: ignore[arg-type]
    for tool in body.get("tools") or []:
        if tool.get("type") not in (None, "custom"):
            request.dropped[f"tools: {tool.get('type')}"] = (
                "a server tool of Anthropic's with no counterpart here"
            )
            continue
        schema = tool.get("input_schema") or {"type": "object", "properties": {}}
        request.tools.append(Tool(tool.get("name", ""), tool.get("description") or "", schema))
    choice = body.get("tool_choice") or {}
    kind = choice.get("type")
    if kind in ("auto", "none"):
        request.tool_choice = ToolChoice(kind)
    elif kind == "any":
        request.tool_choice = ToolChoice("required")
    elif kind == "tool":
        request.tool_choice = ToolChoice("tool", choice.get("name", ""))
    if choice.get("disable_parallel_tool_use"):
        request.parallel_tools = False
    request.max_tokens = body.get("max_tokens")
    request.temperature = body.get("temperature")
    request.top_p = body.get("top_p")
    request.stop = list(body.get("stop_sequences") or [])
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        request.user = metadata["user_id"]
    request.effort = _effort(body)
    fmt = (body.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        request.json_schema = {"name": "output", "schema": fmt.get("schema") or {}}
    return request

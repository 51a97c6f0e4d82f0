"""An Anthropic Messages request → an OpenAI Chat Completions request.

The mapping avoids the bugs other translators shipped: tool results first
and one per id, images in tool results moved to a following user message (never
stringified), ``is_error`` as an ``Error:`` prefix, empty text dropped, ``cache_control``
dropped unless the backend takes it, server tools dropped, ``any`` → ``required``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from turnout.core.dialects.context import Context
from turnout.core.dialects.ids import shorten_tool_name, upstream_tool_id
from turnout.core.dialects.mapping import effort_for_budget
from turnout.core.dialects.schema import clean_schema
from turnout.core.models import Quirks
from turnout.core.tokens import estimate_input_tokens

__all__ = ["anthropic_to_openai", "fit_max_tokens", "takes_reasoning_effort"]

_SAMPLING = ("temperature", "top_p")
# Models known to take reasoning_effort (low/medium/high); others reject it, or take only
# their own values (Groq's qwen3: none/default). A backend's quirk overrides this.
_REASONING_MODELS = re.compile(r"(^|[/:])(o\d|gpt-5|gpt-oss)", re.I)
MIN_ROOM = 64  # output tokens left when the prompt nearly fills the context window


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        )
    return ""


def _image_part(block: dict[str, Any]) -> dict[str, Any] | None:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url":
        url = source.get("url", "")
    else:
        return None
    return {"type": "image_url", "image_url": {"url": url}}


def _document_part(block: dict[str, Any]) -> dict[str, Any] | None:
    source = block.get("source") or {}
    title = block.get("title")
    if source.get("type") == "text":
        text = source.get("data", "")
        return {"type": "text", "text": f"{title}\n\n{text}" if title else text}
    if source.get("type") == "content":
        return {"type": "text", "text": _text_of(source.get("content"))}
    if source.get("type") == "base64":
        media = source.get("media_type", "application/pdf")
        return {
            "type": "file",
            "file": {
                "file_data": f"data:{media};base64,{source.get('data', '')}",
                "filename": title or "document.pdf",
            },
        }
    if source.get("type") == "url":
        return {"type": "text", "text": f"[document: {source.get('url', '')}]"}
    return None


def _part(block: dict[str, Any], keep_cache: bool) -> dict[str, Any] | None:
    kind = block.get("type")
    if kind == "text":
        if not block.get("text"):
            return None
        part: dict[str, Any] = {"type": "text", "text": block["text"]}
        if keep_cache and "cache_control" in block:
            part["cache_control"] = block["cache_control"]
        return part
    if kind == "image":
        return _image_part(block)
    if kind == "document":
        return _document_part(block)
    return None


def _parts_or_text(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Plain text when every part is text without cache_control; many servers want that."""
    if all(p["type"] == "text" and "cache_control" not in p for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _tool_result(block: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One tool message, plus any images it carried (they go to a following user message)."""
    content = block.get("content")
    images: list[dict[str, Any]] = []
    if isinstance(content, list):
        texts = []
        for item in content:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "image" and (img := _image_part(item)):
                images.append(img)
            elif item.get("type") == "document" and (doc := _document_part(item)) and doc["type"] == "text":
                texts.append(doc["text"])
            elif item.get("type") == "text":
                texts.append(item.get("text", ""))
        text = "\n".join(t for t in texts if t)
        if images:
            text = (text + "\n" if text else "") + f"[{len(images)} image(s) attached in the next message]"
    else:
        text = content if isinstance(content, str) else ""
    if block.get("is_error"):
        text = f"Error: {text}" if text else "Error"
    call_id = upstream_tool_id(block.get("tool_use_id"))
    return {"role": "tool", "tool_call_id": call_id, "content": text}, images


def _user(message: dict[str, Any], keep_cache: bool) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": "user", "content": content}] if content else []
    out: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_result":
            tool_message, carried = _tool_result(block)
            out.append(tool_message)
            images += carried
        elif (part := _part(block, keep_cache)) is not None:
            parts.append(part)
    if images:
        parts = [{"type": "text", "text": "Images from the tool results above:"}, *images, *parts]
    if parts:
        out.append({"role": "user", "content": _parts_or_text(parts)})
    return out


def _assistant(message: dict[str, Any], quirks: Quirks, names: dict[str, str]) -> dict[str, Any] | None:
    content = message.get("content")
    if isinstance(content, str):
        return {"role": "assistant", "content": content} if content else None
    texts, thinking, calls = [], [], []
    for block in content or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and block.get("text"):
            texts.append(block["text"])
        elif kind == "thinking" and block.get("thinking"):
            thinking.append(block["thinking"])
        elif kind == "tool_use":
            name = shorten_tool_name(block.get("name", ""))
            names[name] = block.get("name", "")
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                {
                    "id": upstream_tool_id(block.get("id")),
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            )
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        out["tool_calls"] = calls
    if thinking and quirks.reasoning_field:
        out[quirks.reasoning_field] = "\n".join(thinking)
    if out["content"] is None and not calls:
        return None
    return out


def _tools(tools: list[Any], quirks: Quirks, names: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
            continue  # server tools (web_search_…, bash_…) have no OpenAI-style counterpart
        name = shorten_tool_name(tool.get("name", ""))
        names[name] = tool.get("name", "")
        schema = tool.get("input_schema") or {"type": "object", "properties": {}}
        function: dict[str, Any] = {
            "name": name,
            "parameters": clean_schema(schema) if quirks.clean_schema else schema,
        }
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: dict[str, Any]) -> str | dict[str, Any] | None:
    kind = choice.get("type")
    if kind == "auto":
        return "auto"
    if kind == "any":
        return "required"
    if kind == "none":
        return "none"
    if kind == "tool":
        return {"type": "function", "function": {"name": shorten_tool_name(choice.get("name", ""))}}
    return None


def _system(system: Any, keep_cache: bool) -> dict[str, Any] | None:
    if isinstance(system, str):
        return {"role": "system", "content": system} if system else None
    parts = [p for b in system or [] if isinstance(b, dict) and (p := _part(b, keep_cache))]
    return {"role": "system", "content": _parts_or_text(parts)} if parts else None


def fit_max_tokens(
    asked: int, prompt: Callable[[], int], quirks: Quirks, window: int | None, adjusted: dict[str, str]
) -> int:
    """``asked``, capped by the backend's limit and by its context window minus the prompt
    (``prompt`` estimates it, asked only when the window is known)."""
    out = min(asked, quirks.max_tokens_cap) if quirks.max_tokens_cap else asked
    window = quirks.context_window or window
    if window:
        tokens = prompt()
        room = max(window - tokens, MIN_ROOM)
        if room < out:
            out = room
            adjusted["max_tokens"] = f"{asked:,} → {out:,} (context {window:,}, prompt ~{tokens:,})"
    if out < asked and "max_tokens" not in adjusted:
        adjusted["max_tokens"] = f"{asked:,} → {out:,} (quirks.max_tokens_cap)"
    return out


def _reasoning_effort(
    body: dict[str, Any], model: str, quirks: Quirks, adjusted: dict[str, str]
) -> str | None:
    thinking = body.get("thinking") or {}
    if not isinstance(thinking, dict):
        return None
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        effort = effort_for_budget(budget if isinstance(budget, int) else 0)
    elif thinking.get("type") == "adaptive":
        level = (body.get("output_config") or {}).get("effort") or "medium"
        effort = {"xhigh": "high", "max": "high"}.get(level, level)
    else:
        return None
    return effort if takes_reasoning_effort(model, quirks, adjusted) else None


def takes_reasoning_effort(model: str, quirks: Quirks, adjusted: dict[str, str]) -> bool:
    """The backend's quirk says, else whether ``model`` is known to take ``reasoning_effort``;
    a refusal is noted in ``adjusted``."""
    takes = quirks.reasoning_effort
    if takes is None:
        takes = bool(_REASONING_MODELS.search(model))
    if not takes:
        adjusted["reasoning_effort"] = (
            f"not sent: {model} is not known to take it (quirks.reasoning_effort: true sends it)"
        )
    return takes


def anthropic_to_openai(
    body: dict[str, Any], *, model: str, requested: str, quirks: Quirks, window: int | None = None
) -> tuple[dict[str, Any], Context]:
    names: dict[str, str] = {}
    adjusted: dict[str, str] = {}
    keep_cache = quirks.cache_control
    messages: list[dict[str, Any]] = []
    if system := _system(body.get("system"), keep_cache):
        messages.append(system)
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        if message.get("role") == "assistant":
            if converted := _assistant(message, quirks, names):
                messages.append(converted)
        else:
            messages.extend(_user(message, keep_cache))
    out: dict[str, Any] = {"model": model, "messages": messages}
    if isinstance(max_tokens := body.get("max_tokens"), int):
        out[quirks.max_tokens_param] = fit_max_tokens(
            max_tokens, lambda: estimate_input_tokens(body), quirks, window, adjusted
        )
    for key in _SAMPLING:
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"][:4]
    metadata = body.get("metadata")
    if quirks.forward_user_id and isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    stream = body.get("stream") is True
    if stream:
        out["stream"] = True
        if quirks.stream_usage:
            out["stream_options"] = {"include_usage": True}
    if tools := _tools(body.get("tools") or [], quirks, names):
        out["tools"] = tools
        choice = body.get("tool_choice") or {}
        if (mapped := _tool_choice(choice)) is not None:
            out["tool_choice"] = mapped
        if choice.get("disable_parallel_tool_use"):
            out["parallel_tool_calls"] = False
    if effort := _reasoning_effort(body, model, quirks, adjusted):
        out["reasoning_effort"] = effort
    fmt = (body.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": fmt.get("schema") or {}},
        }
    shortened = {k: v for k, v in names.items() if k != v}
    return out, Context("anthropic", "openai", requested, stream, tool_names=shortened, adjusted=adjusted)

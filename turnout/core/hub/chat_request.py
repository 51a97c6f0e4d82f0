"""OpenAI Chat Completions requests, read into the hub and written out of it.

Written: tool results first, one tool message per call, images from tool results moved
to a following user message (never stringified), ``is_error`` as an ``Error:`` prefix;
reasoning echoed back in the backend's own field (DeepSeek and OpenRouter want it with
tool calls); ``max_tokens`` fitted to the backend's window; ``reasoning_effort`` only
where it is taken; ``cache_control`` only where the backend takes it; long tool names
shortened (mapped back in the answer). Opaque reasoning is never sent: only its issuer
could read it, and no Chat backend issued it.

Read: system and developer messages into the system prompt; assistant tool calls with
ids kept (sanitized deterministically, so a replayed history maps the same way); tool
messages as results; the legacy ``functions``/``function_call`` fields too.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.ids import sanitize_tool_id, synthetic_tool_id, upstream_tool_id
from turnout.core.dialects.schema import clean_schema
from turnout.core.dialects.validate import check_request
from turnout.core.errors import BadRequest
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
)
from turnout.core.hub.fitting import fit_max_tokens, takes_reasoning_effort
from turnout.core.hub.tools import ToolNames, custom_description, custom_schema
from turnout.core.models import Quirks

__all__ = ["read_request", "write_request"]


# -- written ----------------------------------------------------------------------------------
def _part(part: Text | Image | File, keep_cache: bool) -> dict[str, Any]:
    if isinstance(part, Text):
        out: dict[str, Any] = {"type": "text", "text": part.text}
        if keep_cache and part.cache is not None:
            out["cache_control"] = part.cache
        return out
    if isinstance(part, Image):
        return {"type": "image_url", "image_url": {"url": part.url}}
    return {"type": "file", "file": {"file_data": part.data_url, "filename": part.filename}}


def _content(parts: list[Text | Image | File], keep_cache: bool) -> str | list[dict[str, Any]]:
    """Plain text when every part is text without cache_control; many servers want that."""
    if all(isinstance(p, Text) and (p.cache is None or not keep_cache) for p in parts):
        return "\n".join(p.text for p in parts if isinstance(p, Text))
    return [_part(p, keep_cache) for p in parts]


def _user(turn: Turn, keep_cache: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    images: list[Image] = []
    parts: list[Text | Image | File] = []
    for part in turn.parts:
        if isinstance(part, ToolResult):
            texts = [c.text for c in part.content if isinstance(c, Text)]
            carried = [c for c in part.content if isinstance(c, Image)]
            text = "\n".join(t for t in texts if t)
            if carried:
                text = (
                    text + "\n" if text else ""
                ) + f"[{len(carried)} image(s) attached in the next message]"
                images += carried
            if part.is_error:
                text = f"Error: {text}" if text else "Error"
            out.append({"role": "tool", "tool_call_id": upstream_tool_id(part.call_id), "content": text})
        elif isinstance(part, Text):
            if part.text:
                parts.append(part)
        elif isinstance(part, Image | File):
            parts.append(part)
    if images:
        parts = [Text("Images from the tool results above:"), *images, *parts]
    if parts:
        out.append({"role": "user", "content": _content(parts, keep_cache)})
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


def _tools(request: Request, names: ToolNames, quirks: Quirks) -> list[dict[str, Any]]:
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
    return tools


def write_request(
    request: Request, *, model: str, quirks: Quirks, window: int | None = None
) -> tuple[dict[str, Any], ToolNames, dict[str, str]]:
    """The Chat body, the tool names it used, and what was adjusted (capped or not sent)."""
    names = ToolNames(shorten=True)
    adjusted = dict(request.dropped)
    keep_cache = quirks.cache_control
    messages: list[dict[str, Any]] = []
    if system := [t for t in request.system if t.text]:
        messages.append({"role": "system", "content": _content(list(system), keep_cache)})
    for turn in request.turns:
        if turn.role == "assistant":
            if (message := _assistant(turn, names, quirks)) is not None:
                messages.append(message)
        else:
            messages += _user(turn, keep_cache)
    out: dict[str, Any] = {"model": model, "messages": messages}
    if request.max_tokens is not None:
        out[quirks.max_tokens_param] = fit_max_tokens(
            request.max_tokens, request.prompt_tokens, quirks, window, adjusted
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
        out["tools"] = _tools(request, names, quirks)
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


# -- read -------------------------------------------------------------------------------------
def _read_parts(content: Any) -> list[Text | Image | File]:
    """Chat content (a string or parts) as hub parts, empty text dropped."""
    if isinstance(content, str):
        return [Text(content)] if content else []
    parts: list[Text | Image | File] = []
    for part in content or []:
        kind = part.get("type")
        if kind == "text" and part.get("text"):
            parts.append(Text(part["text"]))
        elif kind == "refusal" and part.get("refusal"):
            parts.append(Text(part["refusal"]))
        elif kind == "image_url":
            parts.append(Image((part.get("image_url") or {}).get("url", "")))
        elif kind == "file":
            data = (part.get("file") or {}).get("file_data", "")
            if DATA_URL.match(data):
                parts.append(File(data, (part.get("file") or {}).get("filename") or "document.pdf"))
        elif kind == "input_audio":
            raise BadRequest("Audio input has no counterpart at this backend; remove the input_audio part.")
    return parts


def _read_tools(body: dict[str, Any]) -> list[Tool]:
    functions = [t.get("function") or {} for t in body.get("tools") or []]
    functions += list(body.get("functions") or [])  # legacy
    return [
        Tool(
            f.get("name", ""),
            f.get("description") or "",
            f.get("parameters") or {"type": "object", "properties": {}},
        )
        for f in functions
    ]


def _read_tool_choice(choice: Any) -> ToolChoice | None:
    if choice in ("auto", "none", "required"):
        return ToolChoice(choice)
    if isinstance(choice, dict):
        if choice.get("type") == "function" or "name" in choice:  # legacy function_call: {"name"}
            name = (choice.get("function") or {}).get("name") or choice.get("name") or ""
            return ToolChoice("tool", name)
        if choice.get("type") == "allowed_tools":
            mode = (choice.get("allowed_tools") or {}).get("mode")
            return ToolChoice("required" if mode == "required" else "auto")
    return None


def read_request(body: dict[str, Any], seed: str) -> Request:
    """``body`` as a hub ``Request``; ``seed`` makes the ids of calls a history left
    without one stable (the same history maps to the same ids)."""
    check_request(body, "openai")  # a client's mistake is a 400 naming the field
    if (body.get("n") or 1) > 1:
        raise BadRequest("n > 1 is not supported by this backend; ask for one choice per request.")
    request = Request(stream=body.get("stream") is True)
    turns: list[Turn] = []

    def add(role: str, parts: list[Part]) -> None:
        if not parts:
            return
        if turns and turns[-1].role == role:
            turns[-1].parts += parts
        else:
            turns.append(Turn(role, parts))  # type: ignore[arg-type]

    for position, message in enumerate(body.get("messages") or []):
        role = message.get("role")
        if role in ("system", "developer"):
            request.system += [p for p in _read_parts(message.get("content")) if isinstance(p, Text)]
        elif role == "assistant":
            parts: list[Part] = list(_read_parts(message.get("content")))
            for k, call in enumerate(message.get("tool_calls") or []):
                function = call.get("function") or {}
                arguments = function.get("arguments")
                if isinstance(arguments, dict):
                    arguments = orjson.dumps(arguments).decode()
                call_id = sanitize_tool_id(call.get("id"), synthetic_tool_id(f"{seed}:{position}", k))
                parts.append(ToolCall(call_id, function.get("name", ""), arguments or ""))
            add("assistant", parts)
        elif role in ("tool", "function"):
            call_id = sanitize_tool_id(message.get("tool_call_id"), synthetic_tool_id(seed, 0))
            content = [p for p in _read_parts(message.get("content")) if isinstance(p, Text | Image)]
            add("user", [ToolResult(call_id, content)])
        else:
            add("user", list(_read_parts(message.get("content"))))
    for turn in turns:  # tool results first within a user turn
        if turn.role == "user":
            turn.parts.sort(key=lambda p: not isinstance(p, ToolResult))
    request.turns = turns
    request.tools = _read_tools(body)
    if request.tools:
        request.tool_choice = _read_tool_choice(body.get("tool_choice") or body.get("function_call"))
    if body.get("parallel_tool_calls") is False:
        request.parallel_tools = False
    request.max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    request.temperature = body.get("temperature")
    request.top_p = body.get("top_p")
    stop = body.get("stop")
    request.stop = [stop] if isinstance(stop, str) else list(stop or [])
    request.user = body.get("user") or body.get("safety_identifier")
    effort = body.get("reasoning_effort")
    request.effort = effort if isinstance(effort, str) else None
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        request.json_schema = {"name": "output", "schema": (fmt.get("json_schema") or {}).get("schema") or {}}
    return request

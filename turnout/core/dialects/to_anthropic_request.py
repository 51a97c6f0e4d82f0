"""An OpenAI Chat Completions request → an Anthropic Messages request.

System and developer messages hoisted into ``system``; each
run of tool messages merged into one user message of ``tool_result`` blocks (user text
after them); tool ids sanitized deterministically; ``max_tokens`` defaulted (it is
required) and clamped; temperature clamped to 1; foreign reasoning never sent as
``thinking`` (its signature would be rejected); ``reasoning_effort`` → a thinking budget.
"""

from __future__ import annotations

import re
from typing import Any

from turnout.core.dialects.context import Context
from turnout.core.dialects.ids import sanitize_tool_id, synthetic_tool_id
from turnout.core.dialects.mapping import budget_for_effort, tool_input
from turnout.core.errors import BadRequest
from turnout.core.models import Quirks

__all__ = ["image_block", "openai_to_anthropic"]

_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.S)
_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


def image_block(url: str) -> dict[str, Any]:
    """An image URL or data: URL as an Anthropic image block (the media types it takes)."""
    if m := _DATA_URL.match(url):
        media = "image/jpeg" if m["media"] == "image/jpg" else m["media"]
        if media not in _IMAGE_TYPES:
            raise BadRequest(f"Images must be JPEG, PNG, GIF or WebP for this model (got {media[:60]}).")
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": m["data"]}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any) -> list[dict[str, Any]]:
    """Chat content (string or parts) → Anthropic content blocks, empty text dropped."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content or []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and part.get("text"):
            blocks.append({"type": "text", "text": part["text"]})
        elif kind == "refusal" and part.get("refusal"):
            blocks.append({"type": "text", "text": part["refusal"]})
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            blocks.append(image_block(url))
        elif kind == "file":
            data = (part.get("file") or {}).get("file_data", "")
            if m := _DATA_URL.match(data):
                blocks.append(
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": m["media"], "data": m["data"]},
                    }
                )
        elif kind == "input_audio":
            raise BadRequest(
                "Audio input has no counterpart in the Anthropic API; remove the input_audio part."
            )
    return blocks


def _assistant(message: dict[str, Any], seed: str, position: int) -> list[dict[str, Any]]:
    blocks = _blocks(message.get("content"))
    for k, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": sanitize_tool_id(call.get("id"), synthetic_tool_id(f"{seed}:{position}", k)),
                "name": function.get("name", ""),
                "input": tool_input(function.get("arguments")),
            }
        )
    return blocks


def _tool_result(message: dict[str, Any], seed: str) -> dict[str, Any]:
    content = message.get("content")
    result: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": sanitize_tool_id(message.get("tool_call_id"), synthetic_tool_id(seed, 0)),
    }
    blocks = _blocks(content)
    if blocks:
        result["content"] = blocks
    return result


def _messages(raw: list[Any], seed: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(system blocks, alternating messages)."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if not blocks:
            return
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for position, message in enumerate(raw):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_blocks(message.get("content")))
        elif role == "assistant":
            add("assistant", _assistant(message, seed, position))
        elif role in ("tool", "function"):
            add("user", [_tool_result(message, seed)])
        else:
            add("user", _blocks(message.get("content")))
    for message in out:  # tool results first within a user turn
        if message["role"] == "user":
            message["content"].sort(key=lambda b: b["type"] != "tool_result")
    if out and out[0]["role"] != "user":
        out.insert(0, {"role": "user", "content": [{"type": "text", "text": "(continue)"}]})
    return system, out


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    functions = [t.get("function") or {} for t in body.get("tools") or [] if isinstance(t, dict)]
    functions += [f for f in body.get("functions") or [] if isinstance(f, dict)]  # legacy
    out = []
    for f in functions:
        tool: dict[str, Any] = {
            "name": f.get("name", ""),
            "input_schema": f.get("parameters") or {"type": "object", "properties": {}},
        }
        if f.get("description"):
            tool["description"] = f["description"]
        out.append(tool)
    return out


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict):
        if choice.get("type") == "function":
            return {"type": "tool", "name": (choice.get("function") or {}).get("name", "")}
        if choice.get("type") == "allowed_tools":
            mode = (choice.get("allowed_tools") or {}).get("mode")
            return {"type": "any" if mode == "required" else "auto"}
    return None


def openai_to_anthropic(
    body: dict[str, Any], *, model: str, requested: str, quirks: Quirks
) -> tuple[dict[str, Any], Context]:
    if (body.get("n") or 1) > 1:
        raise BadRequest("n > 1 is not supported by Anthropic models; ask for one choice per request.")
    seed = requested
    system, messages = _messages(body.get("messages") or [], seed)
    out: dict[str, Any] = {"model": model, "messages": messages}
    if system:
        out["system"] = system
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or quirks.default_max_tokens
    if quirks.max_tokens_cap:
        max_tokens = min(max_tokens, quirks.max_tokens_cap)
    out["max_tokens"] = max_tokens
    if body.get("temperature") is not None:
        out["temperature"] = min(float(body["temperature"]), 1.0)
    if body.get("top_p") is not None:
        out["top_p"] = body["top_p"]
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    user = body.get("user") or body.get("safety_identifier")
    if quirks.forward_user_id and isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    stream = body.get("stream") is True
    if stream:
        out["stream"] = True
    if tools := _tools(body):
        out["tools"] = tools
        choice = _tool_choice(body.get("tool_choice") or body.get("function_call"))
        if body.get("parallel_tool_calls") is False:
            choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
        if choice is not None:
            out["tool_choice"] = choice
    effort = body.get("reasoning_effort")
    budget = (
        budget_for_effort(effort) if isinstance(effort, str) and effort not in ("none", "minimal") else None
    )
    if budget:
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        out["max_tokens"] = max(out["max_tokens"], budget + 1024)
        out.pop("temperature", None)
        if out.get("tool_choice", {}).get("type") in ("any", "tool"):
            out["tool_choice"] = {**out["tool_choice"], "type": "auto"}
            out["tool_choice"].pop("name", None)
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        out["output_config"] = {
            "format": {"type": "json_schema", "schema": (fmt.get("json_schema") or {}).get("schema") or {}}
        }
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    return out, Context("openai", "anthropic", requested, stream, include_usage=include_usage)

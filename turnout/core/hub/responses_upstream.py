"""A backend served only by the OpenAI Responses API (``kind: openai-responses``): hub
requests written for it, and its answers and streams read back.

Reasoning is asked for statelessly (``store: false`` with ``include:
["reasoning.encrypted_content"]``), so an OpenAI reasoning item can ride back to the
client and return on the next turn without turnout keeping anything. Stop sequences have
no Responses counterpart: not sent, and said so.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.ids import upstream_tool_id
from turnout.core.dialects.mapping import as_mapping
from turnout.core.dialects.sse import SSEParser
from turnout.core.hub.answer import (
    Answer,
    Event,
    Failed,
    Finished,
    ReasoningDelta,
    ReasoningSealed,
    Started,
    Stop,
    TextDelta,
    ToolDelta,
    ToolStarted,
)
from turnout.core.hub.conversation import File, Image, Reasoning, Request, Text, ToolCall, ToolResult
from turnout.core.hub.tools import ToolNames
from turnout.core.models import Quirks
from turnout.core.usage import usage_of

__all__ = ["ResponsesReader", "read_answer", "write_request"]


def _content(parts: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, Text) and part.text:
            out.append({"type": "input_text", "text": part.text})
        elif isinstance(part, Image):
            out.append({"type": "input_image", "image_url": part.url})
        elif isinstance(part, File):
            out.append({"type": "input_file", "file_data": part.data_url, "filename": part.filename})
    return out


def _result_text(result: ToolResult) -> str:
    text = "\n".join(c.text for c in result.content if isinstance(c, Text) and c.text)
    return (f"Error: {text}" if text else "Error") if result.is_error else text


def write_request(
    request: Request, *, model: str, quirks: Quirks
) -> tuple[dict[str, Any], ToolNames, dict[str, str]]:
    names = ToolNames(shorten=True)
    adjusted = dict(request.dropped)
    items: list[dict[str, Any]] = []
    custom_calls: set[str] = set()
    for turn in request.turns:
        if turn.role == "user":
            results = [p for p in turn.parts if isinstance(p, ToolResult)]
            for result in results:
                call_id = upstream_tool_id(result.call_id)
                kind = "custom_tool_call_output" if call_id in custom_calls else "function_call_output"
                items.append({"type": kind, "call_id": call_id, "output": _result_text(result)})
            if content := _content([p for p in turn.parts if not isinstance(p, ToolResult)]):
                items.append({"type": "message", "role": "user", "content": content})
            continue
        for part in turn.parts:
            if isinstance(part, Text) and part.text:
                content = [{"type": "output_text", "text": part.text}]
                items.append({"type": "message", "role": "assistant", "content": content})
            elif isinstance(part, Reasoning) and part.origin == "openai" and part.encrypted:
                summary = [{"type": "summary_text", "text": part.text}] if part.text else []
                item: dict[str, Any] = {
                    "type": "reasoning",
                    "summary": summary,
                    "encrypted_content": part.encrypted,
                }
                if part.id:
                    item["id"] = part.id
                items.append(item)
            elif isinstance(part, ToolCall):
                call_id, name = upstream_tool_id(part.id), names.of_call(part)
                if part.custom:
                    custom_calls.add(call_id)
                    items.append(
                        {
                            "type": "custom_tool_call",
                            "call_id": call_id,
                            "name": name,
                            "input": part.arguments,
                        }
                    )
                else:
                    items.append(
                        {
                            "type": "function_call",
                            "call_id": call_id,
                            "name": name,
                            "arguments": part.arguments or "{}",
                        }
                    )
    out: dict[str, Any] = {"model": model, "input": items, "store": False}
    if system := "\n".join(t.text for t in request.system if t.text):
        out["instructions"] = system
    if request.tools:
        tools = []
        for tool in request.tools:
            name = names.of_tool(tool)
            if tool.custom:
                entry: dict[str, Any] = {"type": "custom", "name": name, "description": tool.description}
                if tool.grammar:
                    entry["format"] = {"type": "grammar", "syntax": "lark", "definition": tool.grammar}
            else:
                entry = {
                    "type": "function",
                    "name": name,
                    "description": tool.description,
                    "parameters": tool.schema,
                }
            tools.append(entry)
        out["tools"] = tools
        choice = request.tool_choice
        if choice is not None and choice.mode == "tool" and choice.name:
            out["tool_choice"] = {"type": "function", "name": names.name(choice.name)}
        elif choice is not None:
            out["tool_choice"] = choice.mode
        if request.parallel_tools is not None:
            out["parallel_tool_calls"] = request.parallel_tools
    if request.max_tokens is not None:
        out["max_output_tokens"] = min(request.max_tokens, quirks.max_tokens_cap or request.max_tokens)
    if request.temperature is not None:
        out["temperature"] = request.temperature
    if request.top_p is not None:
        out["top_p"] = request.top_p
    if request.stop:
        adjusted["stop"] = "not sent: the Responses API has no stop sequences"
    if request.effort:
        out["reasoning"] = {"effort": {"max": "high"}.get(request.effort, request.effort), "summary": "auto"}
        out["include"] = ["reasoning.encrypted_content"]
    if request.json_schema is not None:
        fmt = {"type": "json_schema", "name": request.json_schema.get("name") or "output"}
        out["text"] = {"format": {**fmt, "schema": request.json_schema.get("schema") or {}}}
    if quirks.forward_user_id and request.user:
        out["safety_identifier"] = request.user
    if request.stream:
        out["stream"] = True
    return out, names, adjusted


def _custom_arguments(value: Any) -> str:
    """A custom tool's raw input, as the arguments of the function a client knows it as."""
    return orjson.dumps({"input": value if isinstance(value, str) else ""}).decode()


def _text_of(item: dict[str, Any]) -> str:
    return "".join(
        c.get("text") or ""
        for c in item.get("content") or []
        if isinstance(c, dict) and c.get("type") == "output_text"
    )


def _reasoning(item: dict[str, Any]) -> Reasoning:
    summary = "\n".join(s.get("text") or "" for s in item.get("summary") or [] if isinstance(s, dict))
    encrypted = item.get("encrypted_content")
    return Reasoning(
        summary, "openai", encrypted=encrypted if isinstance(encrypted, str) else None, id=item.get("id")
    )


def read_answer(body: dict[str, Any]) -> Answer:
    parts: list[Text | Reasoning | ToolCall] = []
    for item in body.get("output") or []:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "message":
            parts.append(Text(_text_of(item)))
        elif kind == "reasoning":
            parts.append(_reasoning(item))
        elif kind == "function_call":
            parts.append(
                ToolCall(
                    str(item.get("call_id") or ""),
                    str(item.get("name") or ""),
                    str(item.get("arguments") or ""),
                )
            )
        elif kind == "custom_tool_call":
            parts.append(
                ToolCall(
                    str(item.get("call_id") or ""),
                    str(item.get("name") or ""),
                    _custom_arguments(item.get("input")),
                )
            )
    calls = any(isinstance(p, ToolCall) for p in parts)
    stop: Stop = "tool" if calls else "length" if body.get("status") == "incomplete" else "end"
    usage = usage_of("openai", body["usage"]) if isinstance(body.get("usage"), dict) else None
    return Answer(body.get("id"), parts, stop, usage)


class ResponsesReader:
    """A Responses stream read into hub events; never raises on what an upstream sends."""

    def __init__(self) -> None:
        self._parser = SSEParser()
        self._custom: dict[Any, list[str]] = {}  # a custom call's input, held until it ends
        self._streamed: set[Any] = set()  # calls whose arguments came as deltas
        self._calls = 0
        self.ended = False

    def feed(self, data: bytes) -> list[Event]:
        out: list[Event] = []
        for _, payload in self._parser.feed_raw(data):
            self._on(payload, out)
        return out

    def finish(self) -> list[Event]:
        out: list[Event] = []
        for _, payload in self._parser.flush_raw():
            self._on(payload, out)
        if not self.ended:
            out.append(Failed("The upstream stream ended before it finished."))
            self.ended = True
        return out

    def _on(self, payload: bytes, out: list[Event]) -> None:
        if self.ended:
            return
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict) or not isinstance(kind := event.get("type"), str):
            return
        key = event.get("output_index")
        delta = event.get("delta")
        if kind in ("response.output_text.delta", "response.refusal.delta") and isinstance(delta, str):
            out.append(TextDelta(delta))
        elif kind in (
            "response.reasoning_summary_text.delta",
            "response.reasoning_text.delta",
        ) and isinstance(delta, str):
            out.append(ReasoningDelta(delta))
        elif kind == "response.function_call_arguments.delta" and isinstance(delta, str):
            self._streamed.add(key)
            out.append(ToolDelta(key, delta))
        elif (
            kind == "response.custom_tool_call_input.delta" and isinstance(delta, str) and key in self._custom
        ):
            self._custom[key].append(delta)
        elif kind == "response.output_item.added":
            self._added(key, event.get("item"), out)
        elif kind == "response.output_item.done":
            self._done(key, event.get("item"), out)
        elif kind == "response.created":
            response = event.get("response")
            out.append(Started(response.get("id") if isinstance(response, dict) else None))
        elif kind in ("response.completed", "response.incomplete"):
            whole = as_mapping(event.get("response"))
            usage = usage_of("openai", whole["usage"]) if isinstance(whole.get("usage"), dict) else None
            stop: Stop = "tool" if self._calls else "length" if kind == "response.incomplete" else "end"
            out.append(Finished(stop, usage))
            self.ended = True
        elif kind in ("response.failed", "error"):
            error = event if kind == "error" else as_mapping(as_mapping(event.get("response")).get("error"))
            code = error.get("code")
            code = code if isinstance(code, str) else "server_error"
            out.append(Failed(str(error.get("message") or "Upstream error"), code, code))
            self.ended = True

    def _added(self, key: Any, item: Any, out: list[Event]) -> None:
        if not isinstance(item, dict) or item.get("type") not in ("function_call", "custom_tool_call"):
            return
        self._calls += 1
        out.append(ToolStarted(key, str(item.get("call_id") or ""), str(item.get("name") or "")))
        if item["type"] == "custom_tool_call":
            self._custom[key] = []

    def _done(self, key: Any, item: Any, out: list[Event]) -> None:
        if not isinstance(item, dict):
            return
        if item.get("type") == "reasoning" and isinstance(item.get("encrypted_content"), str):
            out.append(ReasoningSealed(_reasoning(item)))
        elif item.get("type") == "custom_tool_call":
            held = self._custom.pop(key, [])
            value = item.get("input") if isinstance(item.get("input"), str) else "".join(held)
            out.append(ToolDelta(key, _custom_arguments(value)))
        elif item.get("type") == "function_call" and key not in self._streamed:
            out.append(ToolDelta(key, str(item.get("arguments") or "")))  # arguments sent whole

"""A backend served only by the OpenAI Responses API (``kind: openai-responses``): its
whole answers and streams read into the hub (requests for it: ``responses_request``).

Custom tool calls come back as the function with one ``input`` argument a client of
another API knows them as; reasoning items keep their encrypted content (tagged
``openai``) so it can go back on the next turn.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.mapping import as_mapping
from turnout.core.hub.answer import (
    Answer,
    Event,
    Finished,
    ReasoningDelta,
    ReasoningSealed,
    Started,
    Stop,
    TextDelta,
    ToolDelta,
    ToolStarted,
)
from turnout.core.hub.conversation import Reasoning, Text, ToolCall
from turnout.core.hub.stream import EventReader
from turnout.core.usage import usage_of

__all__ = ["ResponsesReader", "read_answer"]


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


class ResponsesReader(EventReader):
    """A Responses stream read into hub events; never raises on what an upstream sends."""

    def __init__(self) -> None:
        super().__init__()
        self._custom: dict[Any, list[str]] = {}  # a custom call's input, held until it ends
        self._streamed: set[Any] = set()  # calls whose arguments came as deltas
        self._calls = 0

    def _on(self, name: bytes | None, payload: bytes, out: list[Event]) -> None:
        if self.ended:
            return
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict) or not isinstance(kind := event.get("type"), str):
            return
        key = event.get("output_index")
        key = key if type(key) is int else -1  # an index, or anything an upstream sent as one
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
            self._fail(out, str(error.get("message") or "Upstream error"), code, code)

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

"""An Anthropic Messages stream read into hub events.

Fed raw bytes at any boundary; never raises on what an upstream sends. A thinking block's
signature (and a redacted thinking block's data) is sealed with its origin, so it can go
back to Anthropic on the next turn and nowhere else. Usage is gathered from
``message_start`` and ``message_delta``; the answer ends at ``message_stop``, and a stream
that stops short ends with ``Failed``.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.validate import event_problem
from turnout.core.errors import brief
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

__all__ = ["MessagesReader", "error_code", "messages_stop", "read_answer"]

_STOPS: dict[str, Stop] = {
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
}


def messages_stop(stop_reason: Any) -> Stop:
    return _STOPS.get(stop_reason or "end_turn", "end")


def error_code(kind: Any, message: str) -> str:
    """An Anthropic error type as the Responses API's code for it."""
    if kind == "rate_limit_error":
        return "rate_limit_exceeded"
    if kind == "invalid_request_error" and ("too long" in message or "context" in message):
        return "context_length_exceeded"
    if kind == "billing_error":
        return "insufficient_quota"
    return "server_error"


class MessagesReader(EventReader):
    def __init__(self) -> None:
        super().__init__()
        self._blocks: dict[int, dict[str, Any]] = {}
        self._usage: dict[str, Any] = {}
        self._stop: Any = None
        self._tools = False

    def _on(self, name: bytes | None, payload: bytes, out: list[Event]) -> None:
        if self.ended:
            return
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        delta = event.get("delta")
        if (
            type(delta) is dict
            and delta.get("type") == "text_delta"
            and event.get("type") == "content_block_delta"
            and type(text := delta.get("text")) is str
            and type(event.get("index")) is int
        ):
            if text:
                out.append(TextDelta(text))  # the hot path: one more piece of text
            return
        kind = event.get("type") or (name or b"").decode("latin-1")
        if (problem := event_problem(event, "anthropic", kind)) is not None:
            self._fail(out, f"The backend sent an event turnout cannot read ({brief(problem)}).")
            return
        if kind == "message_start":
            message = event.get("message") or {}
            self._usage.update({k: v for k, v in (message.get("usage") or {}).items() if v is not None})
            out.append(Started(message.get("id")))
        elif kind == "content_block_start":
            self._start(event.get("index", 0), event.get("content_block") or {}, out)
        elif kind == "content_block_delta":
            self._delta(event.get("index", 0), event.get("delta") or {}, out)
        elif kind == "content_block_stop":
            self._stop_block(event.get("index", 0), out)
        elif kind == "message_delta":
            self._stop = (event.get("delta") or {}).get("stop_reason") or self._stop
            self._usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        elif kind == "message_stop":
            stop = "tool" if self._tools else messages_stop(self._stop)
            out.append(Finished(stop, usage_of("anthropic", self._usage) if self._usage else None))
            self.ended = True
        elif kind == "error":
            error = event.get("error") or {}
            kind = error.get("type") if isinstance(error, dict) else None
            message = (error.get("message") if isinstance(error, dict) else str(error)) or "Upstream error"
            self._fail(out, message, error_code(kind, message), kind if isinstance(kind, str) else None)

    def _start(self, index: int, block: dict[str, Any], out: list[Event]) -> None:
        self._blocks[index] = block = dict(block)
        kind = block.get("type")
        if kind == "tool_use":
            self._tools = True
            out.append(ToolStarted(index, str(block.get("id") or ""), str(block.get("name") or "")))
            if isinstance(block.get("input"), dict) and block["input"]:
                out.append(ToolDelta(index, orjson.dumps(block["input"]).decode()))
        elif kind == "text" and block.get("text"):
            out.append(TextDelta(block["text"]))
        elif kind == "thinking":
            block.setdefault("thinking", "")
            if block["thinking"]:
                out.append(ReasoningDelta(block["thinking"]))

    def _delta(self, index: int, delta: dict[str, Any], out: list[Event]) -> None:
        kind = delta.get("type")
        block = self._blocks.get(index, {})
        if kind == "text_delta" and delta.get("text"):
            out.append(TextDelta(delta["text"]))
        elif kind == "thinking_delta" and delta.get("thinking"):
            block["thinking"] = block.get("thinking", "") + delta["thinking"]
            out.append(ReasoningDelta(delta["thinking"]))
        elif kind == "signature_delta":
            block["signature"] = block.get("signature", "") + (delta.get("signature") or "")
        elif kind == "input_json_delta" and delta.get("partial_json"):
            out.append(ToolDelta(index, delta["partial_json"]))

    def _stop_block(self, index: int, out: list[Event]) -> None:
        block = self._blocks.pop(index, {})
        if block.get("type") == "thinking" and block.get("signature"):
            out.append(
                ReasoningSealed(Reasoning(block["thinking"], "anthropic", signature=block["signature"]))
            )
        elif block.get("type") == "redacted_thinking" and block.get("data"):
            out.append(ReasoningSealed(Reasoning("", "anthropic", encrypted=block["data"])))


def read_answer(body: dict[str, Any]) -> Answer:
    parts: list[Text | Reasoning | ToolCall] = []
    calls = False
    for block in body.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            parts.append(Text(block.get("text") or ""))
        elif kind == "thinking":
            parts.append(
                Reasoning(block.get("thinking") or "", "anthropic", signature=block.get("signature"))
            )
        elif kind == "redacted_thinking":
            parts.append(Reasoning("", "anthropic", encrypted=block.get("data")))
        elif kind == "tool_use":
            calls = True
            arguments = orjson.dumps(block.get("input") or {}).decode()
            parts.append(ToolCall(str(block.get("id") or ""), block.get("name") or "", arguments))
    usage = usage_of("anthropic", body["usage"]) if isinstance(body.get("usage"), dict) else None
    return Answer(body.get("id"), parts, "tool" if calls else messages_stop(body.get("stop_reason")), usage)

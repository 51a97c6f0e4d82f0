"""Hub answers written as Anthropic Messages, whole or streamed.

What an Anthropic client (Claude Code) is promised: ``event:`` lines; exactly one
``message_start``; blocks opened and closed in order with increasing indices; reasoning
only in thinking blocks, each closed after a ``signature_delta`` (the signature Anthropic
issued, else a recognizable synthetic one: a genuine one cannot exist); no empty text
blocks; tool arguments as ``input_json_delta``; a ``tool_use`` stop reason whenever tools
were called; ids unique per response (``ids.py``); an ``error`` event when the backend
fails or stops short.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.context import Context
from turnout.core.dialects.ids import ToolIds, message_id
from turnout.core.dialects.mapping import tool_input
from turnout.core.dialects.sse import format_event
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
from turnout.core.hub.conversation import Reasoning, Text, ToolCall
from turnout.core.hub.stream import Writer
from turnout.core.prices import Usage

__all__ = ["SYNTHETIC_SIGNATURE", "MessagesWriter", "messages_usage", "write_answer"]

SYNTHETIC_SIGNATURE = "turnout-synthetic-signature"
_STOP_REASONS: dict[str, str] = {
    "end": "end_turn",
    "length": "max_tokens",
    "tool": "tool_use",
    "refusal": "refusal",
    "stop_sequence": "stop_sequence",
}
_TEXT_DELTA_PREFIX = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
    b'"delta":{"type":"text_delta","text":'
)


def messages_usage(usage: Usage | None) -> dict[str, int]:
    usage = usage or Usage()
    return {
        "input_tokens": usage.input,
        "output_tokens": usage.output,
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation_input_tokens": usage.cache_write,
    }


def _thinking(part: Reasoning) -> dict[str, Any]:
    if part.origin == "anthropic" and part.encrypted and not part.signature:
        return {"type": "redacted_thinking", "data": part.encrypted}
    signature = part.signature if part.origin == "anthropic" and part.signature else SYNTHETIC_SIGNATURE
    return {"type": "thinking", "thinking": part.text, "signature": signature}


def write_answer(answer: Answer, ctx: Context) -> dict[str, Any]:
    ids = ToolIds(ctx.nonce)
    content: list[dict[str, Any]] = []
    thinking = [p for p in answer.parts if isinstance(p, Reasoning)]
    content += [_thinking(p) for p in thinking]  # thinking first, as Anthropic answers
    calls = 0
    for part in answer.parts:
        if isinstance(part, Text) and part.text:
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ToolCall):
            content.append(
                {
                    "type": "tool_use",
                    "id": ids.mint(part.id, calls),
                    "name": ctx.client_tool_name(part.name),
                    "input": tool_input(part.arguments),
                }
            )
            calls += 1
    return {
        "id": message_id(answer.id, ctx.nonce),
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": content,
        "stop_reason": "tool_use" if calls else _STOP_REASONS[answer.stop],
        "stop_sequence": None,
        "usage": messages_usage(answer.usage),
    }


class MessagesWriter(Writer):
    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self._ids = ToolIds(ctx.nonce)
        self._msg_id = message_id(None, ctx.nonce)
        self._started = False
        self._next = 0  # the next block's index
        self._open: str | None = None  # "text", "thinking" or "tool"
        self._key: object = None  # the open tool's key
        self._signature: str | None = None  # the open thinking block's own signature
        self._text_prefix = b""
        self._calls = 0

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        self._out.append(format_event(kind, orjson.dumps({"type": kind, **payload})))

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        message: dict[str, Any] = {
            "id": self._msg_id,
            "type": "message",
            "role": "assistant",
            "model": self.ctx.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }
        self._emit("message_start", {"message": message})

    def _open_block(self, kind: str, block: dict[str, Any]) -> int:
        self._close_block()
        index, self._next, self._open = self._next, self._next + 1, kind
        self._emit("content_block_start", {"index": index, "content_block": block})
        return index

    def _close_block(self) -> None:
        if self._open is None:
            return
        index = self._next - 1
        if self._open == "thinking":
            signature = self._signature or SYNTHETIC_SIGNATURE
            self._emit(
                "content_block_delta",
                {"index": index, "delta": {"type": "signature_delta", "signature": signature}},
            )
            self._signature = None
        self._emit("content_block_stop", {"index": index})
        self._open = None

    def write(self, events: list[Event]) -> bytes:
        for event in events:
            if self.stopped:
                break
            if isinstance(event, TextDelta):
                self._text(event.text)
            elif isinstance(event, ToolDelta):
                if self._open == "tool" and self._key == event.key:
                    self.chars += len(event.text)
                    delta = {"type": "input_json_delta", "partial_json": event.text}
                    self._emit("content_block_delta", {"index": self._next - 1, "delta": delta})
            elif isinstance(event, ReasoningDelta):
                self._start()
                self.chars += len(event.text)
                if self._open != "thinking":
                    self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
                delta = {"type": "thinking_delta", "thinking": event.text}
                self._emit("content_block_delta", {"index": self._next - 1, "delta": delta})
            elif isinstance(event, ToolStarted):
                self._start()
                call_id = self._ids.mint(event.id, self._calls)
                self._calls += 1
                block = {
                    "type": "tool_use",
                    "id": call_id,
                    "name": self.ctx.client_tool_name(event.name),
                    "input": {},
                }
                self._open_block("tool", block)
                self._key = event.key
            elif isinstance(event, ReasoningSealed):
                self._sealed(event.reasoning)
            elif isinstance(event, Started):
                if not self._started and event.id:
                    self._msg_id = message_id(event.id, self.ctx.nonce)
                self._start()
            elif isinstance(event, Finished):
                self._finish(event.stop, event.usage)
            elif isinstance(event, Failed):
                self._fail(event.message, event.kind or "api_error")
        return self.take()

    def _text(self, text: str) -> None:
        if self._open == "text":  # the hot path: one more piece of text in an open text block
            if text:
                self.chars += len(text)
                self._out.append(self._text_prefix + orjson.dumps(text) + b"}}\n\n")
            return
        if not text:
            return
        self._start()
        self.chars += len(text)
        index = self._open_block("text", {"type": "text", "text": ""})
        self._text_prefix = _TEXT_DELTA_PREFIX % index
        self._out.append(self._text_prefix + orjson.dumps(text) + b"}}\n\n")

    def _sealed(self, reasoning: Reasoning) -> None:
        if reasoning.origin != "anthropic":
            return  # another provider's opaque value means nothing to an Anthropic client
        self._start()
        if reasoning.signature and self._open == "thinking":
            self._signature = reasoning.signature
            self._close_block()
        elif reasoning.encrypted and not reasoning.signature:
            self._open_block("redacted", {"type": "redacted_thinking", "data": reasoning.encrypted})
            self._close_block()

    def _finish(self, stop: Stop, usage: Usage | None) -> None:
        self._start()
        self._close_block()
        self.usage = usage
        reason = "tool_use" if self._calls else _STOP_REASONS[stop]
        delta = {"stop_reason": reason, "stop_sequence": None}
        self._emit("message_delta", {"delta": delta, "usage": messages_usage(usage)})
        self._emit("message_stop", {})
        self.stopped = self.completed = True

    def _fail(self, message: str, kind: str = "api_error") -> None:
        self._start()
        self._close_block()
        self._emit("error", {"error": {"type": kind, "message": message}})
        self.stopped = True
        self.failure = message

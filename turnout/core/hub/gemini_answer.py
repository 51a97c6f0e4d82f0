"""Hub answers written as Gemini ``GenerateContentResponse`` objects, whole or as the
chunks of ``streamGenerateContent?alt=sse``.

A stream is a series of partial responses: text and thought parts as they come, a
function call whole in one part (Gemini never splits one), and the last chunk with the
``finishReason`` and ``usageMetadata``. A failure mid-stream is a chunk holding only
``{"error": …}``, which Google's SDKs raise. Reasoning from another provider goes to the
client as a thought part whose ``thoughtSignature`` is sealed (``seal.py``).
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.context import Context
from turnout.core.dialects.ids import ToolIds
from turnout.core.dialects.mapping import tool_input
from turnout.core.errors import error_body
from turnout.core.hub.answer import (
    Answer,
    Event,
    Failed,
    Finished,
    ReasoningDelta,
    ReasoningSealed,
    Stop,
    TextDelta,
    ToolDelta,
    ToolStarted,
)
from turnout.core.hub.conversation import Reasoning, Text, ToolCall
from turnout.core.hub.seal import seal
from turnout.core.hub.stream import Writer
from turnout.core.prices import Usage

__all__ = ["GeminiWriter", "write_answer"]

_FINISH: dict[str, str] = {"length": "MAX_TOKENS", "refusal": "SAFETY"}


def gemini_usage(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    prompt = usage.input + usage.cache_read + usage.cache_write
    out = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": usage.output,
        "totalTokenCount": prompt + usage.output + usage.reasoning,
    }
    if usage.cache_read:
        out["cachedContentTokenCount"] = usage.cache_read
    if usage.reasoning:
        out["thoughtsTokenCount"] = usage.reasoning
    return out


def _call_part(ctx: Context, ids: ToolIds, call: ToolCall, position: int) -> dict[str, Any]:
    name = ctx.client_tool_name(call.name)
    return {
        "functionCall": {"id": ids.mint(call.id, position), "name": name, "args": tool_input(call.arguments)}
    }


def _thought_part(reasoning: Reasoning) -> dict[str, Any]:
    part: dict[str, Any] = {"text": reasoning.text, "thought": True}
    if (sealed := seal(reasoning, native="gemini")) is not None:
        part["thoughtSignature"] = sealed
    return part


def _response(
    ctx: Context, parts: list[dict[str, Any]], stop: Stop | None, usage: Usage | None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if stop is not None:
        candidate["finishReason"] = _FINISH.get(stop, "STOP")
    out: dict[str, Any] = {"candidates": [candidate], "modelVersion": ctx.model, "responseId": ctx.nonce}
    if (metadata := gemini_usage(usage)) is not None:
        out["usageMetadata"] = metadata
    return out


def write_answer(answer: Answer, ctx: Context) -> dict[str, Any]:
    ids = ToolIds(ctx.nonce)
    parts: list[dict[str, Any]] = []
    calls = 0
    for part in answer.parts:
        if isinstance(part, Reasoning):
            parts.append(_thought_part(part))
        elif isinstance(part, Text) and part.text:
            parts.append({"text": part.text})
        elif isinstance(part, ToolCall):
            parts.append(_call_part(ctx, ids, part, calls))
            calls += 1
    return _response(ctx, parts, answer.stop, answer.usage)


class GeminiWriter(Writer):
    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self._ids = ToolIds(ctx.nonce)
        self._call: tuple[object, ToolCall] | None = None  # the call whose arguments are arriving
        self._calls = 0
        self._reasoning: list[str] = []
        self._text_head = self._text_tail = b""

    def _chunk(
        self, parts: list[dict[str, Any]], stop: Stop | None = None, usage: Usage | None = None
    ) -> None:
        self._out.append(b"data: " + orjson.dumps(_response(self.ctx, parts, stop, usage)) + b"\r\n\r\n")

    def _end_call(self) -> None:
        if self._call is not None:
            _, call = self._call
            self._call = None
            self._chunk([_call_part(self.ctx, self._ids, call, self._calls)])
            self._calls += 1

    def write(self, events: list[Event]) -> bytes:
        for event in events:
            if self.stopped:
                break
            if isinstance(event, TextDelta):
                if self._call is not None:
                    self._end_call()
                self.chars += len(event.text)
                if not self._text_head:  # the bytes around a text part, as _chunk writes them
                    self._chunk([{"text": ""}])
                    head, _, tail = self._out.pop().partition(b'{"text":""}')
                    self._text_head, self._text_tail = head + b'{"text":', b"}" + tail
                self._out.append(self._text_head + orjson.dumps(event.text) + self._text_tail)
            elif isinstance(event, ToolDelta):
                if self._call is not None and self._call[0] == event.key:
                    self.chars += len(event.text)
                    self._call[1].arguments += event.text
            elif isinstance(event, ToolStarted):
                self._end_call()
                self._call = (event.key, ToolCall(event.id, event.name, ""))
            elif isinstance(event, ReasoningDelta):
                self._end_call()
                self.chars += len(event.text)
                self._chunk([{"text": event.text, "thought": True}])
            elif isinstance(event, ReasoningSealed):
                if (sealed := seal(event.reasoning, native="gemini")) is not None:
                    self._chunk([{"text": "", "thought": True, "thoughtSignature": sealed}])
            elif isinstance(event, Finished):
                self._end_call()
                self.usage = event.usage
                self._chunk([], event.stop, event.usage)
                self.stopped = self.completed = True
            elif isinstance(event, Failed):
                self._fail(event.message, 502)
        return self.take()

    def _fail(self, message: str, status: int = 502) -> None:
        self._end_call()
        self._out.append(b"data: " + error_body("gemini", status, message) + b"\r\n\r\n")
        self.stopped = True
        self.failure = message

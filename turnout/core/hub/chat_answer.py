"""Hub answers written as OpenAI Chat Completions, whole or streamed.

What an OpenAI client is promised: ``role`` in the first delta; tool-call ``index``
counted per call (0, 1, 2…); ``reasoning_content`` for thinking; ``finish_reason``
``tool_calls`` whenever tools were called; with ``include_usage``, ``"usage": null`` on
every chunk and a final chunk with empty ``choices`` and the usage; then ``[DONE]``. A
failure, or a stream cut off, becomes an ``{"error": …}`` chunk (the SDK raises).
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.context import Context
from turnout.core.dialects.sse import format_event
from turnout.core.hub.answer import (
    Answer,
    Event,
    Failed,
    Finished,
    ReasoningDelta,
    Started,
    Stop,
    TextDelta,
    ToolDelta,
    ToolStarted,
)
from turnout.core.hub.conversation import Reasoning, Text, ToolCall
from turnout.core.hub.stream import Writer
from turnout.core.prices import Usage

__all__ = ["ChatWriter", "chat_usage", "write_answer"]

_FINISH: dict[str, str] = {"length": "length", "tool": "tool_calls", "refusal": "content_filter"}


def chat_usage(usage: Usage | None) -> dict[str, Any]:
    """OpenAI's prompt count includes cached tokens (read and written)."""
    usage = usage or Usage()
    prompt = usage.input + usage.cache_read + usage.cache_write
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output,
        "total_tokens": prompt + usage.output,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read, "cache_write_tokens": usage.cache_write},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    }


def _finish_reason(stop: Stop, tools: bool) -> str:
    return "tool_calls" if tools else _FINISH.get(stop, "stop")


def write_answer(answer: Answer, ctx: Context) -> dict[str, Any]:
    texts = [p.text for p in answer.parts if isinstance(p, Text)]
    thinking = [p.text for p in answer.parts if isinstance(p, Reasoning) and p.text]
    calls = [
        {
            "id": p.id,
            "type": "function",
            "function": {"name": ctx.client_tool_name(p.name), "arguments": p.arguments or "{}"},
        }
        for p in answer.parts
        if isinstance(p, ToolCall)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": _finish_reason(answer.stop, bool(calls)),
    }
    return {
        "id": f"chatcmpl-{answer.id or 'turnout'}",
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [choice],
        "usage": chat_usage(answer.usage),
    }


class ChatWriter(Writer):
    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self._id = "chatcmpl-turnout"
        self._started = False
        self._tools: dict[object, int] = {}  # the reader's key → the tool call's index
        self._text_head = self._text_tail = b""

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> None:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self.ctx.created,
            "model": self.ctx.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self.ctx.include_usage:
            chunk["usage"] = None
        self._out.append(format_event(None, orjson.dumps(chunk)))

    def _start(self, upstream_id: object = None) -> None:
        if self._started:
            return
        self._started = True
        if upstream_id:
            self._id = f"chatcmpl-{upstream_id}"
        self._chunk({"role": "assistant", "content": ""})
        # A text chunk's bytes around its text, as _chunk would write them: the hot path.
        head, _, tail = self._out[-1].partition(b'"delta":{"role":"assistant","content":""}')
        self._text_head, self._text_tail = head + b'"delta":{"content":', b"}" + tail

    def write(self, events: list[Event]) -> bytes:
        for event in events:
            if self.stopped:
                break
            if isinstance(event, TextDelta):
                if event.text:
                    self._start()
                    self.chars += len(event.text)
                    self._out.append(self._text_head + orjson.dumps(event.text) + self._text_tail)
            elif isinstance(event, ToolDelta):
                if (k := self._tools.get(event.key)) is not None and event.text:
                    self.chars += len(event.text)
                    self._chunk({"tool_calls": [{"index": k, "function": {"arguments": event.text}}]})
            elif isinstance(event, ReasoningDelta):
                if event.text:
                    self._start()
                    self.chars += len(event.text)
                    self._chunk({"reasoning_content": event.text})
            elif isinstance(event, ToolStarted):
                self._start()
                k = self._tools[event.key] = len(self._tools)
                name = self.ctx.client_tool_name(event.name)
                call = {
                    "index": k,
                    "id": event.id,
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }
                self._chunk({"tool_calls": [call]})
            elif isinstance(event, Started):
                self._start(event.id)
            elif isinstance(event, Finished):
                self._finish(event.stop, event.usage)
            elif isinstance(event, Failed):
                self._fail(event.message, event.kind or "server_error")
        return self.take()

    def _finish(self, stop: Stop, usage: Usage | None) -> None:
        self._start()
        self.usage = usage
        self._chunk({}, _finish_reason(stop, bool(self._tools)))
        if self.ctx.include_usage:
            chunk = {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self.ctx.created,
                "model": self.ctx.model,
                "system_fingerprint": None,
                "choices": [],
                "usage": chat_usage(usage),
            }
            self._out.append(format_event(None, orjson.dumps(chunk)))
        self._out.append(b"data: [DONE]\n\n")
        self.stopped = self.completed = True

    def _fail(self, message: str, kind: str = "server_error") -> None:
        error = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        self._out.append(format_event(None, orjson.dumps(error)))
        self.stopped = True
        self.failure = message

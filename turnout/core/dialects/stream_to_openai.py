"""Anthropic Messages SSE → OpenAI Chat Completions SSE, as an incremental state machine.

Guarantees the OpenAI client sees: ``role`` in the first delta; tool-call ``index``
counted per tool call (0, 1, 2…), not the Anthropic block index; ``reasoning_content``
for thinking; ``finish_reason`` ``tool_calls`` whenever tools were called; with
``include_usage``, ``"usage": null`` on every chunk and a final chunk with empty
``choices`` and the usage; then ``[DONE]``. An Anthropic ``error`` event, or a stream
cut off before ``message_stop``, becomes an ``{"error": …}`` chunk (the SDK raises).
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.context import Context
from turnout.core.dialects.mapping import openai_finish_reason, openai_usage
from turnout.core.dialects.sse import EventBuffer, SSEParser, format_event
from turnout.core.dialects.validate import event_problem
from turnout.core.errors import brief

__all__ = ["ToOpenAIStream"]


class ToOpenAIStream(EventBuffer):
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._parser = SSEParser()
        self._out = []
        self._id = "chatcmpl-turnout"
        self._created = ctx.created
        self._tool_of_block: dict[int, int] = {}
        self._usage: dict[str, Any] = {}
        self._finished = False  # finish_reason sent
        self.completed = False  # the answer's own end was sent
        self.failure: str | None = None  # the error event that ended it, if one did
        self._stopped = False  # [DONE] or an error sent

    def feed(self, data: bytes) -> bytes:
        for name, payload in self._parser.feed_raw(data):
            self._on_event(name, payload)
        return self.take()

    def finish(self) -> bytes:
        for name, payload in self._parser.flush_raw():
            self._on_event(name, payload)
        if not self._stopped:
            self._error("The upstream stream ended before it finished.", "server_error")
        return self.take()

    def fail(self, message: str) -> bytes:
        if not self._stopped:
            self._error(message, "server_error")
        return self.take()

    # -- chunks out -------------------------------------------------------------------------
    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> None:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.ctx.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self.ctx.include_usage:
            chunk["usage"] = None
        self._out.append(format_event(None, orjson.dumps(chunk)))

    def _error(self, message: str, kind: str) -> None:
        self._out.append(
            format_event(
                None, orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": None}})
            )
        )
        self._stopped = True
        self.failure = message

    # -- events in --------------------------------------------------------------------------
    def _on_event(self, name: bytes | None, data: bytes) -> None:
        if self._stopped:
            return
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        kind = event.get("type") or (name.decode("utf-8", "replace") if name else "")
        if (problem := event_problem(event, "anthropic", kind)) is not None:
            self._error(f"The backend sent an event turnout cannot read ({brief(problem)}).", "server_error")
            return
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(event)

    def _on_message_start(self, event: dict[str, Any]) -> None:
        message = event.get("message") or {}
        if message.get("id"):
            self._id = f"chatcmpl-{message['id']}"
        self._usage.update(message.get("usage") or {})
        self._chunk({"role": "assistant", "content": ""})

    def _on_content_block_start(self, event: dict[str, Any]) -> None:
        block = event.get("content_block") or {}
        if block.get("type") != "tool_use":
            return
        k = len(self._tool_of_block)
        self._tool_of_block[event.get("index", -1)] = k
        self._chunk(
            {
                "tool_calls": [
                    {
                        "index": k,
                        "id": block.get("id", ""),
                        "type": "function",
                        "function": {"name": block.get("name", ""), "arguments": ""},
                    }
                ]
            }
        )

    def _on_content_block_delta(self, event: dict[str, Any]) -> None:
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            self._chunk({"content": delta["text"]})
        elif kind == "thinking_delta" and delta.get("thinking"):
            self._chunk({"reasoning_content": delta["thinking"]})
        elif kind == "input_json_delta" and delta.get("partial_json"):
            k = self._tool_of_block.get(event.get("index", -1))
            if k is not None:
                self._chunk({"tool_calls": [{"index": k, "function": {"arguments": delta["partial_json"]}}]})

    def _on_message_delta(self, event: dict[str, Any]) -> None:
        self._usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
        stop = (event.get("delta") or {}).get("stop_reason")
        if stop and not self._finished:
            self._finished = True
            self._chunk({}, "tool_calls" if self._tool_of_block else openai_finish_reason(stop))

    def _on_message_stop(self, event: dict[str, Any]) -> None:
        if not self._finished:
            self._finished = True
            self._chunk({}, "tool_calls" if self._tool_of_block else "stop")
        if self.ctx.include_usage:
            chunk = {
                "id": self._id,
                "object": "chat.completion.chunk",
                "created": self._created,
                "model": self.ctx.model,
                "system_fingerprint": None,
                "choices": [],
                "usage": openai_usage(self._usage),
            }
            self._out.append(format_event(None, orjson.dumps(chunk)))
        self._out.append(b"data: [DONE]\n\n")
        self._stopped = True
        self.completed = True

    def _on_error(self, event: dict[str, Any]) -> None:
        error = event.get("error") or {}
        self._error(error.get("message") or "Upstream error", error.get("type") or "server_error")

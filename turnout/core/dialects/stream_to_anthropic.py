"""OpenAI Chat Completions SSE → Anthropic Messages SSE, as an incremental state machine.

Fed raw upstream bytes at any boundary (``feed``), flushed once at the end
(``finish``). Guarantees the Anthropic client sees: ``event:`` lines; exactly one
``message_start``; blocks opened and closed in order with increasing indices; reasoning
only in thinking blocks, each closed after a ``signature_delta``; no empty text blocks;
tool arguments streamed as ``input_json_delta`` (never lost when they arrive with the
name); a ``tool_use`` stop reason whenever tools were called; the finish held until the
usage chunk arrives; an ``error`` event for upstream errors or a truncated stream.
Tool-call chunks without ``index`` (Gemini) are keyed by their ``id``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from turnout.core.dialects.context import Context
from turnout.core.dialects.ids import ToolIds, message_id
from turnout.core.dialects.mapping import anthropic_stop_reason, anthropic_usage
from turnout.core.dialects.responses import SYNTHETIC_SIGNATURE, reasoning_text
from turnout.core.dialects.sse import EventBuffer, SSEParser, format_event
from turnout.core.dialects.validate import event_problem
from turnout.core.errors import brief

__all__ = ["ToAnthropicStream"]

_TEXT_DELTA_PREFIX = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
    b'"delta":{"type":"text_delta","text":'
)


@dataclass
class _Tool:
    id: str
    name: str = ""
    pending: list[str] = field(default_factory=list)  # arguments that arrived before the name
    index: int | None = None  # the Anthropic block index, once started


class ToAnthropicStream(EventBuffer):
    def __init__(self, ctx: Context, prompt_tokens: Callable[[], int] | None = None) -> None:
        self.ctx = ctx
        self._prompt_tokens = prompt_tokens  # an estimate, asked only if the upstream reports no usage
        self.estimated = False  # the usage sent to the client is turnout's estimate
        self._chars_out = 0  # text, thinking and tool arguments emitted, for that estimate
        self._parser = SSEParser()
        self._out = []
        self._started = False
        self._next_index = 0
        self._open: tuple[str, Any] | None = None  # ("text"|"thinking", None) or ("tool", key)
        self._tools: dict[Any, _Tool] = {}
        self._last_key: Any = None
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None
        self._done = False  # [DONE] seen
        self.completed = False  # the answer's own end was sent
        self.failure: str | None = None  # the error event that ended it, if one did
        self._stopped = False  # message_stop or error sent; nothing more goes out
        self._msg_id = message_id(None, ctx.nonce)
        self._ids = ToolIds(ctx.nonce)
        self._text_prefix = b""  # the bytes before a text delta's JSON string, for the open text block

    # -- public ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        single = self._parser.single_data(data)
        if single is not None:
            self._on_data(single)
        else:
            for _, payload in self._parser.feed_raw(data):
                self._on_data(payload)
        return self.take()

    def finish(self) -> bytes:
        for _, payload in self._parser.flush_raw():
            self._on_data(payload)
        if not self._stopped:
            if self._finish is None and not self._done:
                self._error("api_error", "The upstream stream ended before it finished.")
            else:
                self._close()
        return self.take()

    def fail(self, message: str) -> bytes:
        """An internal failure, reported to the client as an error event."""
        if not self._stopped:
            self._error("api_error", message)
        return self.take()

    # -- events out -----------------------------------------------------------------------
    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        self._out.append(format_event(kind, orjson.dumps({"type": kind, **payload})))

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        self._emit(
            "message_start",
            {
                "message": {
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
            },
        )

    def _open_block(self, kind: str, block: dict[str, Any], key: Any = None) -> int:
        self._close_block()
        index = self._next_index
        self._next_index += 1
        self._open = (kind, key)
        self._emit("content_block_start", {"index": index, "content_block": block})
        return index

    def _close_block(self) -> None:
        if self._open is None:
            return
        kind, _ = self._open
        index = self._next_index - 1
        if kind == "thinking":
            self._emit(
                "content_block_delta",
                {"index": index, "delta": {"type": "signature_delta", "signature": SYNTHETIC_SIGNATURE}},
            )
        self._emit("content_block_stop", {"index": index})
        self._open = None

    def _close(self) -> None:
        self._start()
        self._close_block()
        tools_called = any(t.index is not None for t in self._tools.values())
        if not self._usage:
            self._estimate_usage()
        usage = anthropic_usage(self._usage)
        self._emit(
            "message_delta",
            {
                "delta": {
                    "stop_reason": anthropic_stop_reason(self._finish, tool_calls=tools_called),
                    "stop_sequence": None,
                },
                "usage": usage,
            },
        )
        self._emit("message_stop", {})
        self._stopped = True
        self.completed = True

    def _estimate_usage(self) -> None:
        """llama.cpp and others ignore ``include_usage``: Claude Code would see 0/0 and never
        compact. Estimate (chars/4, as ``core/tokens.py``) and say so."""
        prompt = self._prompt_tokens() if self._prompt_tokens is not None else 0
        self._usage = {"prompt_tokens": prompt, "completion_tokens": math.ceil(self._chars_out / 4)}
        self.estimated = True

    def _error(self, kind: str, message: str) -> None:
        self._start()
        self._close_block()
        self._emit("error", {"error": {"type": kind, "message": message}})
        self._stopped = True
        self.failure = message

    # -- chunks in ------------------------------------------------------------------------
    def _on_data(self, data: bytes) -> None:
        if self._stopped:
            return
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            if data.strip() == b"[DONE]":
                self._done = True
                self._close()
            return  # anything else that is not JSON: a keep-alive or a provider comment
        if not isinstance(chunk, dict):
            return
        if (problem := event_problem(chunk, "openai")) is not None:
            self._error("api_error", f"The backend sent an event turnout cannot read ({brief(problem)}).")
            return
        if chunk.get("error"):
            error = chunk["error"]
            message = error.get("message") if isinstance(error, dict) else str(error)
            self._error("api_error", message or "Upstream error")
            return
        if not self._started:
            if chunk.get("id"):
                self._msg_id = message_id(chunk["id"], self.ctx.nonce)
            self._start()
        if usage := chunk.get("usage"):
            self._usage = usage
        if choices := chunk.get("choices"):
            self._on_choice(choices[0])

    def _on_choice(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta") or {}
        if (
            len(delta) == 1
            and self._open is not None
            and self._open[0] == "text"
            and not choice.get("finish_reason")
        ):
            text = delta.get("content")
            if isinstance(text, str):  # the hot path: one more piece of text in an open text block
                if text:
                    self._chars_out += len(text)
                    self._out.append(self._text_prefix + orjson.dumps(text) + b"}}\n\n")
                return
        if thinking := reasoning_text(delta):
            self._chars_out += len(thinking)
            if self._open is None or self._open[0] != "thinking":
                self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            self._emit(
                "content_block_delta",
                {"index": self._next_index - 1, "delta": {"type": "thinking_delta", "thinking": thinking}},
            )
        text = delta.get("content")
        if isinstance(text, str) and text:
            self._chars_out += len(text)
            if self._open is None or self._open[0] != "text":
                index = self._open_block("text", {"type": "text", "text": ""})
                self._text_prefix = _TEXT_DELTA_PREFIX % index
            self._emit(
                "content_block_delta",
                {"index": self._next_index - 1, "delta": {"type": "text_delta", "text": text}},
            )
        for position, call in enumerate(delta.get("tool_calls") or []):
            if isinstance(call, dict):
                self._on_tool_call(call, position)
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
            self._close_block()  # the message_delta waits for [DONE], the usage chunk or EOF

    def _tool_key(self, call: dict[str, Any], position: int) -> Any:
        if call.get("index") is not None:
            return call["index"]
        if call.get("id") and not any(t.id == call["id"] for t in self._tools.values()):
            return f"noindex-{len(self._tools)}-{position}"  # Gemini: a new call, whole in one delta
        if call.get("id"):
            return next(k for k, t in self._tools.items() if t.id == call["id"])
        return self._last_key

    def _on_tool_call(self, call: dict[str, Any], position: int) -> None:
        key = self._tool_key(call, position)
        function = call.get("function") or {}
        tool = self._tools.get(key)
        if tool is None:
            tool = self._tools[key] = _Tool(id=self._ids.mint(call.get("id"), len(self._tools)))
        self._last_key = key
        if function.get("name") and not tool.name:
            tool.name = self.ctx.client_tool_name(function["name"])
        arguments = function.get("arguments")
        if isinstance(arguments, dict):
            arguments = orjson.dumps(arguments).decode()
        if arguments:
            self._chars_out += len(arguments)
            tool.pending.append(arguments)
        if not tool.name:
            return  # the block start needs the name; keep the arguments until it comes
        if tool.index is None:
            tool.index = self._open_block(
                "tool", {"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}, key
            )
        elif self._open != ("tool", key):
            return  # fragments for a closed block cannot be sent; an upstream bug (out of order)
        for piece in tool.pending:
            self._emit(
                "content_block_delta",
                {"index": tool.index, "delta": {"type": "input_json_delta", "partial_json": piece}},
            )
        tool.pending.clear()

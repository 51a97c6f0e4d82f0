"""Hub events written as an OpenAI Responses stream: the full sequence Codex and the
``openai`` SDK's stream reader expect.

``response.created`` and ``response.in_progress`` first; each output item announced
(``output_item.added``) before any of its deltas and closed (``.done`` events, then
``output_item.done``) before the next opens; ``response.completed`` with usage (or
``response.incomplete`` when the output was cut at its limit, ``response.failed`` with a
code when the backend failed). Every event has ``sequence_number``.

A custom (freeform) tool's input arrives as the JSON arguments of the function it was
offered as; it is held and sent as one ``custom_tool_call_input.delta`` when the call
ends, since a fragment of JSON is not a fragment of the input.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.context import Context
from turnout.core.hub.answer import (
    Event,
    Failed,
    Finished,
    ReasoningDelta,
    ReasoningSealed,
    Started,
    TextDelta,
    ToolDelta,
    ToolStarted,
)
from turnout.core.hub.conversation import Reasoning
from turnout.core.hub.responses_answer import Items, keep, response_id, response_object, responses_usage
from turnout.core.hub.seal import seal
from turnout.core.hub.stream import Writer

__all__ = ["ResponsesWriter"]


class _Open:
    """The output item being written."""

    __slots__ = ("head", "index", "item", "key", "kind", "parts", "tail")

    def __init__(self, kind: str, index: int, item: dict[str, Any], key: object = None) -> None:
        self.kind, self.index, self.item, self.key = kind, index, item, key
        self.parts: list[str] = []
        self.head: bytes | None = None
        self.tail = b""


class ResponsesWriter(Writer):
    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        self._items = Items(ctx)
        self._id = response_id(None, ctx)
        self._seq = 0
        self._started = False
        self._open: _Open | None = None
        self._output: list[dict[str, Any]] = []
        self._calls = 0

    # -- events out -----------------------------------------------------------------------
    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        payload = {"type": kind, "sequence_number": self._seq, **payload}
        self._seq += 1
        self._out.append(b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n")

    def _start(self, upstream_id: object = None) -> None:
        if self._started:
            return
        self._started = True
        self._id = response_id(upstream_id, self.ctx)
        response = response_object(self.ctx, self._id, "in_progress", [])
        self._emit("response.created", {"response": response})
        self._emit("response.in_progress", {"response": response})

    def _open_item(self, kind: str, item: dict[str, Any], key: object = None) -> _Open:
        self._close()
        opened = self._open = _Open(kind, len(self._output), item, key)
        self._output.append(item)
        self._emit("response.output_item.added", {"output_index": opened.index, "item": item})
        return opened

    def _close(self) -> None:
        opened, self._open = self._open, None
        if opened is None:
            return
        where = {"item_id": opened.item["id"], "output_index": opened.index}
        text = "".join(opened.parts)
        if opened.kind == "message":
            part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
            self._emit(
                "response.output_text.done", {**where, "content_index": 0, "text": text, "logprobs": []}
            )
            self._emit("response.content_part.done", {**where, "content_index": 0, "part": part})
            item = self._items.message(text, opened.item["id"])
        elif opened.kind == "reasoning":
            item = self._items.reasoning(Reasoning(text), opened.item["id"])
            item = {**item, **{k: v for k, v in opened.item.items() if k == "encrypted_content"}}
            if text:
                part = {"type": "summary_text", "text": text}
                self._emit(
                    "response.reasoning_summary_text.done", {**where, "summary_index": 0, "text": text}
                )
                self._emit(
                    "response.reasoning_summary_part.done", {**where, "summary_index": 0, "part": part}
                )
        else:
            item = self._items.finish_call(opened.item, text)
            if item["type"] == "custom_tool_call":
                if item["input"]:
                    self._emit("response.custom_tool_call_input.delta", {**where, "delta": item["input"]})
                self._emit("response.custom_tool_call_input.done", {**where, "input": item["input"]})
            else:
                self._emit(
                    "response.function_call_arguments.done",
                    {**where, "name": item["name"], "arguments": item["arguments"]},
                )
        self._output[opened.index] = item
        self._emit("response.output_item.done", {"output_index": opened.index, "item": item})

    # -- events in ------------------------------------------------------------------------
    def write(self, events: list[Event]) -> bytes:
        for event in events:
            if self.stopped:
                break
            self._on(event)
        return self.take()

    def _on(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self._start()
            self.chars += len(event.text)
            opened = self._open
            if opened is None or opened.kind != "message":
                opened = self._open_item("message", self._items.message("", status="in_progress"))
                part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                self._emit(
                    "response.content_part.added",
                    {
                        "item_id": opened.item["id"],
                        "output_index": opened.index,
                        "content_index": 0,
                        "part": part,
                    },
                )
            opened.parts.append(event.text)
            if opened.head is None:  # the bytes around a delta of this item, as _emit writes them
                opened.head = (
                    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
                    b'"sequence_number":'
                )
                where = {"item_id": opened.item["id"], "output_index": opened.index, "content_index": 0}
                opened.tail = b"," + orjson.dumps(where)[1:-1] + b',"delta":'
            self._out.append(
                opened.head
                + b"%d" % self._seq
                + opened.tail
                + orjson.dumps(event.text)
                + b',"logprobs":[]}\n\n'
            )
            self._seq += 1
        elif isinstance(event, ToolDelta):
            if self._open is not None and self._open.kind == "call" and self._open.key == event.key:
                self.chars += len(event.text)
                self._open.parts.append(event.text)
                if self._open.item["type"] == "function_call":
                    where = {"item_id": self._open.item["id"], "output_index": self._open.index}
                    self._emit("response.function_call_arguments.delta", {**where, "delta": event.text})
        elif isinstance(event, ReasoningDelta):
            self._start()
            self.chars += len(event.text)
            opened = self._open
            if opened is None or opened.kind != "reasoning":
                opened = self._open_reasoning()
                part = {"type": "summary_text", "text": ""}
                where = {"item_id": opened.item["id"], "output_index": opened.index}
                self._emit(
                    "response.reasoning_summary_part.added", {**where, "summary_index": 0, "part": part}
                )
            opened.parts.append(event.text)
            where = {"item_id": opened.item["id"], "output_index": opened.index}
            self._emit(
                "response.reasoning_summary_text.delta", {**where, "summary_index": 0, "delta": event.text}
            )
        elif isinstance(event, ToolStarted):
            self._start()
            item = self._items.call(event.name, event.id, self._calls)
            self._calls += 1
            self._open_item("call", item, event.key)
        elif isinstance(event, ReasoningSealed):
            self._start()
            opened = (
                self._open
                if self._open is not None and self._open.kind == "reasoning"
                else self._open_reasoning()
            )
            if (sealed := seal(event.reasoning)) is not None:
                opened.item["encrypted_content"] = sealed
            self._close()
        elif isinstance(event, Started):
            self._start(event.id)
        elif isinstance(event, Finished):
            self._finish(event)
        elif isinstance(event, Failed):
            self._fail(event.message, event.code)

    def _open_reasoning(self) -> _Open:
        return self._open_item(
            "reasoning", {"type": "reasoning", "id": self._items.item_id("rs"), "summary": []}
        )

    def _finish(self, event: Finished) -> None:
        self._start()
        self._close()
        self.usage = event.usage if event.usage is not None else self.usage
        response = response_object(
            self.ctx, self._id, "completed", self._output, responses_usage(self.usage), stop=event.stop
        )
        self._emit(
            "response.incomplete" if event.stop == "length" else "response.completed", {"response": response}
        )
        self.stopped = self.completed = True
        keep(self.ctx, response)

    def _fail(self, message: str, code: str = "server_error") -> None:
        self._start()
        self._close()
        error = {"code": code, "message": message}
        response = response_object(self.ctx, self._id, "failed", self._output, error=error)
        self._emit("response.failed", {"response": response})
        self.stopped = True
        self.failure = message

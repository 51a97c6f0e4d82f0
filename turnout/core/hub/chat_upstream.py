"""An OpenAI Chat Completions stream read into hub events.

Fed raw bytes at any boundary; never raises on what an upstream sends (an unreadable
event becomes ``Failed``). Reasoning under any of its names (``reasoning_content``,
``reasoning``, ``reasoning_details``); tool calls keyed by ``index``, or by ``id`` when a
backend sends none (Gemini's compatibility API), arguments that arrive before the name
held until it comes; the finish held until ``[DONE]`` or the end (the usage chunk comes after it); a stream
that stops with neither a finish reason nor ``[DONE]`` was cut short.
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
    Started,
    Stop,
    TextDelta,
    ToolDelta,
    ToolStarted,
)
from turnout.core.hub.conversation import Reasoning, Text, ToolCall
from turnout.core.hub.stream import EventReader
from turnout.core.usage import usage_of

__all__ = ["ChatReader", "chat_stop", "read_answer", "reasoning_text"]

_STOPS: dict[str, Stop] = {
    "length": "length",
    "tool_calls": "tool",
    "function_call": "tool",
    "content_filter": "refusal",
}


def reasoning_text(message: dict[str, Any]) -> str:
    """Reasoning under any of its names: ``reasoning_content``, ``reasoning``, ``reasoning_details``."""
    for key in ("reasoning_content", "reasoning"):
        if isinstance(message.get(key), str) and message[key]:
            return str(message[key])
    details = message.get("reasoning_details")
    if isinstance(details, list):
        return "".join(d.get("text") or d.get("summary") or "" for d in details if isinstance(d, dict))
    return ""


def chat_stop(finish_reason: Any, *, tool_calls: bool) -> Stop:
    """Tool calls always win: Gemini, Ollama and others finish tool turns with ``stop``."""
    return "tool" if tool_calls else _STOPS.get(finish_reason or "stop", "end")


def _plain_text(chunk: dict[str, Any]) -> str | None:
    """The text of a chunk that carries only that (the commonest by far), checked as the
    schema would check it but in a few lookups; None for any other chunk."""
    if chunk.get("usage") is not None or "error" in chunk:
        return None
    choices = chunk.get("choices")
    if type(choices) is not list or len(choices) != 1:
        return None
    choice = choices[0]
    if type(choice) is not dict or choice.get("finish_reason") is not None:
        return None
    delta = choice.get("delta")
    if type(delta) is not dict:
        return None
    text = delta.get("content")
    if type(text) is not str or not (len(delta) == 1 or (len(delta) == 2 and "role" in delta)):
        return None
    return text


class _Call:
    __slots__ = ("id", "name", "pending", "started")

    def __init__(self, call_id: str) -> None:
        self.id, self.name, self.started = call_id, "", False
        self.pending: list[str] = []


class ChatReader(EventReader):
    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._calls: dict[Any, _Call] = {}
        self._last: Any = None
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None

    def _stopped_short(self, out: list[Event]) -> None:
        if self._finish is None:
            super()._stopped_short(out)
        else:
            self._end(out)  # a finish reason came, then the bytes ended without [DONE]: done

    def _end(self, out: list[Event]) -> None:
        tools = any(c.started for c in self._calls.values())
        usage = usage_of("openai", self._usage) if self._usage else None
        out.append(Finished(chat_stop(self._finish, tool_calls=tools), usage))
        self.ended = True

    def _on(self, name: bytes | None, data: bytes, out: list[Event]) -> None:
        if self.ended:
            return
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            if data.strip() == b"[DONE]":
                self._end(out)  # the upstream's own end, with a finish reason or not
            return  # anything else: a keep-alive or a provider's comment
        if not isinstance(chunk, dict):
            return
        if self._started and (text := _plain_text(chunk)) is not None:
            if text:
                out.append(TextDelta(text))  # the hot path: one more piece of text, nothing else
            return
        if (problem := event_problem(chunk, "openai")) is not None:
            self._fail(out, f"The backend sent an event turnout cannot read ({brief(problem)}).")
            return
        if error := chunk.get("error"):
            message = error.get("message") if isinstance(error, dict) else str(error)
            self._fail(out, message or "Upstream error")
            return
        if not self._started:
            self._started = True
            out.append(Started(chunk.get("id")))
        if usage := chunk.get("usage"):
            self._usage = usage
        if choices := chunk.get("choices"):
            self._on_choice(choices[0], out)

    def _on_choice(self, choice: dict[str, Any], out: list[Event]) -> None:
        delta = choice.get("delta") or {}
        if thinking := reasoning_text(delta):
            out.append(ReasoningDelta(thinking))
        text = delta.get("content")
        if isinstance(text, str) and text:
            out.append(TextDelta(text))
        for position, call in enumerate(delta.get("tool_calls") or []):
            if isinstance(call, dict):
                self._on_call(call, position, out)
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]

    def _key(self, call: dict[str, Any], position: int) -> Any:
        if call.get("index") is not None:
            return call["index"]
        if call.get("id"):
            for key, known in self._calls.items():
                if known.id == call["id"]:
                    return key
            return f"noindex-{len(self._calls)}-{position}"  # a new call, whole in one delta
        return self._last

    def _on_call(self, call: dict[str, Any], position: int, out: list[Event]) -> None:
        key = self._key(call, position)
        known = self._calls.get(key)
        if known is None:
            known = self._calls[key] = _Call(str(call.get("id") or ""))
        self._last = key
        function = call.get("function") or {}
        if function.get("name") and not known.name:
            known.name = function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, dict):
            arguments = orjson.dumps(arguments).decode()
        if arguments:
            known.pending.append(arguments)
        if not known.name:
            return  # the start needs the name; the arguments wait for it
        if not known.started:
            known.started = True
            out.append(ToolStarted(key, known.id, known.name))
        for piece in known.pending:
            out.append(ToolDelta(key, piece))
        known.pending.clear()


def read_answer(body: dict[str, Any]) -> Answer:
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    parts: list[Text | Reasoning | ToolCall] = []
    if thinking := reasoning_text(message):
        parts.append(Reasoning(thinking))
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict))
    if text or message.get("refusal"):
        parts.append(Text(text or message["refusal"]))
    calls = message.get("tool_calls") or []
    for call in calls:
        function = call.get("function") or {}
        arguments = function.get("arguments") or ""
        if isinstance(arguments, dict):
            arguments = orjson.dumps(arguments).decode()
        parts.append(ToolCall(str(call.get("id") or ""), function.get("name") or "", arguments))
    usage = usage_of("openai", body["usage"]) if isinstance(body.get("usage"), dict) else None
    return Answer(
        body.get("id"), parts, chat_stop(choice.get("finish_reason"), tool_calls=bool(calls)), usage
    )

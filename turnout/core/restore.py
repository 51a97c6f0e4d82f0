"""Placeholders in an answer turned back into the secrets they stand for (see ``scrub.py``).

The client sees the real values: in text, and in tool calls' arguments, so an agent the
provider only ever showed ``[[secret:aws_access_key:1]]`` still writes the real key into
the file it edits. Whole answers are walked string by string. Streams are restored event
by event, in the client's dialect, after any translation: a placeholder split over
several deltas (the model writes it token by token) is put back together by holding the
delta that ends with the start of one until the next delta of the same text says
whether it is one; nothing is held past the next delta of another text, nor past 8
events. Reasoning (thinking) is left as the model wrote it: it is shown, never acted on,
and signed thinking must go back to the provider unchanged.

Tool arguments are JSON text (Chat's ``arguments``, Anthropic's ``partial_json``): a
value put back there is JSON-escaped, so a key file's newlines keep the arguments valid.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from turnout.core.scrub import PLACEHOLDER

__all__ = ["StreamRestorer", "restore_body", "restore_text"]

# The start of a placeholder at the end of a text: "[", "[[", "[[secret:aws_a", …
_PARTIAL = re.compile(
    r"\[(?:\[(?:s(?:e(?:c(?:r(?:e(?:t(?::(?:[a-z0-9_]{1,40}(?::(?:\d{1,6}\]?)?)?)?)?)?)?)?)?)?)?)?\Z"
)
_JSON_TEXT = frozenset({"arguments", "partial_json"})  # JSON documents held in a string
_REASONING = frozenset({"thinking", "reasoning_content", "reasoning", "signature", "encrypted_content"})
_MAX_QUEUED = 8

Slot = tuple[Any, ...]
Delta = tuple[Slot, dict[str, Any], str, bool]  # (which text, the object, its field, JSON text)


def restore_text(text: str, values: dict[str, str], json_text: bool = False) -> str:
    """``text`` with every placeholder of ``values`` replaced (JSON-escaped for JSON text)."""
    if "[[secret:" not in text:
        return text

    def put(m: re.Match[str]) -> str:
        value = values.get(m.group(0))
        if value is None:
            return m.group(0)  # not this conversation's: left as the model wrote it
        return orjson.dumps(value).decode()[1:-1] if json_text else value

    return PLACEHOLDER.sub(put, text)


def restore_body(body: bytes, values: dict[str, str]) -> bytes:
    """A whole JSON answer with its placeholders restored; untouched when it holds none."""
    if b"[[secret:" not in body:
        return body
    try:
        tree = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    return orjson.dumps(_tree(tree, values))


def _tree(node: Any, values: dict[str, str], key: str = "") -> Any:
    if isinstance(node, str):
        return restore_text(node, values, key in _JSON_TEXT)
    if isinstance(node, list):
        return [_tree(item, values, key) for item in node]
    if isinstance(node, dict):
        if node.get("type") in ("thinking", "reasoning") or node.get("thought") is True:
            return node
        return {k: v if k in _REASONING else _tree(v, values, k) for k, v in node.items()}
    return node


class StreamRestorer:
    """Restores a stream of whole SSE events in the client's API (``messages``, ``chat``,
    ``responses``, ``gemini``): call it with each output of the stream, and ``end()``
    before the stream's last bytes (an error event, the end)."""

    def __init__(self, api: str, values: dict[str, str]) -> None:
        self.values = values
        self._deltas: Callable[[dict[str, Any]], list[Delta]] = _DELTAS.get(api, _no_deltas)
        self._held: list[bytes] = []  # the event that ends with a partial placeholder, then neutral ones
        self._held_event: tuple[bytes, dict[str, Any], Delta] | None = None
        self._buffer = b""

    @property
    def idle(self) -> bool:
        """Nothing held back: whole events without ``[[`` or ``["`` can pass as they are
        (the relays check that themselves, sparing a call per event)."""
        return self._held_event is None and not self._buffer

    def needed(self, data: bytes) -> bool:
        return not (self.idle and b"[[" not in data and b'["' not in data and data.endswith(b"\n\n"))

    def __call__(self, data: bytes) -> bytes:
        if not self.needed(data):
            return data  # whole events, none of which can hold or start a placeholder
        out: list[bytes] = []
        for event in self._events(data):
            self._event(event, out)
        return b"".join(out)

    def end(self) -> bytes:
        """Whatever is held goes out as it is (its partial placeholder was none)."""
        out: list[bytes] = []
        self._release(out)
        if self._buffer:
            out.append(self._buffer)
            self._buffer = b""
        return b"".join(out)

    def _events(self, data: bytes) -> Iterator[bytes]:
        data = self._buffer + data if self._buffer else data
        start = 0
        while True:
            end = _event_end(data, start)
            if end < 0:
                break
            yield data[start:end]
            start = end
        self._buffer = data[start:]

    def _event(self, event: bytes, out: list[bytes]) -> None:
        held = self._held_event
        if held is None and b"[[" not in event and b'["' not in event:
            out.append(event)  # nothing here can be, or start, a placeholder
            return
        parsed = _parse(event)
        if parsed is None:
            self._release(out)
            out.append(event)
            return
        head, obj = parsed
        deltas = self._deltas(obj)
        if held is not None:
            slot = held[2][0]
            following = next((d for d in deltas if d[0] == slot), None)
            if following is None and not deltas and len(self._held) < _MAX_QUEUED:
                restored = _tree(obj, self.values)  # no delta: only whole strings to restore
                self._held.append(event if restored == obj else _encode(head, restored))
                return  # an event between two deltas (a ping, a call whole): the tail waits on
            if following is not None:
                self._carry(held, following)
            self._release(out)
        for _, where, name, json_text in deltas:  # the deltas first: some hold JSON text
            where[name] = restore_text(where[name], self.values, json_text)
        obj = _tree(obj, self.values)  # then every other string (a .done event's whole text)
        tail: Delta | None = None
        for delta in self._deltas(obj):
            _, where, name, _ = delta
            text = where[name]
            if _PARTIAL.search(text, max(0, len(text) - 64)):
                tail = delta
        encoded = _encode(head, obj)
        if tail is not None:
            self._held_event = (head, obj, tail)
            self._held = [encoded]
            return
        out.append(encoded)

    def _carry(self, held: tuple[bytes, dict[str, Any], Delta], following: Delta) -> None:
        """The held delta's partial placeholder moves to the start of the next delta."""
        head, obj, (_, where, name, _) = held
        text = where[name]
        m = _PARTIAL.search(text, max(0, len(text) - 64))
        assert m is not None
        where[name] = text[: m.start()]
        self._held[0] = _encode(head, obj)
        _, next_where, next_name, _ = following
        next_where[next_name] = text[m.start() :] + next_where[next_name]

    def _release(self, out: list[bytes]) -> None:
        out.extend(self._held)
        self._held, self._held_event = [], None


def _event_end(data: bytes, start: int) -> int:
    """Where the event starting at ``start`` ends (after its blank line), or -1."""
    best = -1
    for boundary in (b"\n\n", b"\r\n\r\n", b"\r\r"):
        at = data.find(boundary, start)
        if at >= 0 and (best < 0 or at + len(boundary) < best):
            best = at + len(boundary)
    return best


def _parse(event: bytes) -> tuple[bytes, dict[str, Any]] | None:
    """An event's lines before its data, and its data's JSON object (None: not JSON)."""
    at = event.find(b"data:")
    if at < 0:
        return None
    payload = event[at + 5 :].strip()
    if b"\ndata:" in payload or b"\rdata:" in payload:
        return None  # data over several lines: not what any API here sends
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return (event[:at], obj) if isinstance(obj, dict) else None


def _encode(head: bytes, obj: dict[str, Any]) -> bytes:
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


def _no_deltas(obj: dict[str, Any]) -> list[Delta]:
    return []


def _messages(obj: dict[str, Any]) -> list[Delta]:
    if obj.get("type") != "content_block_delta" or not isinstance(delta := obj.get("delta"), dict):
        return []
    kind = delta.get("type")
    if kind == "text_delta" and isinstance(delta.get("text"), str):
        return [(("text", obj.get("index")), delta, "text", False)]
    if kind == "input_json_delta" and isinstance(delta.get("partial_json"), str):
        return [(("json", obj.get("index")), delta, "partial_json", True)]
    return []


def _chat(obj: dict[str, Any]) -> list[Delta]:
    found: list[Delta] = []
    for choice in obj.get("choices") or ():
        if not isinstance(choice, dict) or not isinstance(delta := choice.get("delta"), dict):
            continue
        index = choice.get("index")
        if isinstance(delta.get("content"), str):
            found.append((("content", index), delta, "content", False))
        for call in delta.get("tool_calls") or ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                found.append((("call", index, call.get("index")), function, "arguments", True))
    return found


_RESPONSES_DELTAS = {
    "response.output_text.delta": False,
    "response.function_call_arguments.delta": True,
    "response.custom_tool_call_input.delta": False,
    "response.refusal.delta": False,
}


def _responses(obj: dict[str, Any]) -> list[Delta]:
    kind = obj.get("type")
    if kind not in _RESPONSES_DELTAS or not isinstance(obj.get("delta"), str):
        return []
    slot = (kind, obj.get("item_id"), obj.get("output_index"), obj.get("content_index"))
    return [(slot, obj, "delta", _RESPONSES_DELTAS[kind])]


def _gemini(obj: dict[str, Any]) -> list[Delta]:
    found: list[Delta] = []
    for i, candidate in enumerate(obj.get("candidates") or ()):
        content = candidate.get("content") if isinstance(candidate, dict) else None
        for part in (content or {}).get("parts") or () if isinstance(content, dict) else ():
            if (
                isinstance(part, dict)
                and isinstance(part.get("text"), str)
                and part.get("thought") is not True
            ):
                found.append((("text", candidate.get("index", i)), part, "text", False))
    return found


_DELTAS: dict[str, Callable[[dict[str, Any]], list[Delta]]] = {
    "messages": _messages,
    "chat": _chat,
    "responses": _responses,
    "gemini": _gemini,
    "gemini_stream": _gemini,
}

"""A backend speaking Gemini's native API (``kind: gemini``): its whole answers and
streams read into the hub (requests for it: ``gemini_request``).

Gemini signs the function calls of a thinking turn (``thoughtSignature``) and rejects a
tool loop whose history drops the signature; so a signature it issued rides in the hub
(tagged ``gemini``), reaches the client inside something it keeps (``seal.py``), and is
put back on the same call's part on the next turn.
"""

from __future__ import annotations

from typing import Any

import orjson

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

__all__ = ["GeminiReader", "gemini_path", "read_answer"]

_REFUSED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"})


def gemini_path(model: str, stream: bool, method: str | None = None) -> str:
    """The upstream path (a base URL's path, ``/v1beta`` by default, stands for ``/v1``)."""
    method = method or ("streamGenerateContent" if stream else "generateContent")
    return f"/v1/models/{model}:{method}" + ("?alt=sse" if method == "streamGenerateContent" else "")


def _stop(reason: Any, calls: bool) -> Stop:
    if calls:
        return "tool"
    if not isinstance(reason, str):
        return "end"
    if reason == "MAX_TOKENS":
        return "length"
    return "refusal" if reason in _REFUSED else "end"


def _candidate(body: dict[str, Any]) -> dict[str, Any]:
    candidates = body.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates else {}
    return first if isinstance(first, dict) else {}


def _parts(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


def read_answer(body: dict[str, Any]) -> Answer:
    candidate = _candidate(body)
    out: list[Text | Reasoning | ToolCall] = []
    for k, part in enumerate(_parts(candidate)):
        signature = part.get("thoughtSignature")
        if part.get("thought") is True:
            out.append(Reasoning(str(part.get("text") or ""), "gemini", signature=signature))
            continue
        if isinstance(signature, str):
            out.append(Reasoning("", "gemini", signature=signature))
        if isinstance(part.get("text"), str):
            out.append(Text(part["text"]))
        elif isinstance(call := part.get("functionCall"), dict):
            call_id = str(call.get("id") or f"call_gemini_{k}")
            out.append(
                ToolCall(call_id, str(call.get("name") or ""), orjson.dumps(call.get("args") or {}).decode())
            )
    calls = any(isinstance(p, ToolCall) for p in out)
    usage = body.get("usageMetadata")
    return Answer(
        body.get("responseId"),
        out,
        _stop(candidate.get("finishReason"), calls),
        usage_of("gemini", usage) if isinstance(usage, dict) else None,
    )


class GeminiReader(EventReader):
    """A Gemini stream read into hub events; never raises on what an upstream sends."""

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._calls = 0

    def _on(self, name: bytes | None, payload: bytes, out: list[Event]) -> None:
        if self.ended:
            return
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return
        if not isinstance(chunk, dict):
            return
        if isinstance(error := chunk.get("error"), dict):
            status = error.get("status") if isinstance(error.get("status"), str) else None
            code = "rate_limit_exceeded" if status == "RESOURCE_EXHAUSTED" else "server_error"
            self._fail(out, str(error.get("message") or "Upstream error"), code, status)
            return
        if not self._started:
            self._started = True
            out.append(Started(chunk.get("responseId")))
        candidate = _candidate(chunk)
        for part in _parts(candidate):
            self._part(part, out)
        if (reason := candidate.get("finishReason")) is not None:
            usage = chunk.get("usageMetadata")
            out.append(
                Finished(
                    _stop(reason, self._calls > 0),
                    usage_of("gemini", usage) if isinstance(usage, dict) else None,
                )
            )
            self.ended = True

    def _part(self, part: dict[str, Any], out: list[Event]) -> None:
        text = part.get("text")
        signature = part.get("thoughtSignature")
        if isinstance(signature, str) and signature and part.get("thought") is not True:
            out.append(ReasoningSealed(Reasoning("", "gemini", signature=signature)))  # before its call
        if part.get("thought") is True:
            if isinstance(text, str) and text:
                out.append(ReasoningDelta(text))
        elif isinstance(text, str) and text:
            out.append(TextDelta(text))
        elif isinstance(call := part.get("functionCall"), dict):
            key = self._calls
            self._calls += 1
            out.append(
                ToolStarted(key, str(call.get("id") or f"call_gemini_{key}"), str(call.get("name") or ""))
            )
            out.append(ToolDelta(key, orjson.dumps(call.get("args") or {}).decode()))
        if isinstance(signature, str) and signature and part.get("thought") is True:
            out.append(ReasoningSealed(Reasoning("", "gemini", signature=signature)))

"""A backend speaking Gemini's native API (``kind: gemini``): hub requests written for it,
and its answers and streams read back.

Gemini signs the function calls of a thinking turn (``thoughtSignature``) and rejects a
tool loop whose history drops the signature; so a signature it issued rides in the hub
(tagged ``gemini``), goes to the client inside something it keeps (``seal.py``), and is
put back on the same call's part on the next turn. Schemas go as
``parametersJsonSchema`` (full JSON Schema, no OpenAPI subset to clean down to); an
effort becomes a thinking budget.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from turnout.core.dialects.ids import upstream_tool_id
from turnout.core.dialects.mapping import budget_for_effort, tool_input
from turnout.core.dialects.sse import SSEParser
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
from turnout.core.hub.conversation import File, Image, Reasoning, Request, Text, ToolCall, ToolResult
from turnout.core.hub.tools import ToolNames
from turnout.core.models import Quirks
from turnout.core.usage import usage_of

__all__ = ["GeminiReader", "gemini_path", "read_answer", "write_request"]

_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.S)
_REFUSED = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"})


def gemini_path(model: str, stream: bool, method: str | None = None) -> str:
    """The upstream path (a base URL's path, ``/v1beta`` by default, stands for ``/v1``)."""
    method = method or ("streamGenerateContent" if stream else "generateContent")
    return f"/v1/models/{model}:{method}" + ("?alt=sse" if method == "streamGenerateContent" else "")


def _data(url: str) -> dict[str, Any]:
    if found := _DATA_URL.match(url):
        return {"inlineData": {"mimeType": found["media"], "data": found["data"]}}
    return {"fileData": {"mimeType": "image/*", "fileUri": url}}


def _user_parts(parts: list[Any], names_of: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, ToolResult):
            call_id = upstream_tool_id(part.call_id)
            text = "\n".join(c.text for c in part.content if isinstance(c, Text) and c.text)
            response = {"error": text or "Error"} if part.is_error else {"output": text}
            answer = {"id": call_id, "name": names_of.get(call_id, ""), "response": response}
            out.append({"functionResponse": answer})
            out += [_data(c.url) for c in part.content if isinstance(c, Image)]
        elif isinstance(part, Text) and part.text:
            out.append({"text": part.text})
        elif isinstance(part, Image):
            out.append(_data(part.url))
        elif isinstance(part, File):
            out.append(_data(part.data_url))
    results = [p for p in out if "functionResponse" in p]
    return results + [p for p in out if "functionResponse" not in p]  # results first


def _model_parts(parts: list[Any], names: ToolNames, names_of: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    signature: str | None = None  # Gemini's own, waiting for the part it belongs to
    for part in parts:
        if isinstance(part, Reasoning):
            if part.origin == "gemini" and part.signature:
                signature = part.signature
        elif isinstance(part, Text) and part.text:
            out.append({"text": part.text})
        elif isinstance(part, ToolCall):
            call_id, name = upstream_tool_id(part.id), names.of_call(part)
            names_of[call_id] = name
            arguments = {"input": part.arguments} if part.custom else tool_input(part.arguments)
            entry: dict[str, Any] = {"functionCall": {"id": call_id, "name": name, "args": arguments}}
            if signature is not None:
                entry["thoughtSignature"], signature = signature, None
            out.append(entry)
    if signature is not None and out:
        out[-1]["thoughtSignature"] = signature
    return out


def write_request(
    request: Request, *, model: str, quirks: Quirks
) -> tuple[dict[str, Any], ToolNames, dict[str, str]]:
    names = ToolNames(shorten=True)
    adjusted = dict(request.dropped)
    names_of: dict[str, str] = {}  # call id → the name sent, for its functionResponse
    contents: list[dict[str, Any]] = []
    for turn in request.turns:
        if turn.role == "user":
            parts = _user_parts(turn.parts, names_of)
        else:
            parts = _model_parts(turn.parts, names, names_of)
        if parts:
            contents.append({"role": "user" if turn.role == "user" else "model", "parts": parts})
    out: dict[str, Any] = {"contents": contents}
    if system := "\n".join(t.text for t in request.system if t.text):
        out["systemInstruction"] = {"parts": [{"text": system}]}
    if request.tools:
        declarations = []
        for tool in request.tools:
            entry: dict[str, Any] = {"name": names.of_tool(tool), "parametersJsonSchema": tool.schema}
            if tool.custom:
                entry["parametersJsonSchema"] = {
                    "type": "object",
                    "properties": {"input": {"type": "string"}},
                    "required": ["input"],
                }
            if tool.description:
                entry["description"] = tool.description
            declarations.append(entry)
        out["tools"] = [{"functionDeclarations": declarations}]
        choice = request.tool_choice
        if choice is not None:
            mode = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}[choice.mode]
            calling: dict[str, Any] = {"mode": mode}
            if choice.mode == "tool" and choice.name:
                calling["allowedFunctionNames"] = [names.name(choice.name)]
            out["toolConfig"] = {"functionCallingConfig": calling}
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxOutputTokens"] = min(request.max_tokens, quirks.max_tokens_cap or request.max_tokens)
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = request.stop[:5]
    if request.effort == "none":
        config["thinkingConfig"] = {"thinkingBudget": 0}
    elif request.effort and (budget := budget_for_effort(request.effort)):
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": True}
    if request.json_schema is not None:
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = request.json_schema.get("schema") or {}
    if config:
        out["generationConfig"] = config
    return out, names, adjusted


def _stop(reason: Any, calls: bool) -> Stop:
    if calls:
        return "tool"
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


class GeminiReader:
    """A Gemini stream read into hub events; never raises on what an upstream sends."""

    def __init__(self) -> None:
        self._parser = SSEParser()
        self._started = False
        self._calls = 0
        self.ended = False

    def feed(self, data: bytes) -> list[Event]:
        out: list[Event] = []
        for _, payload in self._parser.feed_raw(data):
            self._on(payload, out)
        return out

    def finish(self) -> list[Event]:
        out: list[Event] = []
        for _, payload in self._parser.flush_raw():
            self._on(payload, out)
        if not self.ended:
            out.append(Failed("The upstream stream ended before it finished."))
            self.ended = True
        return out

    def _on(self, payload: bytes, out: list[Event]) -> None:
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
            out.append(Failed(str(error.get("message") or "Upstream error"), code, status))
            self.ended = True
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

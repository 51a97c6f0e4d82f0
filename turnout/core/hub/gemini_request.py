"""A Gemini ``generateContent`` request (Gemini CLI's dialect) read into the hub.

Google's API takes both camelCase and snake_case field names; both are read. Function
calls may come without ids (older clients): each gets a stable one, and a response
without an id answers the oldest unanswered call of its name. Tool schemas are Gemini's
OpenAPI subset (``"type": "OBJECT"``) or plain JSON Schema (``parametersJsonSchema``):
both become JSON Schema. A thought part's ``thoughtSignature`` is opaque to anyone but
Google, unless turnout sealed it (an Anthropic signature given to the client earlier).
Google's own tools (search, code execution, URL context) are dropped and named.

Written for a Gemini backend: schemas as ``parametersJsonSchema`` (full JSON Schema, no
subset to clean down to), an effort as a thinking budget, a Gemini signature back on the
call it came with, function responses first in their turn and named after their call.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.ids import upstream_tool_id
from turnout.core.dialects.mapping import budget_for_effort, effort_for_budget, tool_input
from turnout.core.dialects.validate import (
    ANY,
    BOOL,
    INT,
    JSON_OBJECT,
    SAMPLING,
    STR,
    ListOf,
    Num,
    Obj,
    OneOf,
    check_against,
)
from turnout.core.errors import BadRequest
from turnout.core.hub.conversation import (
    DATA_URL,
    File,
    Image,
    Part,
    Reasoning,
    Request,
    Text,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    Turn,
    data_url,
)
from turnout.core.hub.seal import unseal
from turnout.core.hub.tools import ToolNames
from turnout.core.models import Quirks

__all__ = ["GEMINI_REQUEST", "json_schema", "read_request", "write_request"]


def _both(fields: dict[str, Any]) -> dict[str, Any]:
    """Each camelCase field under its snake_case name too (Google's API takes either)."""
    out = dict(fields)
    for name, schema in fields.items():
        snake = "".join("_" + c.lower() if c.isupper() else c for c in name)
        out.setdefault(snake, schema)
    return out


_SIGNED_INT = Num(-1, 10**9, integer=True)  # -1: the model decides
_PART = Obj(
    _both(
        {
            "text": STR,
            "thought": BOOL,
            "thoughtSignature": STR,
            "inlineData": Obj(_both({"mimeType": STR, "data": STR})),
            "fileData": Obj(_both({"mimeType": STR, "fileUri": STR})),
            "functionCall": Obj({"name": STR, "args": JSON_OBJECT, "id": STR}, required=("name",)),
            "functionResponse": Obj({"name": STR, "response": JSON_OBJECT, "id": STR}, required=("name",)),
        }
    )
)
_CONTENT = Obj({"role": STR, "parts": ListOf(_PART)})
_DECLARATION = Obj(
    _both({"name": STR, "description": STR, "parameters": JSON_OBJECT, "parametersJsonSchema": JSON_OBJECT}),
    required=("name",),
)
GEMINI_REQUEST = Obj(
    _both(
        {
            "contents": OneOf((ListOf(_CONTENT), _CONTENT)),
            "systemInstruction": OneOf((_CONTENT, STR)),
            "tools": ListOf(Obj(_both({"functionDeclarations": ListOf(_DECLARATION)}))),
            "toolConfig": Obj(
                _both(
                    {"functionCallingConfig": Obj(_both({"mode": STR, "allowedFunctionNames": ListOf(STR)}))}
                )
            ),
            "generationConfig": Obj(
                _both(
                    {
                        "temperature": SAMPLING,
                        "topP": SAMPLING,
                        "topK": INT,
                        "maxOutputTokens": INT,
                        "candidateCount": INT,
                        "stopSequences": ListOf(STR),
                        "responseMimeType": STR,
                        "responseSchema": JSON_OBJECT,
                        "responseJsonSchema": JSON_OBJECT,
                        "thinkingConfig": Obj(
                            _both(
                                {"thinkingBudget": _SIGNED_INT, "includeThoughts": BOOL, "thinkingLevel": STR}
                            )
                        ),
                    }
                )
            ),
            "safetySettings": ANY,
            "cachedContent": STR,
        }
    )
)
_LEVELS = {"minimal": "minimal", "low": "low", "medium": "medium", "high": "high"}


def _get(obj: dict[str, Any], camel: str) -> Any:
    """``obj[camel]``, or its snake_case spelling."""
    if camel in obj:
        return obj[camel]
    return obj.get("".join("_" + c.lower() if c.isupper() else c for c in camel))


def json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI-subset schema as JSON Schema: its upper-case types lower-cased,
    ``nullable`` as a ``null`` type. Plain JSON Schema passes unchanged."""
    if isinstance(schema, list):
        return [json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            out[key] = {name: json_schema(s) for name, s in value.items()}
        elif key == "nullable":
            continue
        else:
            out[key] = json_schema(value)
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _data_url(data: dict[str, Any]) -> str:
    return data_url(_get(data, "mimeType") or "application/octet-stream", data.get("data") or "")


class _Calls:
    """Ids for calls that came without one, and which call a response answers."""

    def __init__(self) -> None:
        self.count = 0
        self.open: list[tuple[str, str]] = []  # (name, id), unanswered, oldest first

    def call(self, name: str, given: Any) -> str:
        self.count += 1
        call_id = given if isinstance(given, str) and given else f"call_gemini_{self.count}"
        self.open.append((name, call_id))
        return call_id

    def answer(self, name: str, given: Any) -> str:
        if isinstance(given, str) and given:
            self.open = [(n, i) for n, i in self.open if i != given]
            return given
        for k, (open_name, call_id) in enumerate(self.open):
            if open_name == name:
                del self.open[k]
                return call_id
        self.count += 1
        return f"call_gemini_{self.count}"


def _parts(raw: list[dict[str, Any]], calls: _Calls, role: str) -> list[Part]:
    parts: list[Part] = []
    for part in raw:
        signature = _get(part, "thoughtSignature")
        if part.get("thought") is True:
            text = part.get("text") or ""
            parts.append(unseal(signature, text, None, "gemini") if signature else Reasoning(text, "gemini"))
            continue
        if isinstance(part.get("text"), str):
            if part["text"]:
                parts.append(Text(part["text"]))
        elif (data := _get(part, "inlineData")) is not None:
            parts.append(Image(_data_url(data)))
        elif (data := _get(part, "fileData")) is not None:
            parts.append(Text(f"[file: {_get(data, 'fileUri') or ''}]"))
        elif (call := _get(part, "functionCall")) is not None:
            if signature and role == "model":
                parts.append(unseal(signature, "", None, "gemini"))
            arguments = call.get("args") or {}
            parts.append(ToolCall(calls.call(call["name"], call.get("id")), call["name"], _dumps(arguments)))
        elif (answer := _get(part, "functionResponse")) is not None:
            response = answer.get("response")
            text = _dumps(response) if response is not None else ""
            if isinstance(response, dict) and set(response) <= {"output", "content"}:
                value = response.get("output", response.get("content"))
                text = value if isinstance(value, str) else _dumps(value)
            parts.append(ToolResult(calls.answer(answer["name"], answer.get("id")), [Text(text)]))
    return parts


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _tools(raw: list[dict[str, Any]], dropped: dict[str, str]) -> list[Tool]:
    tools: list[Tool] = []
    for entry in raw:
        for kind in entry:
            if kind not in ("functionDeclarations", "function_declarations"):
                dropped[f"tools: {kind}"] = "a Google tool with no counterpart at this backend"
        for declaration in _get(entry, "functionDeclarations") or []:
            schema = _get(declaration, "parametersJsonSchema") or declaration.get("parameters")
            tools.append(
                Tool(
                    declaration["name"],
                    declaration.get("description") or "",
                    json_schema(schema) if schema else {"type": "object", "properties": {}},
                )
            )
    return tools


def _tool_choice(config: dict[str, Any]) -> ToolChoice | None:
    calling = _get(config, "functionCallingConfig") or {}
    mode = (calling.get("mode") or "").upper()
    allowed = _get(calling, "allowedFunctionNames") or []
    if mode in ("ANY", "VALIDATED") and len(allowed) == 1:
        return ToolChoice("tool", allowed[0])
    return {"AUTO": ToolChoice("auto"), "ANY": ToolChoice("required"), "NONE": ToolChoice("none")}.get(mode)


def _thinking(config: dict[str, Any]) -> str | None:
    thinking = _get(config, "thinkingConfig") or {}
    level = _get(thinking, "thinkingLevel")
    if isinstance(level, str) and level.lower() in _LEVELS:
        return _LEVELS[level.lower()]
    budget = _get(thinking, "thinkingBudget")
    if isinstance(budget, int):
        return "none" if budget == 0 else None if budget < 0 else effort_for_budget(budget)
    return None


def read_request(body: dict[str, Any]) -> Request:
    check_against(GEMINI_REQUEST, body)
    request = Request()
    system = _get(body, "systemInstruction")
    if isinstance(system, str):
        request.system.append(Text(system))
    elif isinstance(system, dict):
        text = "\n".join(
            p.get("text") or "" for p in system.get("parts") or [] if isinstance(p.get("text"), str)
        )
        if text:
            request.system.append(Text(text))
    contents = body.get("contents") or []
    calls = _Calls()
    for content in [contents] if isinstance(contents, dict) else contents:
        role = "assistant" if content.get("role") == "model" else "user"
        parts = _parts(content.get("parts") or [], calls, content.get("role") or "user")
        if not parts:
            continue
        if request.turns and request.turns[-1].role == role:
            request.turns[-1].parts += parts
        else:
            request.turns.append(Turn(role, parts))  # type: ignore[arg-type]
    if not request.turns:
        raise BadRequest("contents: nothing to answer (no part with text or data).")
    request.tools = _tools(body.get("tools") or [], request.dropped)
    request.tool_choice = _tool_choice(_get(body, "toolConfig") or {})
    config = _get(body, "generationConfig") or {}
    if (_get(config, "candidateCount") or 1) > 1:
        raise BadRequest("generationConfig.candidateCount: only 1 can be translated for this backend.")
    request.max_tokens = _get(config, "maxOutputTokens")
    request.temperature = config.get("temperature")
    request.top_p = _get(config, "topP")
    request.stop = list(_get(config, "stopSequences") or [])
    request.effort = _thinking(config)
    schema = _get(config, "responseJsonSchema") or _get(config, "responseSchema")
    if schema is not None and _get(config, "responseMimeType") == "application/json":
        request.json_schema = {"name": "output", "schema": json_schema(schema)}
    return request


# -- written for a backend of this API ---------------------------------------------------


def _data(url: str) -> dict[str, Any]:
    if found := DATA_URL.match(url):
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
        if choice is not None and (choice.mode != "tool" or choice.name):  # a nameless tool: no choice
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

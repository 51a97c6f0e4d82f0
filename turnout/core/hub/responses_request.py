"""An OpenAI Responses request (Codex CLI's only dialect) read into the hub.

What other bridges lost, kept here: custom (freeform) tools such as Codex's
``apply_patch`` become a function with one string argument for models without them, and
their calls come back as ``custom_tool_call``; ``namespace`` tools are flattened to
``<namespace>__<name>`` and their calls carry the namespace again; encrypted reasoning
items ride along tagged ``openai`` (only an OpenAI backend could read them). Hosted tools
(``web_search``, ``image_generation``, ``local_shell``…) have no counterpart at another
provider: they are dropped and named in ``Request.dropped``, never a crash.

Written for a Responses-only backend: reasoning asked for statelessly (``store: false``
with ``include: ["reasoning.encrypted_content"]``), so an OpenAI reasoning item rides back
to the client and returns on the next turn without turnout keeping anything; stop
sequences have no counterpart there: not sent, and said so.
"""

from __future__ import annotations

from typing import Any

from turnout.core.dialects.ids import upstream_tool_id
from turnout.core.dialects.validate import (
    ANY,
    BOOL,
    INT,
    JSON_OBJECT,
    SAMPLING,
    STR,
    ListOf,
    Obj,
    OneOf,
    Tagged,
    check_against,
)
from turnout.core.errors import BadRequest
from turnout.core.hub.conversation import (
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
)
from turnout.core.hub.seal import unseal
from turnout.core.hub.tools import ToolNames
from turnout.core.models import Quirks

__all__ = ["RESPONSES_REQUEST", "read_request", "write_request"]

_CONTENT_PART = Tagged(
    {
        "input_text": Obj({"text": STR}),
        "output_text": Obj({"text": STR}),
        "text": Obj({"text": STR}),
        "refusal": Obj({"refusal": STR}),
        "input_image": Obj({"image_url": STR, "file_id": STR}),
    }
)
_CONTENT = OneOf((STR, ListOf(_CONTENT_PART)))
_FUNCTION_TOOL = Obj({"name": STR, "description": STR, "parameters": JSON_OBJECT}, required=("name",))
_TOOL = Tagged(
    {
        "function": _FUNCTION_TOOL,
        "custom": Obj(
            {"name": STR, "description": STR, "format": Obj({"type": STR, "definition": STR})},
            required=("name",),
        ),
        "namespace": Obj({"name": STR, "tools": ListOf(Tagged({"function": _FUNCTION_TOOL}))}),
    }
)
_MESSAGE = Obj({"role": STR, "content": _CONTENT}, required=("role",))
_ITEM = Tagged(
    {
        "": _MESSAGE,  # an item with a role and no type is a message
        "message": _MESSAGE,
        "function_call": Obj(
            {"call_id": STR, "name": STR, "arguments": STR, "namespace": STR}, required=("call_id", "name")
        ),
        "function_call_output": Obj({"call_id": STR, "output": _CONTENT}, required=("call_id",)),
        "custom_tool_call": Obj(
            {"call_id": STR, "name": STR, "input": STR, "namespace": STR}, required=("call_id", "name")
        ),
        "custom_tool_call_output": Obj({"call_id": STR, "output": _CONTENT}, required=("call_id",)),
        "reasoning": Obj(
            {
                "id": STR,
                "summary": ListOf(Obj({"text": STR})),
                "content": ListOf(Obj({"text": STR})),
                "encrypted_content": STR,
            }
        ),
        "additional_tools": Obj({"tools": ListOf(_TOOL)}),
    }
)
RESPONSES_REQUEST = Obj(
    {
        "model": STR,
        "instructions": STR,
        "input": OneOf((STR, ListOf(_ITEM))),
        "tools": ListOf(_TOOL),
        "tool_choice": OneOf((STR, Obj({"type": STR, "name": STR, "mode": STR}))),
        "parallel_tool_calls": BOOL,
        "max_output_tokens": INT,
        "temperature": SAMPLING,
        "top_p": SAMPLING,
        "stream": BOOL,
        "reasoning": Obj({"effort": STR, "summary": STR}),
        "text": Obj({"format": Obj({"type": STR, "name": STR, "schema": JSON_OBJECT, "strict": BOOL})}),
        "previous_response_id": STR,
        "user": STR,
        "safety_identifier": STR,
        "metadata": ANY,
    }
)
_HOSTED_NOTE = "a hosted tool of OpenAI's with no counterpart at this backend"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(p.get("text") or p.get("refusal") or "" for p in content or [] if isinstance(p, dict))


def _parts(content: Any) -> list[Text | Image]:
    if isinstance(content, str):
        return [Text(content)] if content else []
    parts: list[Text | Image] = []
    for part in content or []:
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text") and part.get("text"):
            parts.append(Text(part["text"]))
        elif kind == "refusal" and part.get("refusal"):
            parts.append(Text(part["refusal"]))
        elif kind == "input_image" and part.get("image_url"):
            parts.append(Image(part["image_url"]))
        elif kind == "input_image":
            raise BadRequest("input_image by file_id cannot be sent to this backend; send image_url.")
    return parts


def _tools(raw: list[dict[str, Any]], dropped: dict[str, str], namespace: str | None = None) -> list[Tool]:
    tools: list[Tool] = []
    for tool in raw:
        kind = tool.get("type")
        if kind == "function":
            tools.append(
                Tool(
                    tool["name"],
                    tool.get("description") or "",
                    tool.get("parameters") or {"type": "object", "properties": {}},
                    namespace=namespace,
                )
            )
        elif kind == "custom":
            fmt = tool.get("format") or {}
            grammar = fmt.get("definition") if fmt.get("type") == "grammar" else None
            tools.append(Tool(tool["name"], tool.get("description") or "", custom=True, grammar=grammar))
        elif kind == "namespace" and namespace is None:
            tools += _tools(tool.get("tools") or [], dropped, tool.get("name") or None)
        else:
            dropped[f"tools: {kind}"] = _HOSTED_NOTE
    return tools


class _Turns:
    """Turns built item by item: consecutive items of one role share a turn."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []

    def add(self, role: str, parts: list[Part]) -> None:
        if not parts:
            return
        role = "assistant" if role == "assistant" else "user"
        if self.turns and self.turns[-1].role == role:
            self.turns[-1].parts.extend(parts)
        else:
            self.turns.append(Turn(role, parts))  # type: ignore[arg-type]


def _reasoning(item: dict[str, Any]) -> Reasoning:
    texts = [s.get("text") or "" for s in item.get("summary") or []]
    texts += [c.get("text") or "" for c in item.get("content") or []]
    return unseal(item.get("encrypted_content") or "", "\n".join(t for t in texts if t), item.get("id"))


def _items(items: list[dict[str, Any]], request: Request) -> None:
    turns = _Turns()
    for item in items:
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            if role in ("system", "developer"):
                if text := _text_of(item.get("content")):
                    request.system.append(Text(text))
            else:
                turns.add(role or "user", list(_parts(item.get("content"))))
        elif kind in ("function_call", "custom_tool_call"):
            custom = kind == "custom_tool_call"
            arguments = item.get("input") if custom else item.get("arguments")
            call = ToolCall(item["call_id"], item["name"], arguments or "", custom, item.get("namespace"))
            turns.add("assistant", [call])
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output")
            content = _parts(output) if output else []
            turns.add("user", [ToolResult(item["call_id"], content)])
        elif kind == "reasoning":
            turns.add("assistant", [_reasoning(item)])
        elif kind == "additional_tools":
            request.tools += _tools(item.get("tools") or [], request.dropped)
        else:
            request.dropped[f"input: {kind}"] = "an item no other provider can take"
    request.turns = turns.turns


def _tool_choice(choice: Any) -> ToolChoice | None:
    if choice in ("auto", "none", "required"):
        return ToolChoice(choice)
    if isinstance(choice, dict):
        if choice.get("type") in ("function", "custom") and choice.get("name"):
            return ToolChoice("tool", choice["name"])
        if choice.get("type") == "allowed_tools":
            return ToolChoice("required" if choice.get("mode") == "required" else "auto")
    return None


def read_request(body: dict[str, Any], history: list[dict[str, Any]] | None = None) -> Request:
    """``body`` as a hub ``Request``; ``history`` is the input items a
    ``previous_response_id`` stands for (the earlier input and output), read first."""
    check_against(RESPONSES_REQUEST, body)
    request = Request(stream=body.get("stream") is True)
    if instructions := body.get("instructions"):
        request.system.append(Text(instructions))
    raw = body.get("input")
    items: list[dict[str, Any]] = list(history or [])
    items += [{"type": "message", "role": "user", "content": raw}] if isinstance(raw, str) else raw or []
    request.tools = _tools(body.get("tools") or [], request.dropped)
    _items(items, request)
    if not request.turns:
        raise BadRequest("input: nothing to answer (no message in the input).")
    request.tool_choice = _tool_choice(body.get("tool_choice"))
    if isinstance(body.get("parallel_tool_calls"), bool):
        request.parallel_tools = body["parallel_tool_calls"]
    request.max_tokens = body.get("max_output_tokens")
    request.temperature = body.get("temperature")
    request.top_p = body.get("top_p")
    if effort := (body.get("reasoning") or {}).get("effort"):
        request.effort = effort
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        request.json_schema = {
            "name": fmt.get("name") or "output",
            "schema": fmt.get("schema") or {},
            "strict": fmt.get("strict"),
        }
    request.user = body.get("safety_identifier") or body.get("user")
    return request


# -- written for a backend of this API ---------------------------------------------------
def _content(parts: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, Text) and part.text:
            out.append({"type": "input_text", "text": part.text})
        elif isinstance(part, Image):
            out.append({"type": "input_image", "image_url": part.url})
        elif isinstance(part, File):
            out.append({"type": "input_file", "file_data": part.data_url, "filename": part.filename})
    return out


def _result_text(result: ToolResult) -> str:
    text = "\n".join(c.text for c in result.content if isinstance(c, Text) and c.text)
    return (f"Error: {text}" if text else "Error") if result.is_error else text


def write_request(
    request: Request, *, model: str, quirks: Quirks
) -> tuple[dict[str, Any], ToolNames, dict[str, str]]:
    names = ToolNames(shorten=True)
    adjusted = dict(request.dropped)
    items: list[dict[str, Any]] = []
    custom_calls: set[str] = set()
    for turn in request.turns:
        if turn.role == "user":
            results = [p for p in turn.parts if isinstance(p, ToolResult)]
            for result in results:
                call_id = upstream_tool_id(result.call_id)
                kind = "custom_tool_call_output" if call_id in custom_calls else "function_call_output"
                items.append({"type": kind, "call_id": call_id, "output": _result_text(result)})
            if content := _content([p for p in turn.parts if not isinstance(p, ToolResult)]):
                items.append({"type": "message", "role": "user", "content": content})
            continue
        for part in turn.parts:
            if isinstance(part, Text) and part.text:
                content = [{"type": "output_text", "text": part.text}]
                items.append({"type": "message", "role": "assistant", "content": content})
            elif isinstance(part, Reasoning) and part.origin == "openai" and part.encrypted:
                summary = [{"type": "summary_text", "text": part.text}] if part.text else []
                item: dict[str, Any] = {
                    "type": "reasoning",
                    "summary": summary,
                    "encrypted_content": part.encrypted,
                }
                if part.id:
                    item["id"] = part.id
                items.append(item)
            elif isinstance(part, ToolCall):
                call_id, name = upstream_tool_id(part.id), names.of_call(part)
                if part.custom:
                    custom_calls.add(call_id)
                    items.append(
                        {
                            "type": "custom_tool_call",
                            "call_id": call_id,
                            "name": name,
                            "input": part.arguments,
                        }
                    )
                else:
                    items.append(
                        {
                            "type": "function_call",
                            "call_id": call_id,
                            "name": name,
                            "arguments": part.arguments or "{}",
                        }
                    )
    out: dict[str, Any] = {"model": model, "input": items, "store": False}
    if system := "\n".join(t.text for t in request.system if t.text):
        out["instructions"] = system
    if request.tools:
        tools = []
        for tool in request.tools:
            name = names.of_tool(tool)
            if tool.custom:
                entry: dict[str, Any] = {"type": "custom", "name": name, "description": tool.description}
                if tool.grammar:
                    entry["format"] = {"type": "grammar", "syntax": "lark", "definition": tool.grammar}
            else:
                entry = {
                    "type": "function",
                    "name": name,
                    "description": tool.description,
                    "parameters": tool.schema,
                }
            tools.append(entry)
        out["tools"] = tools
        choice = request.tool_choice
        if choice is not None and choice.mode == "tool" and choice.name:
            out["tool_choice"] = {"type": "function", "name": names.name(choice.name)}
        elif choice is not None and choice.mode != "tool":  # a tool without a name: no choice
            out["tool_choice"] = choice.mode
        if request.parallel_tools is not None:
            out["parallel_tool_calls"] = request.parallel_tools
    if request.max_tokens is not None:
        out["max_output_tokens"] = min(request.max_tokens, quirks.max_tokens_cap or request.max_tokens)
    if request.temperature is not None:
        out["temperature"] = request.temperature
    if request.top_p is not None:
        out["top_p"] = request.top_p
    if request.stop:
        adjusted["stop"] = "not sent: the Responses API has no stop sequences"
    if request.effort:
        out["reasoning"] = {"effort": {"max": "high"}.get(request.effort, request.effort), "summary": "auto"}
        out["include"] = ["reasoning.encrypted_content"]
    if request.json_schema is not None:
        fmt = {"type": "json_schema", "name": request.json_schema.get("name") or "output"}
        out["text"] = {"format": {**fmt, "schema": request.json_schema.get("schema") or {}}}
    if quirks.forward_user_id and request.user:
        out["safety_identifier"] = request.user
    if request.stream:
        out["stream"] = True
    return out, names, adjusted

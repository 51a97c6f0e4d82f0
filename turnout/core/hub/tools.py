"""Tools as a backend without custom tools or namespaces sees them, and back.

A custom (freeform) tool is offered as a function with one string argument, ``input``;
its description carries the grammar the input must follow (the model cannot be forced
to it, but it can read it). A namespaced tool is one flat name. ``ToolNames`` keeps what
the response side needs to give the client its own tools back.
"""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.dialects.ids import shorten_tool_name
from turnout.core.hub.conversation import Tool, ToolCall

__all__ = ["CUSTOM_ARGUMENT", "ToolNames", "custom_description", "custom_input", "custom_schema"]

CUSTOM_ARGUMENT = "input"


def custom_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {CUSTOM_ARGUMENT: {"type": "string", "description": "The raw input, verbatim."}},
        "required": [CUSTOM_ARGUMENT],
    }


def custom_description(tool: Tool) -> str:
    note = f"Pass the raw text as the one argument `{CUSTOM_ARGUMENT}`, not JSON inside it."
    if tool.grammar:
        note += f" It must match this grammar (Lark):\n{tool.grammar}"
    return f"{tool.description}\n\n{note}" if tool.description else note


def custom_input(arguments: str) -> str:
    """A custom tool's raw input, from the arguments of the function it was offered as. A
    model that ignored the schema and wrote the raw text is taken at its word."""
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(parsed, dict) and isinstance(parsed.get(CUSTOM_ARGUMENT), str):
        return str(parsed[CUSTOM_ARGUMENT])
    return arguments


class ToolNames:
    """The names one request's tools have upstream, and what each stands for."""

    def __init__(self, shorten: bool) -> None:
        self.shorten = shorten
        self.upstream: dict[str, str] = {}  # upstream name → the client's flat name, when they differ
        self.custom: list[str] = []
        self.namespaces: dict[str, list[str]] = {}

    def name(self, name: str, namespace: str | None = None, *, custom: bool = False) -> str:
        flat = f"{namespace}__{name}" if namespace else name
        if namespace:
            self.namespaces[flat] = [namespace, name]
        if custom and flat not in self.custom:
            self.custom.append(flat)
        out = shorten_tool_name(flat) if self.shorten else flat
        if out != flat:
            self.upstream[out] = flat
        return out

    def of_tool(self, tool: Tool) -> str:
        return self.name(tool.name, tool.namespace, custom=tool.custom)

    def of_call(self, call: ToolCall) -> str:
        return self.name(call.name, call.namespace, custom=call.custom)

    def arguments(self, call: ToolCall) -> str:
        """The call's arguments as a function call's JSON text."""
        if call.custom:
            return orjson.dumps({CUSTOM_ARGUMENT: call.arguments}).decode()
        return call.arguments or "{}"

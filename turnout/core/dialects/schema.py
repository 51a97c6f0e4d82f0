"""JSON-schema cleanup for backends that accept only a subset (the Gemini family).

Gemini rejects ``$schema``, ``additionalProperties``, ``format`` values other than
``enum``/``date-time`` on strings, and objects with empty ``properties``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["clean_schema"]

_DROP = {
    "$schema",
    "additionalProperties",
    "$id",
    "$comment",
    "default",
    "examples",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "const",
    "strict",
}
_STRING_FORMATS = {"enum", "date-time"}


def clean_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [clean_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DROP:
            continue
        if key == "format" and schema.get("type") == "string" and value not in _STRING_FORMATS:
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: clean_schema(v) for name, v in value.items()}
        else:
            out[key] = clean_schema(value)
    if out.get("type") == "object" and not out.get("properties"):
        out.pop("properties", None)
        out.pop("required", None)
    return out

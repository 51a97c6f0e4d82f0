"""Request bodies: parsed once, and rewritten without re-serializing when possible.

Claude Code sends 100 KB to 1 MB bodies. Parsing uses orjson; a model rewrite splices
the new name into the original bytes so everything else passes through unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from turnout.core.errors import BadRequest

__all__ = ["parse_json_object", "replace_model", "requested_model"]


def parse_json_object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise BadRequest("The request body is empty; send a JSON object with a 'model' field.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"The request body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object with a 'model' field.")
    return data


def requested_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None or model == "":
        raise BadRequest("The request has no 'model' field; say which model to use.")
    if not isinstance(model, str):
        raise BadRequest(f"'model' must be a string (got {type(model).__name__}).")
    return model


def replace_model(raw: bytes, body: dict[str, Any], new: str) -> bytes:
    """``raw`` with its top-level ``model`` set to ``new``.

    The original bytes are kept and only the value is spliced in when the
    ``"model": "<old>"`` pair occurs exactly once; otherwise the body is re-serialized.
    """
    old = orjson.dumps(body["model"])
    pattern = re.compile(rb'"model"\s*:\s*' + re.escape(old))
    matches = list(pattern.finditer(raw))
    if len(matches) == 1:
        m = matches[0]
        return raw[: m.end() - len(old)] + orjson.dumps(new) + raw[m.end() :]
    return orjson.dumps({**body, "model": new})

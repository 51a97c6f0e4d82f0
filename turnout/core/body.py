"""Request bodies: parsed once, and rewritten without re-serializing when possible.

Claude Code sends 100 KB to 1 MB bodies. Parsing uses orjson; a model rewrite splices
the new name into the original bytes so everything else passes through unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from turnout.core.codec import DecodeError, decode
from turnout.core.errors import BadRequest, BodyTooLarge


def decode_body(raw: bytes, encoding: str, limit: int) -> bytes:
    """A request body decoded from its ``content-encoding``, never past ``limit`` bytes:
    a small gzip bomb is a 413 as soon as it passes the limit (``core/codec.py``)."""
    try:
        return decode(raw, encoding, limit)
    except DecodeError as e:
        if e.too_large:
            raise BodyTooLarge(
                f"The request body inflates past turnout's limit of {limit:,} bytes "
                "(limits.max_body_mb in the config)."
            ) from None
        raise BadRequest(f"Cannot decode the request body: {e}.") from None


__all__ = ["decode_body", "escaped_quote", "parse_json_object", "replace_model", "requested_model"]


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


MAX_MODEL = 256  # characters: provider ids are under 100; a name is logged, labelled, cached


def requested_model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None or model == "":
        raise BadRequest("The request has no 'model' field; say which model to use.")
    if not isinstance(model, str):
        raise BadRequest(f"'model' must be a string (got {type(model).__name__}).")
    if len(model) > MAX_MODEL:
        raise BadRequest(f"'model' is {len(model):,} characters long; model ids are under {MAX_MODEL}.")
    return model


# A JSON key that decodes to "model", in any spelling: each letter literal or \\uXXXX (no
# short escape stands for a letter). In valid JSON a string followed by ":" is a key.
_MODEL_KEY = re.compile(
    rb'"(?:m|\\u006[dD])(?:o|\\u006[fF])(?:d|\\u0064)(?:e|\\u0065)(?:l|\\u006[cC])"\s*:\s*'
)
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)


def replace_model(raw: bytes, body: dict[str, Any], new: str) -> bytes:
    """``raw`` with its top-level ``model`` set to ``new``, and nothing else changed.

    When the document has exactly one key named ``model`` (in any spelling), it is the
    top-level one: the new value is spliced into the original bytes, so everything else
    passes through unchanged. A nested, escaped or duplicated ``model`` key anywhere makes
    that ambiguous (parsers disagree on duplicates), so the body is re-serialized instead,
    which leaves exactly one top-level ``model``.
    """
    keys = [m for m in _MODEL_KEY.finditer(raw) if not escaped_quote(raw, m.start())]
    if len(keys) == 1:
        value = _STRING.match(raw, keys[0].end())
        if value is not None and orjson.loads(value.group()) == body["model"]:
            return raw[: value.start()] + orjson.dumps(new) + raw[value.end() :]
    return orjson.dumps({**body, "model": new})


def escaped_quote(raw: bytes, at: int) -> bool:
    """Whether the quote at ``at`` is escaped (preceded by an odd number of backslashes)."""
    slashes = 0
    while at - slashes - 1 >= 0 and raw[at - slashes - 1] == 0x5C:
        slashes += 1
    return slashes % 2 == 1

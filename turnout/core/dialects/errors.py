"""Upstream error bodies into the client's dialect, keeping the status and the message."""

from __future__ import annotations

from typing import Any

import orjson

from turnout.core.errors import error_body
from turnout.core.models import Dialect

__all__ = ["stream_error_event", "translate_error", "upstream_message"]


def upstream_message(body: bytes, status: int) -> str:
    """The provider's own message, from either dialect's body, or a plain fallback."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        return text[:500] if text else f"Upstream error (HTTP {status})"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return f"Upstream error (HTTP {status})"


def translate_error(body: bytes, status: int, client: Dialect) -> bytes:
    return error_body(client, status, upstream_message(body, status))


def stream_error_event(dialect: Dialect, status: int, message: str) -> bytes:
    """The event that ends a broken stream in ``dialect``: Anthropic's ``event: error``
    (the SDK raises on it), OpenAI's ``data: {"error": …}`` chunk (likewise)."""
    body = error_body(dialect, status, message)
    return (b"event: error\ndata: " if dialect == "anthropic" else b"data: ") + body + b"\n\n"

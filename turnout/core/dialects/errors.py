"""Upstream error bodies into the client's dialect, keeping the status and the message."""

from __future__ import annotations

import re
from typing import Any

import orjson

from turnout.core.errors import error_body
from turnout.core.models import Dialect

__all__ = ["stream_error_event", "translate_error", "upstream_message"]


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)
_TAG = re.compile(rb"<[^>]*>")


def _plain(body: bytes, status: int) -> str:
    """A body that is not JSON, said in a line: an HTML page by its title (load balancers
    and proxies send those), any other text by its start."""
    head = body[:65536]
    if head.lstrip()[:1] == b"<":
        title = _TITLE.search(head)
        text = title.group(1) if title else _TAG.sub(b" ", head)
        words = " ".join(text.decode("utf-8", "replace").split())[:200]
        return (
            f"The backend answered HTTP {status} with an HTML page" + (f" ({words})" if words else "") + "."
        )
    text = " ".join(head[:2000].decode("utf-8", "replace").split())[:500]
    return text or f"Upstream error (HTTP {status})"


def upstream_message(body: bytes, status: int) -> str:
    """The provider's own message, from either dialect's body, or a plain fallback."""
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _plain(body, status)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:2000]
    if isinstance(error, str):
        return error[:2000]
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])[:2000]
    return f"Upstream error (HTTP {status})"


def translate_error(body: bytes, status: int, client: Dialect) -> bytes:
    return error_body(client, status, upstream_message(body, status))


def stream_error_event(dialect: Dialect, status: int, message: str, api: str = "") -> bytes:
    """The event that ends a broken stream in ``dialect``: Anthropic's ``event: error``
    (the SDK raises on it), OpenAI's ``data: {"error": …}`` chunk (likewise), or for the
    Responses API (``api``) its ``error`` event, which Codex and the SDK report."""
    body = error_body(dialect, status, message)
    if api == "responses":
        error = orjson.loads(body)["error"]
        event = {"type": "error", "code": error["code"] or error["type"], "message": message, "param": None}
        return b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"
    return (b"event: error\ndata: " if dialect == "anthropic" else b"data: ") + body + b"\n\n"

"""turnout's one exception tree, and the error bodies clients see.

    TurnoutError
    ├── ConfigError          the config file or environment is wrong (startup, reload)
    ├── RequestError         the client sent something we cannot route (4xx)
    │   ├── BadRequest         malformed JSON, missing model, wrong dialect … (400)
    │   ├── Unauthorized       TURNOUT_API_KEY is set and the client did not send it (401)
    │   ├── Forbidden          a web page's origin, or a host name turnout does not serve (403)
    │   ├── UnsupportedMediaType  an API request that is not JSON (415)
    │   ├── LoopDetected       the request already passed through this turnout (508)
    │   ├── NoRouteError       no backend serves the model (404)
    │   ├── NotFound           no such local endpoint (404)
    │   ├── BodyTooLarge       body over ``limits.max_body_bytes`` (413)
    │   └── KeysExhausted      every key cooling and the queue timed out or is full (429)
    ├── UpstreamError        the backend failed us (5xx)
    │   ├── BackendUnreachable  connection refused / DNS / TLS (502)
    │   ├── BadUpstreamResponse  an answer cut off, unreadable or too large (502)
    │   └── BackendTimeout      no response within the backend's timeout (504)
    └── InternalError        turnout itself failed; nothing was forwarded (500)

Every error carries the HTTP status it maps to, so the one boundary that turns errors
into responses (``error_body``) never guesses. Messages say what to do next.
"""

from __future__ import annotations

import traceback

import orjson

from turnout.core.models import Dialect

__all__ = [
    "BackendTimeout",
    "BackendUnreachable",
    "BadRequest",
    "BadUpstreamResponse",
    "BodyTooLarge",
    "ConfigError",
    "Forbidden",
    "InternalError",
    "KeysExhausted",
    "LoopDetected",
    "NoRouteError",
    "NotFound",
    "RequestError",
    "TurnoutError",
    "Unauthorized",
    "UnsupportedMediaType",
    "UpstreamError",
    "brief",
    "error_body",
    "short_traceback",
]


class TurnoutError(Exception):
    status: int = 500
    code: str | None = None  # OpenAI's error ``code``; by status when None

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after  # seconds; sent as the retry-after header


class ConfigError(TurnoutError):
    """A config problem; the message names the file, the key path and what is wrong."""


class RequestError(TurnoutError):
    status = 400


class BadRequest(RequestError):
    status = 400


class Unauthorized(RequestError):
    status = 401


class Forbidden(RequestError):
    status = 403


class UnsupportedMediaType(RequestError):
    status = 415


class LoopDetected(RequestError):
    status = 508


class NotFound(RequestError):
    status = 404


class NoRouteError(RequestError):
    status = 404


class BodyTooLarge(RequestError):
    status = 413


class KeysExhausted(RequestError):
    status = 429


class UpstreamError(TurnoutError):
    status = 502


class BackendUnreachable(UpstreamError):
    status = 502
    code = "backend_unreachable"


class BadUpstreamResponse(UpstreamError):
    """The backend answered, but not so a client could use it: cut off, unreadable, too large."""

    status = 502
    code = "backend_bad_response"


class BackendTimeout(UpstreamError):
    status = 504
    code = "backend_timeout"


class InternalError(TurnoutError):
    """A concern of turnout's chain raised; the proxy log has the traceback."""

    status = 500


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_OPENAI_CODES = {
    401: "invalid_api_key",
    404: "model_not_found",
    413: "request_too_large",
    429: "rate_limit_exceeded",
    502: "backend_error",
    504: "backend_timeout",
}


def error_body(dialect: Dialect, status: int, message: str, code: str | None = None) -> bytes:
    """The JSON error body a client of ``dialect`` expects for ``status``.

    Anthropic: ``{"type":"error","error":{"type","message"}}``; OpenAI:
    ``{"error":{"message","type","param","code"}}``; Gemini: ``{"error":{"code","message",
    "status"}}``. The official SDKs read these.
    """
    if dialect == "gemini":
        state = _GEMINI_STATUS.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
        return orjson.dumps({"error": {"code": status, "message": message, "status": state}})
    if dialect == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return orjson.dumps(
        {
            "error": {
                "message": message,
                "type": kind,
                "param": None,
                "code": code or _OPENAI_CODES.get(status),
            }
        }
    )


def brief(text: str, limit: int = 300) -> str:
    """``text`` cut to ``limit`` characters: messages that quote what a client or an
    upstream sent must not carry a megabyte of it into a log or a response."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def short_traceback(e: BaseException, lines: int = 60) -> str:
    """``e``'s traceback for the log, its last ``lines`` lines, each cut with ``brief``."""
    text = "".join(traceback.format_exception(e)).splitlines()
    return "\n".join(brief(line) for line in text[-lines:])

"""The HTTP endpoints turnout serves, and which dialect each one speaks.

Clients configured with a bare base URL (``http://127.0.0.1:3456``) call
``/chat/completions``; others call ``/v1/chat/completions``. Both are accepted and
normalized to the ``/v1`` form. Query strings (Claude Code's ``?beta=true``) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from turnout.core.models import Dialect

__all__ = ["LOCAL", "Endpoint", "classify", "client_dialect", "intake"]


@dataclass(frozen=True)
class Endpoint:
    name: str
    dialect: Dialect
    path: str  # normalized, /v1/...


_PROXIED = {
    "/v1/messages": Endpoint("messages", "anthropic", "/v1/messages"),
    "/v1/messages/count_tokens": Endpoint("count_tokens", "anthropic", "/v1/messages/count_tokens"),
    "/v1/chat/completions": Endpoint("chat", "openai", "/v1/chat/completions"),
    "/v1/embeddings": Endpoint("embeddings", "openai", "/v1/embeddings"),
    "/v1/responses": Endpoint("responses", "openai", "/v1/responses"),
}


def classify(path: str) -> Endpoint | None:
    """The routed endpoint at ``path`` (query ignored), or None."""
    path = path.split("?", 1)[0].rstrip("/")
    if not path.startswith("/v1/"):
        path = "/v1" + path
    return _PROXIED.get(path)


LOCAL = frozenset(
    {"/health", "/api/hello", "/status", "/accounts", "/metrics", "/analytics", "/v1/models", "/models"}
)  # read with GET or HEAD, answered in place (addons/endpoints.py), never recorded


def intake(method: str, path: str, anthropic_version: bool) -> Endpoint | None:
    """What a request is, for its exchange and its analytics row: a routed endpoint; None
    for a read of a local endpoint; anything else an ``unknown`` endpoint that is refused
    (404) and recorded, in the dialect the client seems to speak."""
    if (endpoint := classify(path)) is not None:
        return endpoint
    bare = path.split("?", 1)[0].rstrip("/") or "/"
    if method in ("GET", "HEAD") and bare in LOCAL:
        return None
    return Endpoint("unknown", "anthropic" if anthropic_version else "openai", bare[:200])


def client_dialect(path: str, headers_have_anthropic_version: bool) -> Dialect:
    """The dialect to answer in: the endpoint's, else Anthropic if the client says so."""
    if endpoint := classify(path):
        return endpoint.dialect
    return "anthropic" if headers_have_anthropic_version else "openai"

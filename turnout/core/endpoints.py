"""The HTTP endpoints turnout serves, and which dialect each one speaks.

Clients configured with a bare base URL (``http://127.0.0.1:3456``) call
``/chat/completions``; others call ``/v1/chat/completions``. Both are accepted and
normalized to the ``/v1`` form. Query strings (Claude Code's ``?beta=true``) are ignored.
Gemini's API names the model in the path (``/v1beta/models/<model>:generateContent``,
also under ``/v1``, which Google's SDK uses with a custom base URL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from turnout.core.models import Dialect

__all__ = ["API_OF_ENDPOINT", "GEMINI_MODELS", "LOCAL", "Endpoint", "classify", "client_dialect", "intake"]


@dataclass(frozen=True)
class Endpoint:
    name: str
    dialect: Dialect
    path: str  # normalized: /v1/… (Gemini: /v1beta/models/<model>:<method>)
    model: str | None = None  # Gemini names the model in the path, not the body

    @property
    def name_in_path(self) -> str | None:
        """Gemini's method, as its path names it (``generateContent``…)."""
        return self.path.rsplit(":", 1)[1] if self.model is not None else None

    @property
    def stream(self) -> bool | None:
        """Whether the path itself asks for a stream (Gemini's); None: the body says."""
        return True if self.name == "gemini_stream" else None


_PROXIED = {
    "/v1/messages": Endpoint("messages", "anthropic", "/v1/messages"),
    "/v1/messages/count_tokens": Endpoint("count_tokens", "anthropic", "/v1/messages/count_tokens"),
    "/v1/chat/completions": Endpoint("chat", "openai", "/v1/chat/completions"),
    "/v1/embeddings": Endpoint("embeddings", "openai", "/v1/embeddings"),
    "/v1/responses": Endpoint("responses", "openai", "/v1/responses"),
}


_GEMINI = re.compile(  # the model may hold a colon itself (turnout's ``backend:model``)
    r"^/(?:v1beta|v1)/models/([^/]{1,512}):(generateContent|streamGenerateContent|countTokens)$"
)
_GEMINI_NAMES = {
    "generateContent": "gemini",
    "streamGenerateContent": "gemini_stream",
    "countTokens": "gemini_count",
}
GEMINI_MODELS = frozenset({"/v1beta/models"})  # Gemini's model list (a local read)
API_OF_ENDPOINT = {  # the API a routed endpoint belongs to (a backend's ``wire`` is one too)
    "messages": "messages",
    "count_tokens": "messages",
    "chat": "chat",
    "embeddings": "chat",
    "responses": "responses",
    "gemini": "gemini",
    "gemini_stream": "gemini",
    "gemini_count": "gemini",
}


def classify(path: str) -> Endpoint | None:
    """The routed endpoint at ``path`` (query ignored), or None."""
    path = path.split("?", 1)[0].rstrip("/")
    if ":" in path and (found := _GEMINI.match(path)) is not None:
        model, method = unquote(found.group(1)), found.group(2)
        return Endpoint(_GEMINI_NAMES[method], "gemini", f"/v1beta/models/{model}:{method}", model)
    if not path.startswith("/v1/"):
        path = "/v1" + path
    return _PROXIED.get(path)


LOCAL = frozenset(
    {"/health", "/api/hello", "/status", "/accounts", "/metrics", "/analytics", "/v1/models", "/models"}
    | GEMINI_MODELS
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
    return Endpoint("unknown", client_dialect(path, anthropic_version), bare[:200])


def client_dialect(path: str, headers_have_anthropic_version: bool) -> Dialect:
    """The dialect to answer in: the endpoint's, else Anthropic if the client says so,
    Gemini's under ``/v1beta``."""
    if endpoint := classify(path):
        return endpoint.dialect
    if headers_have_anthropic_version:
        return "anthropic"
    return "gemini" if path.startswith("/v1beta/") else "openai"

"""The one builder of the request a backend receives, for the first try and every retry.

From the client's request (an ``Exchange``) and where it goes (a ``Placement``): the
URL (scheme, host, port and path under the backend's base URL), the headers (the
client's, minus its credentials and the other dialect's headers, plus the backend's
credential and required headers), and the body — the client's bytes untouched when
nothing changes, the model spliced in when a rule rewrites it, or the whole request
translated when the backend speaks another dialect. The glue applies it to the live
mitmproxy request (first try) or sends it with ``sender`` (retries): the same bytes
either way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import orjson

from turnout.core.body import replace_model
from turnout.core.dialects.context import Context
from turnout.core.dialects.translate import backend_path, translate_request, translated
from turnout.core.exchange import Exchange
from turnout.core.headers import Fields, header_value, rewrite
from turnout.core.hub.cleaning import clean_messages
from turnout.core.hub.gemini_upstream import gemini_path
from turnout.core.placement import Placement
from turnout.core.recall import ResponseMemory
from turnout.core.routing import Target
from turnout.core.scrub import Scrubbed

__all__ = ["UpstreamRequest", "build_upstream", "credential_headers"]

ANTHROPIC_VERSION = b"2023-06-01"
ANTHROPIC_ONLY = frozenset(
    {b"anthropic-version", b"anthropic-beta", b"anthropic-dangerous-direct-browser-access"}
)
_HOST = frozenset({b"host"})
# A client's own identifiers (Codex's installation, session and thread ids, Claude Code's
# session, Google's client tags): for its own provider, not for another one.
_CLIENT_IDENTITY = (b"x-codex-", b"x-claude-code-", b"x-goog-", b"x-gemini-", b"x-stainless-")
_CLIENT_IDENTITY_NAMES = frozenset({b"session-id", b"thread-id", b"x-client-request-id", b"originator"})
_REENCODED = frozenset({b"content-type", b"content-encoding", b"content-length", b"accept-encoding"})
_JSON_IDENTITY: Fields = ((b"content-type", b"application/json"), (b"accept-encoding", b"identity"))


@dataclass(frozen=True)
class UpstreamRequest:
    method: str
    target: Target  # scheme, host, port and the Host header's authority
    path: str
    fields: Fields  # every header but Host; the credential included
    body: bytes
    body_changed: bool  # False: the client's bytes (as received) go through untouched
    translation: Context | None  # the response side's context, when the dialects differ
    adjusted: dict[str, str]  # what the request lost or had changed for the backend, and why
    secret: frozenset[bytes] = frozenset()  # the credential's and the configured headers' names

    @property
    def url(self) -> str:
        return f"{self.target.scheme}://{self.target.authority}{self.path}"


@functools.lru_cache(maxsize=256)
def credential_headers(
    kind: str, key: str | None, extra: tuple[tuple[str, str], ...]
) -> tuple[frozenset[bytes], Fields]:
    """The headers a backend's requests lose and gain: its credential (``x-api-key`` for
    Anthropic, ``x-goog-api-key`` for Gemini, ``Authorization: Bearer`` for the rest), its
    configured ``headers``, and
    ``Host`` (which follows the URL).
    Computed once per backend and key; the CLI's probes use it too."""
    extra_fields = tuple((k.lower().encode(), v.encode()) for k, v in extra)
    drop = frozenset(k for k, _ in extra_fields) | _HOST  # the Host follows the URL
    if kind == "anthropic":
        credential: Fields = ((b"x-api-key", key.encode()),) if key else ()
        drop |= {b"x-api-key"}
    elif kind == "gemini":
        credential = ((b"x-goog-api-key", key.encode()),) if key else ()
        drop |= ANTHROPIC_ONLY | {b"x-goog-api-key", b"authorization"}
    else:
        credential = ((b"authorization", b"Bearer " + key.encode()),) if key else ()
        drop |= ANTHROPIC_ONLY | {b"authorization"}
    return drop, credential + extra_fields


def _identities(fields: Fields) -> frozenset[bytes]:
    """The client-identifying headers ``fields`` holds (see ``_CLIENT_IDENTITY``)."""
    found = set()
    for name, _ in fields:
        lower = name.lower()
        if lower in _CLIENT_IDENTITY_NAMES or lower.startswith(_CLIENT_IDENTITY):
            found.add(lower)
    return frozenset(found)


def build_upstream(
    exchange: Exchange,
    placement: Placement,
    *,
    hop: str = "turnout",
    method: str = "POST",
    window: int | None = None,
    memory: ResponseMemory | None = None,
    scrubbed: Scrubbed | None = None,
) -> UpstreamRequest:
    """The request ``placement``'s backend gets for ``exchange`` (see the module docstring).

    ``hop`` names this turnout in a ``Via`` header (another turnout down the line refuses
    a request that loops back through it); ``window`` is the context the backend is known
    to have, for capping ``max_tokens``; ``memory`` keeps Responses answers for
    ``previous_response_id``; ``scrubbed``: the body with its secrets replaced
    (``core/scrub.py``), sent instead of the client's."""
    backend, model, decision = placement.backend, placement.model, exchange.decision
    assert decision is not None and exchange.body is not None
    drop, add = credential_headers(backend.kind, placement.state.spec.key, backend.headers)
    secret = frozenset(name for name, _ in add)
    fields, path = exchange.fields, exchange.endpoint.path
    body, changed, translation = exchange.wire, False, None
    raw = exchange.raw
    if scrubbed is not None:
        raw = body = scrubbed.raw
        changed, drop = True, drop | {b"content-encoding", b"content-length"}
    adjusted: dict[str, str] = {}
    if translated(exchange.endpoint.name, backend):
        body, translation = translate_request(
            _source(exchange, scrubbed),
            endpoint=exchange.endpoint.name,
            backend=backend,
            model=model,
            requested=decision.requested,
            window=window,
            memory=memory,
        )
        changed, path = True, backend_path(backend, model, exchange.stream)
        drop, add = drop | _REENCODED | _identities(fields), add + _JSON_IDENTITY
    elif exchange.endpoint.model is not None:  # Gemini's own: the model is named in the path
        path = gemini_path(model, exchange.stream, exchange.endpoint.name_in_path)
    elif model != decision.requested:
        cleaned = None
        if backend.wire == "messages" and exchange.endpoint.name == "messages":
            cleaned = clean_messages(
                _source(exchange, scrubbed),
                model=model,
                other_model=True,
                quirks=backend.quirks,
                adjusted=adjusted,
            )
        if cleaned is not None:
            body = orjson.dumps({**cleaned, "model": model})
        else:
            body = replace_model(raw, _source(exchange, scrubbed), model)
        changed, drop = True, drop | {b"content-encoding", b"content-length"}  # sent as they are
    if exchange.stream and translation is None:  # turnout reads every event: ask for them plain
        drop, add = drop | {b"accept-encoding"}, (*add, (b"accept-encoding", b"identity"))
    if backend.kind == "anthropic" and header_value(fields, b"anthropic-version") is None:
        add = (*add, (b"anthropic-version", ANTHROPIC_VERSION))
    add = (*add, (b"via", b"1.1 " + hop.encode()))
    target = placement.state.target
    if translation is not None:
        adjusted = translation.adjusted
    fields = rewrite(fields, drop, add)
    return UpstreamRequest(
        method, target, target.path(path), fields, body, changed, translation, adjusted, secret
    )


def _source(exchange: Exchange, scrubbed: Scrubbed | None) -> dict[str, Any]:
    """The body to build from: the client's, or the scrubbed one (parsed only when asked)."""
    if scrubbed is not None:
        return scrubbed.body
    assert exchange.body is not None
    return exchange.body

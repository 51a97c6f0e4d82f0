"""Puts the backend's own credential and required headers on the outgoing request.

Anthropic gets ``x-api-key`` and ``anthropic-version``; OpenAI-style backends get
``Authorization: Bearer``. ``anthropic-beta`` goes only to Anthropic backends. A flow
that reaches this point without a routing decision is refused, never forwarded.
"""

from __future__ import annotations

import functools

from mitmproxy import http

from turnout.addons._flows import Meta, fail_closed
from turnout.core.headers import Fields, header_value, rewrite
from turnout.core.runtime import Runtime

ANTHROPIC_VERSION = b"2023-06-01"
ANTHROPIC_ONLY = frozenset(
    {b"anthropic-version", b"anthropic-beta", b"anthropic-dangerous-direct-browser-access"}
)


class Credentials:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @fail_closed
    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        name = flow.metadata.get(Meta.backend)
        if name is None:
            raise RuntimeError("request reached the credentials stage without a routing decision")
        backend = self.runtime.config.backends[name]
        state = self.runtime.pool.state(name, flow.metadata.get(Meta.key, "")) if self.runtime.pool else None
        key = state.spec.key if state else backend.key
        drop, add = outgoing(backend.kind, key, backend.headers)
        fields = flow.request.headers.fields
        if backend.kind == "anthropic" and header_value(fields, b"anthropic-version") is None:
            add += ((b"anthropic-version", ANTHROPIC_VERSION),)
        flow.request.headers.fields = rewrite(fields, drop, add)  # one pass, not a rescan per header


@functools.lru_cache(maxsize=256)
def outgoing(
    kind: str, key: str | None, extra: tuple[tuple[str, str], ...]
) -> tuple[frozenset[bytes], Fields]:
    """The headers a backend's requests lose and gain: computed once per backend and key."""
    extra_fields = tuple((k.lower().encode(), v.encode()) for k, v in extra)
    drop = frozenset(k for k, _ in extra_fields)
    if kind == "anthropic":
        credential: Fields = ((b"x-api-key", key.encode()),) if key else ()
        drop |= {b"x-api-key"}
    else:
        credential = ((b"authorization", b"Bearer " + key.encode()),) if key else ()
        drop |= ANTHROPIC_ONLY | {b"authorization"}
    return drop, credential + extra_fields

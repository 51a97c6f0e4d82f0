"""Puts the backend's own credential and required headers on the outgoing request.

Anthropic gets ``x-api-key`` and ``anthropic-version``; OpenAI-style backends get
``Authorization: Bearer``. ``anthropic-beta`` goes only to Anthropic backends. A flow
that reaches this point without a routing decision is refused, never forwarded.
"""

from __future__ import annotations

from mitmproxy import http

from turnout.addons._flows import META, fail_closed
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
        name = flow.metadata.get(META + "backend")
        if name is None:
            raise RuntimeError("request reached the credentials stage without a routing decision")
        backend = self.runtime.config.backends[name]
        state = (
            self.runtime.pool.state(name, flow.metadata.get(META + "key", "")) if self.runtime.pool else None
        )
        key = state.spec.key if state else backend.key
        headers = flow.request.headers
        fields = headers.fields
        extra: Fields = tuple((k.lower().encode(), v.encode()) for k, v in backend.headers)
        drop = frozenset(k for k, _ in extra)
        if backend.kind == "anthropic":
            add: Fields = ((b"x-api-key", key.encode()),) if key else ()
            if header_value(fields, b"anthropic-version") is None:
                add += ((b"anthropic-version", ANTHROPIC_VERSION),)
            drop |= {b"x-api-key"}
        else:
            add = ((b"authorization", b"Bearer " + key.encode()),) if key else ()
            drop |= ANTHROPIC_ONLY | {b"authorization"}
        headers.fields = rewrite(fields, drop, add + extra)  # one pass, not a rescan per header

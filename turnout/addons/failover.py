"""Failover inside a buffered request: on 429, 5xx, an unreachable backend, a timeout or
a "context too long" error, try the next key, then the route's fallbacks, in the same
request, translating when a fallback speaks the other dialect.

mitmproxy cannot re-run a flow, so retries go out through one shared ``httpx``
client and their answer replaces the flow's response (or, after a connection failure,
becomes the prepared reply; see ``upstream_errors``). Streaming requests are placed by
headroom up front instead: a 429 reaches the client at once with ``retry-after`` and the
key cools, so the client's own retry lands elsewhere. ``x-turnout-attempts`` and the
flow comment tell the story.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from mitmproxy import http

from turnout.addons._flows import Meta, fail_closed
from turnout.addons.credentials import Credentials
from turnout.addons.router import Original, Router
from turnout.addons.upstream_errors import REPLY, assemble_response
from turnout.core.dialects.context import Context
from turnout.core.dialects.errors import upstream_message
from turnout.core.dialects.translate import translate_response
from turnout.core.models import Backend
from turnout.core.pool import Placement
from turnout.core.runtime import Runtime

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
CONTEXT_TOO_LONG = re.compile(
    r"context (length|window)|too long|too many (input )?tokens|maximum context|prompt is too long", re.I
)
ATTEMPTS = "x-turnout-attempts"
_DROP = frozenset({b"content-length", b"content-encoding", b"transfer-encoding", b"connection"})


class Failover:
    def __init__(self, runtime: Runtime, router: Router, credentials: Credentials) -> None:
        self.runtime, self.router, self.credentials = runtime, router, credentials
        self._client: httpx.AsyncClient | None = None

    async def done(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    @fail_closed
    def response(self, flow: http.HTTPFlow) -> Any:
        original = self.router.originals.pop(flow.id, None)
        response = flow.response
        if response is None or response.stream or Meta.key not in flow.metadata:
            return None
        if original is None or response.status_code < 400:
            return None
        if not self._retryable(response.status_code, response.get_content(strict=False)):
            return None
        return self._retry_into_response(flow, original)

    async def _retry_into_response(self, flow: http.HTTPFlow, original: Original) -> None:
        assert flow.response is not None
        reason = f"HTTP {flow.response.status_code}"
        result = await self._retry(flow, original, reason, self._context_too_long(flow.response))
        if result is not None:
            flow.response = result

    def error(self, flow: http.HTTPFlow) -> Any:
        original = self.router.originals.pop(flow.id, None)
        if original is None or flow.response is not None or Meta.key not in flow.metadata:
            return None
        if flow.error and "Client disconnected" in flow.error.msg:
            return None
        return self._retry_into_reply(flow, original)

    async def _retry_into_reply(self, flow: http.HTTPFlow, original: Original) -> None:
        reason = "timed out" if flow.metadata.get(Meta.timed_out) else "unreachable"
        result = await self._retry(flow, original, reason, False)
        if result is None:
            return
        if ctx := flow.metadata.get(Meta.translation):  # no response hook follows an error: translate here
            result.content = translate_response(
                result.content or b"", result.status_code, Context.from_metadata(ctx)
            )
            result.headers["content-type"] = "application/json"
        setattr(flow.request, REPLY, assemble_response(result))

    def _retryable(self, status: int, content: bytes | None) -> bool:
        return status in RETRY_STATUSES or (
            status in (400, 413) and bool(CONTEXT_TOO_LONG.search(upstream_message(content or b"", status)))
        )

    def _context_too_long(self, response: http.Response) -> bool:
        """A retryable 400/413 is a context-length complaint: other keys of the same backend
        would refuse it too, so the next try skips to a fallback."""
        return response.status_code in (400, 413)

    async def _retry(
        self, flow: http.HTTPFlow, original: Original, reason: str, skip_backend: bool
    ) -> http.Response | None:
        """Later attempts; the last answer (success or not) or None if nothing else could be tried."""
        budget = self.runtime.config.pool.attempts
        attempts = 1
        last: http.Response | None = None
        candidates = self.router.candidates(original.decision)
        failed_backend = flow.metadata.get(Meta.backend)
        while attempts < budget:
            placement = self._next(candidates, original, failed_backend if skip_backend else None)
            if placement is None:
                break
            attempts += 1
            flow.metadata[Meta.attempts] = attempts
            scratch = self._prepare(flow, original, placement)
            flow.comment += (
                f" ⟳ {reason}; attempt {attempts}: {placement.backend.name}/{placement.state.alias}"
            )
            answer, failure = await self._send(scratch, placement)
            now = time.time()
            pool = self.runtime.pool
            assert pool is not None
            if answer is None:
                pool.observe_failure(placement.state, failure, now)
                reason, skip_backend = failure, False
                continue
            pool.observe(placement.state, answer.status_code, answer.headers, now)
            self._adopt(flow, scratch)
            answer.headers[ATTEMPTS] = str(attempts)
            last = answer
            if not self._retryable(answer.status_code, answer.content):
                return answer
            reason, skip_backend = f"HTTP {answer.status_code}", self._context_too_long(answer)
            failed_backend = placement.backend.name
        if last is None and flow.response is not None:
            flow.response.headers[ATTEMPTS] = str(attempts)
        return last

    def _next(
        self, candidates: list[tuple[Backend, str]], original: Original, skip: str | None
    ) -> Placement | None:
        pool, now = self.runtime.pool, time.time()
        assert pool is not None
        for backend, model in candidates:
            if backend.name == skip:
                continue
            if state := pool.pick(backend.name, now, exclude=frozenset(original.tried)):
                original.tried.add((backend.name, state.alias))
                return Placement(state, backend, model)
        return None

    def _prepare(self, flow: http.HTTPFlow, original: Original, placement: Placement) -> http.HTTPFlow:
        """A scratch copy of the flow, routed to ``placement`` by the same code as the first try."""
        scratch = http.HTTPFlow(flow.client_conn, flow.server_conn)
        scratch.request = flow.request.copy()
        scratch.request.headers.fields = original.fields
        scratch.request.content = original.raw
        scratch.metadata = {k: v for k, v in flow.metadata.items() if k != Meta.translation}
        scratch.comment = ""
        self.router.forward(scratch, original, placement)
        self.credentials.request(scratch)
        scratch.request.headers["accept-encoding"] = "identity"
        return scratch

    async def _send(self, scratch: http.HTTPFlow, placement: Placement) -> tuple[http.Response | None, str]:
        if self._client is None:
            self._client = httpx.AsyncClient(http2=False)
        request = scratch.request
        headers = [
            (k, v)
            for k, v in request.headers.items(multi=True)
            if k.lower() not in ("host", "content-length")
        ]
        try:
            r = await self._client.request(
                request.method,
                request.url,
                headers=headers,
                content=request.raw_content,
                timeout=placement.backend.timeout,
            )
        except httpx.TimeoutException:
            return None, "timed out"
        except httpx.HTTPError as e:
            return None, f"unreachable ({type(e).__name__})"
        kept = [(k, v) for k, v in r.headers.raw if k.lower() not in _DROP]
        response = http.Response.make(r.status_code, r.content, http.Headers(kept))
        response.headers["x-turnout-backend"] = placement.backend.name
        return response, ""

    def _adopt(self, flow: http.HTTPFlow, scratch: http.HTTPFlow) -> None:
        """The flow now describes the attempt that answered."""
        for key in (Meta.backend, Meta.key, Meta.model):
            flow.metadata[key] = scratch.metadata[key]
        if Meta.translation in scratch.metadata:
            flow.metadata[Meta.translation] = scratch.metadata[Meta.translation]
        else:
            flow.metadata.pop(Meta.translation, None)

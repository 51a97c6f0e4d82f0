"""Routes each request: parse the body once, resolve model → backend, place it on a key.

Placement takes the first backend of the route (then its fallbacks) that has a key to
spare, the key with the most headroom, and the backend's rate governor. When none is
free the request waits (bounded by ``pool.queue_timeout`` and ``pool.queue_max``), then
gets a 429 with ``retry-after`` in its own dialect. The decision is recorded in
``flow.metadata`` (plain values), the mitmweb flow comment and ``x-turnout-backend``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from mitmproxy import http

from turnout.addons._flows import Meta, answer, client_gone, fail_closed
from turnout.core.body import parse_json_object, replace_model, requested_model
from turnout.core.dialects.translate import BACKEND_PATHS, translate_request
from turnout.core.endpoints import Endpoint, classify
from turnout.core.errors import BadRequest, BodyTooLarge, KeysExhausted, NoRouteError, NotFound
from turnout.core.headers import header_value, rewrite
from turnout.core.models import Backend, Decision
from turnout.core.pool import Placement
from turnout.core.probe import window_of
from turnout.core.runtime import Runtime
from turnout.core.tokens import estimate_input_tokens

logger = logging.getLogger("turnout")

HOST = frozenset({b"host"})


@dataclass
class Original:
    """The client's request as routed: parsed once, shared by placement, forwarding and
    retries. References only, nothing copied."""

    endpoint: Endpoint
    raw: bytes
    body: dict[str, Any]
    decision: Decision
    fields: tuple[tuple[bytes, bytes], ...]
    tried: set[tuple[str, str]] = field(default_factory=set)


class Router:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.originals: dict[str, Original] = {}  # buffered requests that may be retried, by flow id

    @fail_closed
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        limit = self.runtime.config.limits.max_body_bytes
        length = header_value(flow.request.headers.fields, b"content-length") or b""
        if length.isdigit() and int(length) > limit:
            raise BodyTooLarge(_too_large(int(length), limit))

    @fail_closed
    def request(self, flow: http.HTTPFlow) -> Any:
        if flow.response or flow.error:
            return None
        endpoint = classify(flow.request.path)
        if endpoint is None:
            raise NotFound(
                f"turnout has no endpoint {flow.request.method} {flow.request.path.split('?')[0]}."
            )
        flow.metadata[Meta.dialect] = endpoint.dialect
        if flow.request.method != "POST":
            raise BadRequest(f"{endpoint.path} takes POST (got {flow.request.method}).")
        try:
            raw = flow.request.get_content() or b""
        except ValueError as e:
            raise BadRequest(f"Cannot decode the request body: {e}") from None
        limit = self.runtime.config.limits.max_body_bytes
        if len(raw) > limit:
            raise BodyTooLarge(_too_large(len(raw), limit))
        body = parse_json_object(raw)
        requested = requested_model(body)
        try:
            decision = self.runtime.router.resolve(requested)
        except NoRouteError as e:
            # Claude Code shows only "an issue with the selected model": say why here, once.
            flow.metadata[Meta.requested] = requested
            flow.comment = f"{requested} → no route: {e.message}"
            self.runtime.say_once(("no route", requested), f"turnout: {e.message}")
            raise
        self.runtime.requests += 1
        flow.metadata.update(
            {
                Meta.endpoint: endpoint.name,
                Meta.requested: decision.requested,
                Meta.rule: decision.rule,
                Meta.stream: body.get("stream") is True,
            }
        )
        flow.comment = decision.describe()
        if endpoint.name == "count_tokens" and decision.backend.kind != "anthropic":
            flow.metadata[Meta.backend] = decision.backend.name
            tokens = estimate_input_tokens(body)
            answer(flow, 200, orjson.dumps({"input_tokens": tokens}), {"x-turnout-estimate": "chars/4"})
            return None
        original = Original(endpoint, raw, body, decision, flow.request.headers.fields)
        candidates = self.candidates(decision)
        placement = self._try_place(candidates)
        if placement is None:
            return self._wait_and_forward(flow, original, candidates)
        self._remember(flow, original)
        self.forward(flow, original, placement)
        return None

    def _remember(self, flow: http.HTTPFlow, original: Original) -> None:
        if self.runtime.config.pool.attempts > 1 and original.body.get("stream") is not True:
            self.originals[flow.id] = original

    def candidates(self, decision: Decision) -> list[tuple[Backend, str]]:
        backends = self.runtime.config.backends
        out = [(decision.backend, decision.model)]
        out += [
            (backends[name], model or decision.model)
            for name, model in decision.fallbacks
            if name in backends
        ]
        return out

    def _try_place(self, candidates: list[tuple[Backend, str]]) -> Placement | None:
        """A key with a free governor, or None. Counts the request in that governor."""
        pool, now = self.runtime.pool, time.time()
        assert pool is not None
        for backend, model in candidates:
            governor = self.runtime.governors[backend.name]
            if governor.active and governor.try_start(now) > 0:
                continue
            if state := pool.pick(backend.name, now):
                return Placement(state, backend, model)
            if governor.active:
                governor.finish()  # counted above, but no key: give the slot back
        return None

    POLL = 0.1  # seconds between checks of a waiting request: is its client still there?

    async def _wait_and_forward(
        self, flow: http.HTTPFlow, original: Original, candidates: list[tuple[Backend, str]]
    ) -> None:
        settings = self.runtime.config.pool
        names = [b.name for b, _ in candidates]
        if self.runtime.waiting >= settings.queue_max:
            raise KeysExhausted(
                self._exhausted(names, "and the wait queue is full"), retry_after=self._retry(names)
            )
        self.runtime.waiting += 1
        deadline = time.monotonic() + settings.queue_timeout
        try:
            while (placement := self._try_place(candidates)) is None:
                if client_gone(flow):
                    return  # abandoned: leave the queue now; mitmproxy records the disconnect
                left = deadline - time.monotonic()
                if left <= 0:
                    raise KeysExhausted(
                        self._exhausted(names, f"for {settings.queue_timeout:g} s"),
                        retry_after=self._retry(names),
                    )
                recovery = (
                    self.runtime.pool.earliest_recovery(names, time.time()) if self.runtime.pool else None
                )
                await asyncio.sleep(min(left, max(recovery or 0.05, 0.01), self.POLL))
        finally:
            self.runtime.waiting -= 1
        if flow.error or client_gone(flow):  # the client gave up while waiting
            self._release(placement)
            return
        self._remember(flow, original)
        self.forward(flow, original, placement)

    def _release(self, placement: Placement) -> None:
        if (governor := self.runtime.governors[placement.backend.name]).active:
            governor.finish()

    def _retry(self, names: list[str]) -> float:
        recovery = self.runtime.pool.earliest_recovery(names, time.time()) if self.runtime.pool else None
        return max(recovery or 1.0, 1.0)

    def _exhausted(self, names: list[str], how: str) -> str:
        return (
            f"Every key of {', '.join(names)} is resting after rate limits or errors {how}; "
            "retry after the time in the retry-after header, or add keys with `turnout keys add`."
        )

    def forward(self, flow: http.HTTPFlow, original: Original, placement: Placement) -> None:
        backend, model, state = placement.backend, placement.model, placement.state
        flow.metadata.update(
            {
                Meta.backend: backend.name,
                Meta.key: state.alias,
                Meta.model: model,
            }
        )
        original.tried.add((backend.name, state.alias))
        endpoint, decision = original.endpoint, original.decision
        if self.runtime.governors[backend.name].active:
            flow.metadata[Meta.governed] = backend.name
        if backend is not decision.backend:
            flow.comment += f" → fallback {backend.name} as {model}"
        path = endpoint.path
        if endpoint.dialect != backend.dialect:
            content, ctx = translate_request(
                original.body,
                endpoint=endpoint.name,
                backend=backend,
                model=model,
                requested=decision.requested,
                window=window_of(self.runtime.facts.get(backend.name), model),
            )
            self._note(backend.name, ctx.adjusted)
            flow.request.content = content
            flow.request.headers["content-type"] = "application/json"
            flow.request.anticomp()  # the stream translator reads plain bytes
            flow.metadata[Meta.translation] = ctx.to_metadata()
            flow.comment += f" [{endpoint.dialect} → {backend.dialect}]"
            path = BACKEND_PATHS[backend.dialect]
        elif model != decision.requested:
            flow.request.content = replace_model(original.raw, original.body, model)
        target = state.target
        request = flow.request
        # Fields, not `request.url`: parsing a URL per request costs ~0.1 ms.
        request.scheme, request.data.host, request.data.port = target.scheme, target.host, target.port
        if request.data.http_version.startswith(b"HTTP/1"):  # one pass, not Headers' setter
            request.headers.fields = rewrite(
                request.headers.fields, HOST, first=((b"host", target.host_header),)
            )
        else:
            request.host_header = target.authority
        request.path = target.path(path)

    def _note(self, backend: str, adjusted: dict[str, str]) -> None:
        """Say once per backend what translation changes in its requests, and why."""
        for what, why in adjusted.items():
            self.runtime.say_once(
                (backend, what), f"turnout: {backend}: {what} {why} (said once per backend)"
            )


def _too_large(size: int, limit: int) -> str:
    return (
        f"The request body is {size:,} bytes, over turnout's limit of {limit:,} bytes "
        "(limits.max_body_mb in the config)."
    )

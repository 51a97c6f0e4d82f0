"""Routes each request: parse the body once, resolve model → backend, place it on a key,
and turn the flow into the first attempt.

The decisions are the core's: ``routing.Resolver`` (which backend serves the model),
``placement.Placer.journey`` (which key, whether to wait, what to try next) and
``upstream.build_upstream`` (the request the backend gets). This concern reads the
flow, drives the journey's first steps (sleeping while it says wait, and leaving the
queue at once if the client gives up), and applies the built request to the flow.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from mitmproxy import http

from turnout.addons._flows import SENT, Exchanges, answer, client_gone
from turnout.addons._mitm import WireHeaders
from turnout.addons.interception import intercepted
from turnout.core.body import decode_body, parse_json_object, requested_model
from turnout.core.counting import counted_here
from turnout.core.credentials import masked_fields
from turnout.core.errors import BadRequest, BodyTooLarge, NoRouteError, NotFound
from turnout.core.exchange import Exchange
from turnout.core.facts import facts_of
from turnout.core.headers import Fields, header_value
from turnout.core.models import Decision, Facts
from turnout.core.placement import GiveUp, Placement, Send, Step, Wait
from turnout.core.runtime import Runtime
from turnout.core.upstream import UpstreamRequest

__all__ = ["Router", "apply_upstream"]

OFF_LOOP = 64 * 1024  # compressed bodies larger than this are inflated in a thread


def apply_upstream(request: http.Request, upstream: UpstreamRequest, *, masked: bool = True) -> Fields:
    """Make the live mitmproxy request the built one; ``masked``: its credential masked,
    and the real one returned, for the wire only (see ``secrecy.py``). Fields, not
    ``request.url``: parsing a URL per request costs ~0.1 ms."""
    target = upstream.target
    request.scheme, request.data.host, request.data.port = target.scheme, target.host, target.port
    fields = upstream.fields
    held: Fields = ()
    if masked and upstream.secret:
        held = tuple((name, value) for name, value in fields if name in upstream.secret)
        fields = masked_fields(fields, upstream.secret)
    if request.data.http_version.startswith(b"HTTP/1"):
        request.data.authority = b""  # origin-form: never a client's absolute-form target upstream
        request.headers.fields = ((b"host", target.host_header), *fields)
    else:
        request.headers.fields = fields
        request.host_header = target.authority
    request.path = upstream.path
    if upstream.body_changed:
        request.content = upstream.body
    return held


class Router:
    def __init__(self, runtime: Runtime, exchanges: Exchanges, wire: WireHeaders | None) -> None:
        self.runtime = runtime
        self.exchanges = exchanges
        self.wire = wire

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        exchange = self.exchanges.get(flow)
        if exchange is None or exchange.endpoint.name == "unknown":
            return  # a local endpoint, or a 404 (see ``request``)
        limit = self.runtime.config.limits.max_body_bytes
        length = header_value(flow.request.headers.fields, b"content-length") or b""
        if length.isdigit() and int(length) > limit:
            raise BodyTooLarge(_too_large(int(length), limit))
        exchange.fields = flow.request.headers.fields  # after the gate: no client credentials

    def request(self, flow: http.HTTPFlow) -> Any:
        if flow.response or flow.error:
            return None
        exchange = self.exchanges.get(flow)
        if exchange is None:
            return None  # a local endpoint's read, answered in place
        try:
            waiting = self._request(flow, exchange)
        except BaseException:
            exchange.own = ()
            raise
        if waiting is None:
            exchange.own = ()  # the client's own credentials live no longer than the decision
        return waiting

    def _request(self, flow: http.HTTPFlow, exchange: Exchange) -> Any:
        if exchange.endpoint.name == "unknown" or flow.request.method != "POST":
            if self._pass_through(flow, exchange):
                return None
            if exchange.endpoint.name == "unknown":
                raise NotFound(f"turnout has no endpoint {flow.request.method} {exchange.endpoint.path}.")
            raise BadRequest(f"{exchange.endpoint.path} takes POST (got {flow.request.method}).")
        wire = flow.request.raw_content or b""
        encoding = header_value(flow.request.headers.fields, b"content-encoding")
        limit = self.runtime.config.limits.max_body_bytes
        if encoding is None:
            return self._route(flow, exchange, wire, wire)
        if len(wire) <= OFF_LOOP:
            return self._route(flow, exchange, wire, decode_body(wire, encoding.decode("latin-1"), limit))
        return self._decode_then_route(flow, exchange, wire, encoding.decode("latin-1"), limit)

    async def _decode_then_route(
        self, flow: http.HTTPFlow, exchange: Exchange, wire: bytes, encoding: str, limit: int
    ) -> None:
        """A large compressed body is inflated in a thread: the proxy serves on meanwhile."""
        try:
            raw = await asyncio.to_thread(decode_body, wire, encoding, limit)
            if (waiting := self._route(flow, exchange, wire, raw)) is not None:
                await waiting
        finally:
            exchange.own = ()

    def _route(self, flow: http.HTTPFlow, exchange: Exchange, wire: bytes, raw: bytes) -> Any:
        """The body parsed once; the model resolved; the journey begun (it may wait)."""
        limit = self.runtime.config.limits.max_body_bytes
        if len(raw) > limit:
            raise BodyTooLarge(_too_large(len(raw), limit))
        exchange.wire, exchange.raw = wire, raw
        exchange.body = body = parse_json_object(raw)
        endpoint = exchange.endpoint
        exchange.stream = endpoint.stream or body.get("stream") is True
        exchange.asked = requested = requested_model(
            body if endpoint.model is None else {"model": endpoint.model}
        )
        facts = facts_of(endpoint.name, exchange.fields, body, len(raw))
        try:
            decision = self.runtime.resolver.resolve(requested, facts)
        except NoRouteError as e:
            if self.runtime.relist is not None:  # a server started or a model pulled since?
                return self._route_after_relist(flow, exchange, requested, facts, e)
            self._no_route(flow, exchange, requested, e)
            return None
        return self._place(flow, exchange, decision)

    async def _route_after_relist(
        self, flow: http.HTTPFlow, exchange: Exchange, requested: str, facts: Facts, miss: NoRouteError
    ) -> None:
        """One more look, after the backends' model lists are read again (rate-limited)."""
        assert self.runtime.relist is not None
        if await self.runtime.relist():
            try:
                decision = self.runtime.resolver.resolve(requested, facts)
            except NoRouteError as e:
                miss = e
            else:
                if (waiting := self._place(flow, exchange, decision)) is not None:
                    await waiting
                return
        self._no_route(flow, exchange, requested, miss)

    def _no_route(self, flow: http.HTTPFlow, exchange: Exchange, requested: str, e: NoRouteError) -> None:
        if self._pass_through(flow, exchange):
            return
        # Claude Code shows only "an issue with the selected model": say why here, once.
        exchange.own = ()
        flow.comment = f"{requested[:200]} → no route: {e.message}"
        self.runtime.say_once(("no route", requested[:200]), e.message)
        raise e

    def _pass_through(self, flow: http.HTTPFlow, exchange: Exchange) -> bool:
        """``intercept.passthrough_unrouted``: an intercepted request no route serves goes on,
        untouched, to the host it was for, with the client's own credentials (on the wire
        only, masked in a flow mitmweb shows)."""
        if not (intercepted(flow) and self.runtime.config.intercept.passthrough_unrouted):
            return False
        own, exchange.own = exchange.own, ()
        exchange.passed = True
        exchange.settle()
        request = flow.request
        if self.wire is None or not own:
            request.headers.fields += own
        else:
            request.headers.fields += masked_fields(own, frozenset(name for name, _ in own))
            self.wire.hold(flow, own)
        flow.comment = f"{exchange.entry} → passed through unrouted, with the client's own credentials"
        return True

    def _place(self, flow: http.HTTPFlow, exchange: Exchange, decision: Decision) -> Any:
        """The decision made: counted here, or the journey begun (it may wait)."""
        exchange.decision, exchange.own = decision, ()
        endpoint, body = exchange.endpoint, exchange.body
        assert body is not None
        self.runtime.count_request()
        flow.comment = f"{exchange.entry}: {decision.describe()}" if exchange.entry else decision.describe()
        if (counted := counted_here(endpoint.name, decision.backend.dialect, body)) is not None:
            exchange.settle()
            answer(flow, 200, orjson.dumps(counted), {"x-turnout-estimate": "chars/4"})
            return None
        placer = self.runtime.placer
        assert placer is not None
        exchange.journey = placer.journey(
            decision,
            buffered=not exchange.stream and self.runtime.config.pool.attempts > 1,
            clock=time.time,
            monotonic=time.monotonic,
        )
        step = next(exchange.journey)
        if isinstance(step, Send):
            self.forward(flow, exchange, step.placement)
            return None
        return self._wait(flow, exchange, step)

    async def _wait(self, flow: http.HTTPFlow, exchange: Exchange, step: Step) -> None:
        """Every key or governor is busy: wait as the journey says, while the client is there."""
        journey = exchange.journey
        assert journey is not None
        while isinstance(step, Wait):
            if client_gone(flow):  # abandoned: leave the queue now; mitmproxy records the disconnect
                break
            await asyncio.sleep(step.seconds)
            step = journey.send(None)
        if not isinstance(step, Send) or flow.error or client_gone(flow):
            exchange.settle()
            if isinstance(step, Send) and step.placement.governor is not None:
                step.placement.governor.finish()  # the client gave up just as a key freed
            if isinstance(step, GiveUp) and step.error is not None:
                raise step.error
            return
        self.forward(flow, exchange, step.placement)

    def forward(self, flow: http.HTTPFlow, exchange: Exchange, placement: Placement) -> None:
        """Make the flow the first attempt at ``placement``."""
        backend = placement.backend
        upstream = self.runtime.upstream_for(exchange, placement)  # before begin: may be a 400
        exchange.begin(placement)
        if self.wire is None:  # no flow is ever shown or saved (turnout proxy without --web)
            apply_upstream(flow.request, upstream, masked=False)
        else:
            self.wire.hold(flow, apply_upstream(flow.request, upstream))
        flow.metadata[SENT] = (backend.name, placement.state.alias)
        exchange.translation = upstream.translation
        decision = exchange.decision
        if decision is not None and backend is not decision.backend:
            flow.comment += f" → fallback {backend.name} as {placement.model}"
        if upstream.translation is not None:
            flow.comment += f" [{upstream.translation.label}]"
        if exchange.restore is not None and exchange.scrubbed is not None:
            flow.comment += f" [{exchange.scrubbed.describe()}]"
        if upstream.adjusted:
            for what, why in upstream.adjusted.items():
                self.runtime.say_once(
                    (backend.name, what), f"{backend.name}: {what} {why} (said once per backend)"
                )
        if exchange.journey is None or exchange.stream:
            exchange.settle()  # placed once: nothing will need the bodies again


def _too_large(size: int, limit: int) -> str:
    return (
        f"The request body is {size:,} bytes, over turnout's limit of {limit:,} bytes "
        "(limits.max_body_mb in the config)."
    )

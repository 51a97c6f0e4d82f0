"""Failover inside a buffered request: on 429, 5xx, an unreachable backend, a timeout or a
"context too long" error, the request's journey (``core/placement.py``) says where to
try next — the next key, then the route's fallbacks — and this concern tries there, in
the same request.

mitmproxy cannot re-run a flow, so a retry is built by the same builder as the first
try (``core/upstream.py``) and sent by ``core/sender.py``. Its answer replaces the
flow's response (the translator then puts it into the client's dialect), or, when the
first try got no answer at all, becomes the reply prepared for the client. Streams are
placed by headroom up front instead and never retried: a 429 reaches the client at
once with ``retry-after`` and the key cools, so the client's own retry lands elsewhere.
``x-turnout-attempts``, the flow comment and the exchange's summary tell the story.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from mitmproxy import http

from turnout.addons._flows import Exchanges, client_gone
from turnout.addons._mitm import Replies
from turnout.addons.translator import in_dialect
from turnout.core.dialects.errors import upstream_message
from turnout.core.exchange import Exchange
from turnout.core.placement import GiveUp, Outcome, Placement, Wait, retryable
from turnout.core.ratelimit import headers_from_fields
from turnout.core.runtime import Runtime
from turnout.core.sender import Answer, Sender

ATTEMPTS = "x-turnout-attempts"


def outcome_of(status: int, body: bytes | None) -> Outcome:
    """A response as an ``Outcome``; error bodies are read only when a 400 or 413 might be
    a context-length complaint."""
    message = upstream_message(body or b"", status) if status in (400, 413) else ""
    return Outcome(status, message=message)


class Failover:
    def __init__(self, runtime: Runtime, exchanges: Exchanges, replies: Replies) -> None:
        self.runtime = runtime
        self.exchanges = exchanges
        self.replies = replies
        self.sender = Sender()

    async def done(self) -> None:
        await self.sender.aclose()

    def response(self, flow: http.HTTPFlow) -> Any:
        exchange = self.exchanges.get(flow)
        response = flow.response
        if exchange is None or exchange.journey is None or response is None or response.stream:
            return None
        if not exchange.attempts or response.status_code < 400:  # answered: nothing to retry
            exchange.settle()
            return None
        outcome = outcome_of(
            response.status_code, response.raw_content if response.status_code >= 400 else None
        )
        exchange.end(outcome)
        if not retryable(outcome):
            exchange.settle()
            return None
        return self._retry_into_response(flow, exchange, outcome)

    def error(self, flow: http.HTTPFlow) -> Any:
        """No answer, or a buffered one cut off mid-body: the journey's next attempts."""
        exchange = self.exchanges.get(flow)
        if exchange is None or exchange.journey is None:
            return None
        response = flow.response
        if client_gone(flow) or not exchange.attempts or (response is not None and response.stream):
            exchange.settle()  # the client left, turnout answered, or a stream had begun
            return None
        failure = exchange.timed_out or ("cut off mid-body" if response is not None else "unreachable")
        outcome = Outcome(None, failure)
        exchange.end(outcome)
        return self._retry_into_reply(flow, exchange, outcome)

    async def _retry_into_response(self, flow: http.HTTPFlow, exchange: Exchange, outcome: Outcome) -> None:
        assert flow.response is not None
        answer = await self._retry(flow, exchange, outcome)
        if answer is None:
            flow.response.headers[ATTEMPTS] = str(len(exchange.attempts))
            return
        flow.response = self._response(answer, exchange)

    async def _retry_into_reply(self, flow: http.HTTPFlow, exchange: Exchange, outcome: Outcome) -> None:
        answer = await self._retry(flow, exchange, outcome)
        if answer is not None:  # no response hook follows an error: the reply is whole here
            limit = self.runtime.config.limits.max_body_bytes
            self.replies.prepare(flow, in_dialect(self._response(answer, exchange), exchange, limit))

    def _response(self, answer: Answer, exchange: Exchange) -> http.Response:
        response = http.Response.make(answer.status, answer.body, http.Headers(answer.fields))
        assert exchange.placement is not None
        response.headers["x-turnout-backend"] = exchange.placement.backend.name
        response.headers[ATTEMPTS] = str(len(exchange.attempts))
        return response

    async def _retry(self, flow: http.HTTPFlow, exchange: Exchange, outcome: Outcome) -> Answer | None:
        """Later attempts, as the journey says; the last answer, or None if none came."""
        journey = exchange.journey
        assert journey is not None
        first = (exchange.placement, exchange.translation)  # whose answer stands if no retry answers
        last: tuple[Answer, Placement, Any] | None = None
        try:
            step = journey.send(outcome)
            while not isinstance(step, GiveUp):
                if isinstance(step, Wait):
                    if client_gone(flow):
                        break
                    await asyncio.sleep(step.seconds)
                    step = journey.send(None)
                    continue
                answer, outcome = await self._attempt(flow, exchange, step.placement)
                if answer is not None:
                    last = (answer, step.placement, exchange.translation)
                step = journey.send(outcome)
        except StopIteration:
            pass
        finally:
            exchange.settle()
        if last is None:
            exchange.placement, exchange.translation = first
            return None
        answer, exchange.placement, exchange.translation = last  # the attempt that answered
        return answer

    async def _attempt(
        self, flow: http.HTTPFlow, exchange: Exchange, placement: Placement
    ) -> tuple[Answer | None, Outcome]:
        """One retry at ``placement``: built, sent, observed into the pool."""
        backend = placement.backend
        upstream = self.runtime.upstream_for(exchange, placement)  # before begin: may be a 400
        exchange.begin(placement)
        flow.comment += f" ⟳ attempt {len(exchange.attempts)}: {backend.name}/{placement.state.alias}"
        exchange.translation = upstream.translation
        result = await self.sender.send(
            upstream,
            timeout=backend.timeout,
            read_timeout=backend.read_timeout,
            limit=self.runtime.config.limits.max_body_bytes,
        )
        exchange.release()
        pool, now = self.runtime.pool, time.time()
        assert pool is not None
        if isinstance(result, str):
            pool.observe_failure(placement.state, result, now)
            outcome = Outcome(None, result)
            exchange.end(outcome)
            return None, outcome
        pool.observe(placement.state, result.status, headers_from_fields(result.fields), now)
        outcome = outcome_of(result.status, result.body if result.status >= 400 else None)
        exchange.end(outcome)
        return result, outcome

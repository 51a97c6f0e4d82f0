"""One request's journey through turnout, as one typed object.

Every concern of the chain reads and writes the same ``Exchange``: the client's request
as it came (its endpoint, dialect, raw body and the body parsed once), the routing
decision, where it was placed (the ``Backend`` itself, never a name to look up again),
the translation context, every attempt, and the error it was answered with, as an
exception carrying its status. The glue keeps one per flow, the way mitmproxy keeps
per-connection state; mitmweb gets only ``summary()``, plain values and no secrets.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from turnout.core.codec import StreamDecoder
from turnout.core.dialects.context import Context
from turnout.core.endpoints import Endpoint
from turnout.core.errors import TurnoutError
from turnout.core.governor import Governor
from turnout.core.headers import Fields
from turnout.core.models import Decision, Dialect
from turnout.core.placement import Outcome, Placement, Step
from turnout.core.scrub import Scrubbed

__all__ = ["Attempt", "Exchange"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at a backend: where, and what came of it (a status, or why there was none)."""

    backend: str
    key: str  # the key's alias, never the key
    model: str
    status: int | None = None
    failure: str = ""

    def describe(self) -> str:
        result = f"HTTP {self.status}" if self.status is not None else self.failure or "…"
        return f"{self.backend}/{self.key} as {self.model}: {result}"


@dataclass(eq=False, slots=True)
class Exchange:
    endpoint: Endpoint
    started: float  # wall clock, when the request arrived
    wire: bytes = b""  # the client's body as received (perhaps compressed)
    raw: bytes = b""  # the same, decoded
    body: dict[str, Any] | None = None  # parsed once
    fields: Fields = ()  # the client's headers after the gate, for every attempt
    stream: bool = False  # the client asked for a stream
    asked: str = ""  # the model the client asked for, once the body is read
    entry: str = ""  # how it came: "" the local endpoint, "intercepted <host>" the listener
    own: Fields = ()  # the client's own credentials, kept only for intercept.passthrough_unrouted
    passed: bool = False  # unrouted, sent on to the host it was for (intercept.passthrough_unrouted)
    decision: Decision | None = None
    placement: Placement | None = None  # the attempt in flight, or the last one
    translation: Context | None = None  # set when the backend speaks another dialect
    decoder: StreamDecoder | None = None  # a stream the backend compressed although asked not to
    answer: dict[str, Any] | None = None  # a same-dialect whole answer, parsed (once)
    journey: Generator[Step, Outcome | None, None] | None = None  # what to try next (placement.py)
    held: Governor | None = None  # the governor slot the attempt in flight holds
    attempts: list[Attempt] = field(default_factory=list)
    error: TurnoutError | None = None  # what the client was answered with, if turnout answered
    answered: int | None = None  # the status of a reply turnout prepared after a failure
    ttfb_ms: float | None = None  # time to the response headers
    timed_out: str = ""  # why a deadline closed the upstream connection ("timed out", or a stall)
    scanned: bool = False  # its body was searched for secrets (once, whatever the attempts)
    scrubbed: Scrubbed | None = None  # the body with its secrets replaced, when it held any
    restore: dict[str, str] | None = None  # placeholder → secret, once an attempt went out redacted
    withheld: int = 0  # secrets a backend did not get (replaced, or the request refused)
    observed: bool = False  # the first answer's rate-limit headers are in the pool
    recorded: bool = False  # its analytics row is written

    @property
    def dialect(self) -> Dialect:
        """The client's dialect: every answer and every error is in it."""
        return self.endpoint.dialect

    def tried(self) -> frozenset[tuple[str, str]]:
        return frozenset((a.backend, a.key) for a in self.attempts)

    def begin(self, placement: Placement) -> None:
        """``placement`` is the attempt in flight now (and holds its governor slot)."""
        self.placement, self.held = placement, placement.governor
        self.attempts.append(Attempt(placement.backend.name, placement.state.alias, placement.model))

    def settle(self) -> None:
        """No attempt can follow: let go of the request's bodies (a 1 MB Claude Code body
        would otherwise live as long as the flow, for ever under mitmweb)."""
        self.wire = self.raw = b""
        self.body = None
        self.own = ()
        if self.scrubbed is not None:
            self.scrubbed.release()
        if self.journey is not None:
            self.journey.close()
            self.journey = None

    def release(self) -> None:
        """The attempt in flight is over: its governor slot goes back, once."""
        if self.held is not None:
            self.held.finish()
            self.held = None

    def end(self, outcome: Outcome) -> None:
        """What came of the attempt in flight."""
        last = self.attempts[-1]
        self.attempts[-1] = Attempt(last.backend, last.key, last.model, outcome.status, outcome.failure)

    def summary(self) -> dict[str, Any]:
        """What mitmweb shows and saves with the flow: plain values, never a key."""
        out: dict[str, Any] = {"endpoint": self.endpoint.name, "dialect": self.dialect, "stream": self.stream}
        if self.asked:
            out["requested"] = self.asked
        if self.decision is not None:
            out["rule"] = self.decision.rule
        if self.placement is not None:
            out.update(
                backend=self.placement.backend.name,
                key=self.placement.state.alias,
                model=self.placement.model,
            )
        if self.translation is not None:
            out["translated"] = self.translation.label
        if self.attempts:
            out["attempts"] = [a.describe() for a in self.attempts]
        if self.error is not None:
            out["error"] = f"{type(self.error).__name__}: {self.error.message}"[:500]
        return out

"""Where a request goes, and where it goes next: one pure policy for placement and retries.

``journey`` is a generator in the spirit of httpx's auth flow: it yields a ``Step`` —
``Send`` (this placement), ``Wait`` (so many seconds, then ask again) or ``GiveUp``
(with the error to answer, or none to keep the last answer) — and is sent back what
happened: the ``Outcome`` of a send, or ``None`` after a wait. The glue does the
sending, the sleeping and the bookkeeping of rate-limit headers; every decision is here:

- candidates: the route's backend, then its fallbacks; the model each serves;
- placement: the first candidate with a key to spare (the one with the most headroom)
  and room in its rate governor (counted when placed: ``release`` gives the slot back);
- waiting: when nothing is free, until the earliest key or governor frees up, bounded
  by ``pool.queue_timeout`` (and ``pool.queue_max`` requests waiting at once);
- retries: a buffered request that got a 429, a 5xx, no answer, or a "context too long"
  complaint tries the next key, then the fallbacks, up to ``pool.attempts`` in all; a
  context-length complaint skips the other keys of that backend. Retries wait for their
  governor like first tries. Streams are placed once and never retried.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field

from turnout.core.errors import KeysExhausted, TurnoutError
from turnout.core.governor import Governor
from turnout.core.models import Backend, Decision, PoolSettings
from turnout.core.pool import KeyState, Pool

__all__ = [
    "GiveUp",
    "Outcome",
    "Placement",
    "Placer",
    "Send",
    "Step",
    "Wait",
    "retryable",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
CONTEXT_TOO_LONG = re.compile(
    r"context (length|window)|too long|too many (input )?tokens|maximum context|prompt is too long", re.I
)
POLL = 0.1  # seconds: how often a waiting request looks again (and checks its client is still there)


@dataclass(frozen=True)
class Placement:
    """An attempt's place: a key of a backend, the model it serves, the governor it holds."""

    state: KeyState
    backend: Backend
    model: str
    governor: Governor | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Outcome:
    """What came of one attempt: a status, or no answer (``status`` None) and why."""

    status: int | None
    failure: str = ""
    message: str = ""  # the upstream's error message, when it sent one

    @property
    def context_too_long(self) -> bool:
        return self.status in (400, 413) and bool(CONTEXT_TOO_LONG.search(self.message))


@dataclass(frozen=True)
class Send:
    placement: Placement


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class GiveUp:
    error: TurnoutError | None = None  # None: the last answer stands


Step = Send | Wait | GiveUp


def retryable(outcome: Outcome) -> bool:
    return outcome.status is None or outcome.status in RETRY_STATUSES or outcome.context_too_long


class Placer:
    """The pool, the governors and the settings in effect; ``journey`` per request."""

    def __init__(
        self,
        pool: Pool,
        governors: Mapping[str, Governor],
        settings: PoolSettings,
        backends: Mapping[str, Backend],
    ) -> None:
        self.pool, self.governors, self.settings, self.backends = pool, governors, settings, backends
        self.waiting = 0  # requests waiting for a key, all journeys together

    def candidates(self, decision: Decision) -> list[tuple[Backend, str]]:
        out = [(decision.backend, decision.model)]
        out += [
            (self.backends[name], model or decision.model)
            for name, model in decision.fallbacks
            if name in self.backends
        ]
        return out

    def place(
        self,
        candidates: list[tuple[Backend, str]],
        now: float,
        *,
        tried: frozenset[tuple[str, str]] = frozenset(),
        skip: str | None = None,
    ) -> Placement | None:
        """A key not yet ``tried`` with room in its governor, which counts it; or None."""
        for backend, model in candidates:
            if backend.name == skip:
                continue
            governor = self.governors.get(backend.name)
            active = governor is not None and governor.active
            if active and governor.try_start(now) > 0:  # type: ignore[union-attr]
                continue
            if state := self.pool.pick(backend.name, now, exclude=tried):
                return Placement(state, backend, model, governor if active else None)
            if active:
                governor.finish()  # type: ignore[union-attr]  # counted above, but no key: give it back
        return None

    def release(self, placement: Placement | None) -> None:
        """The attempt is over: give its governor slot back (once per placement)."""
        if placement is not None and placement.governor is not None:
            placement.governor.finish()

    def _recovery(self, candidates: list[tuple[Backend, str]], now: float) -> float | None:
        return self.pool.earliest_recovery([b.name for b, _ in candidates], now)

    def _exhausted(self, candidates: list[tuple[Backend, str]], how: str, now: float) -> KeysExhausted:
        names = ", ".join(b.name for b, _ in candidates)
        return KeysExhausted(
            f"Every key of {names} is resting after rate limits or errors {how}; retry after the time "
            "in the retry-after header, or add keys with `turnout keys add`.",
            retry_after=max(self._recovery(candidates, now) or 1.0, 1.0),
        )

    def journey(
        self,
        decision: Decision,
        *,
        buffered: bool,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> Generator[Step, Outcome | None, None]:
        """The steps of one request (see the module docstring). ``clock`` is wall-clock
        time (key cooldowns), ``monotonic`` measures the wait deadline."""
        candidates = self.candidates(decision)
        deadline = monotonic() + self.settings.queue_timeout
        placement = yield from self._wait_for(candidates, deadline, clock, monotonic, frozenset(), None)
        if placement is None:
            return
        tried = {(placement.backend.name, placement.state.alias)}
        attempts = 1
        while True:
            outcome = yield Send(placement)
            if outcome is None or not buffered or not retryable(outcome):
                return
            if attempts >= self.settings.attempts:
                yield GiveUp()
                return
            skip = placement.backend.name if outcome.context_too_long else None
            placement = yield from self._wait_for(
                candidates, deadline, clock, monotonic, frozenset(tried), skip
            )
            if placement is None:
                return
            tried.add((placement.backend.name, placement.state.alias))
            attempts += 1

    def _wait_for(
        self,
        candidates: list[tuple[Backend, str]],
        deadline: float,
        clock: Callable[[], float],
        monotonic: Callable[[], float],
        tried: frozenset[tuple[str, str]],
        skip: str | None,
    ) -> Generator[Step, Outcome | None, Placement | None]:
        """A placement, waiting for one as long as the deadline allows; None after a GiveUp."""
        placement = self.place(candidates, clock(), tried=tried, skip=skip)
        if placement is not None:
            return placement
        if tried and not self._could_free(candidates, tried, skip):
            yield GiveUp()  # a retry with nowhere left to go: the last answer stands
            return None
        if self.waiting >= self.settings.queue_max:
            yield GiveUp(self._exhausted(candidates, "and the wait queue is full", clock()))
            return None
        self.waiting += 1
        try:
            while (placement := self.place(candidates, clock(), tried=tried, skip=skip)) is None:
                left = deadline - monotonic()
                if left <= 0:
                    break
                recovery = self._recovery(candidates, clock())
                yield Wait(min(left, max(recovery or POLL, 0.01), POLL))
        finally:
            self.waiting -= 1  # out of the queue before saying anything more
        if placement is None:
            how = f"for {self.settings.queue_timeout:g} s"
            yield GiveUp(None if tried else self._exhausted(candidates, how, clock()))
        return placement

    def _could_free(
        self, candidates: list[tuple[Backend, str]], tried: frozenset[tuple[str, str]], skip: str | None
    ) -> bool:
        """Whether some untried key among the candidates may take the retry, now or later."""
        for backend, _ in candidates:
            if backend.name == skip:
                continue
            for state in self.pool.states.get(backend.name, []):
                if (backend.name, state.alias) not in tried and state.status != "failed":
                    return True
        return False

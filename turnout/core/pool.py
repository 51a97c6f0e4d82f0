"""Key pools: which key of which backend takes the next request, and how keys rest.

Each request goes to the key with the most headroom: the smallest remaining/limit over
the limits its provider reported last (requests, tokens, input and output tokens).
Unknown headroom counts as full; ties rotate. A 429 cools a key until its
``retry-after`` or reset; a 401/403 marks it failed until the config is reloaded; a
5xx or a refused connection rests it briefly. Everything here is pure: time is passed
in, and waiting is the caller's business (``earliest_recovery`` says how long).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from turnout.core.credentials import mask
from turnout.core.models import Backend, Config, KeySpec
from turnout.core.ratelimit import Limit, headers_from_fields, parse_limits, parse_retry_after
from turnout.core.routing import Target
from turnout.core.shared import Board, key_id

__all__ = ["KeyState", "Pool"]

TREND_EVERY = 5.0  # seconds between headroom samples kept for the exhaustion forecast


@dataclass
class KeyState:
    backend: str
    spec: KeySpec = field(repr=False)
    target: Target
    status: str = "ok"  # ok | cooling | failed
    until: float = 0.0  # wall-clock end of a cooldown
    reason: str = ""
    limits: dict[str, Limit] = field(default_factory=dict)
    requests: int = 0
    errors: int = 0
    last_error: str | None = None
    trend: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=120))  # 10 min
    # The raw header fields of the last good answer, parsed only when someone looks:
    # a single key's headroom decides nothing, so most answers never need parsing.
    pending: tuple[tuple[bytes, bytes], ...] | None = field(default=None, repr=False)
    pending_at: float = 0.0
    limits_at: float = 0.0  # when the limits were reported
    id: bytes = field(default=b"", repr=False)  # the key's name on a board (core/shared.py)

    def __post_init__(self) -> None:
        if not self.id:
            where = f"{self.target.scheme}://{self.target.authority}{self.target.prefix}"
            self.id = key_id(where, self.spec.key or "")

    @property
    def alias(self) -> str:
        return self.spec.alias

    def adopt(self, limits: dict[str, Limit], at: float) -> None:
        """Limits another process learned (newer than ours)."""
        self.pending = None
        self.limits, self.limits_at = limits, at
        if limits and (not self.trend or at - self.trend[-1][0] >= TREND_EVERY):
            self.trend.append((at, self.headroom(at)))

    def settle(self) -> None:
        """Parse the pending rate-limit headers, if any."""
        if self.pending is not None:
            fields, at = self.pending, self.pending_at
            self.pending = None
            self.learn(headers_from_fields(fields), at)

    def learn(self, headers: Mapping[str, str], now: float) -> None:
        for limit in parse_limits(headers, now):
            self.limits[limit.name] = limit
            self.limits_at = now
        if self.limits and (not self.trend or now - self.trend[-1][0] >= TREND_EVERY):
            self.trend.append((now, self.headroom(now)))

    def headroom(self, now: float) -> float:
        self.settle()
        fractions = [
            lim.fraction for lim in self.limits.values() if lim.reset_at is None or lim.reset_at > now
        ]
        return min(fractions) if fractions else 1.0

    def available(self, now: float) -> bool:
        if self.status == "cooling" and self.until <= now:
            self.status, self.reason = "ok", ""
        return self.status == "ok"

    def reset_at(self, now: float) -> float | None:
        self.settle()
        resets = [lim.reset_at for lim in self.limits.values() if lim.reset_at and lim.reset_at > now]
        return min(resets) if resets else None

    def minutes_to_exhaustion(self, now: float) -> float | None:
        """From the headroom trend over the last ten minutes: None unless it is falling."""
        self.settle()
        points = [(t, h) for t, h in self.trend if now - t <= 600]
        if len(points) < 2 or points[-1][0] - points[0][0] < 1:
            return None
        (t0, h0), (t1, h1) = points[0], points[-1]
        per_minute = (h0 - h1) / ((t1 - t0) / 60)
        return round(h1 / per_minute, 1) if per_minute > 0 else None


class Pool:
    """Every backend's keys. With a ``board`` (``core/shared.py``) what happens to a key is
    shared with the other workers or instances: news is told to the board as it happens,
    and the board's is taken in before each pick."""

    def __init__(self, config: Config, board: Board | None = None) -> None:
        self.states: dict[str, list[KeyState]] = {}
        self.error_cooldown = config.pool.error_cooldown
        self.board = board
        self._turn = itertools.count()
        self.install(config)

    def install(self, config: Config) -> None:
        """Take a (re)loaded config; keys that did not change keep their counters and
        limits, and failed keys get another chance."""
        old = {
            (s.backend, s.alias, s.spec.key, s.target): s for states in self.states.values() for s in states
        }
        self.error_cooldown = config.pool.error_cooldown
        self.states = {}
        revived: list[KeyState] = []
        for name, backend in config.backends.items():
            states = []
            for spec in backend.members:
                target = (
                    Target.of(Backend(name, backend.kind, spec.base_url))
                    if spec.base_url
                    else Target.of(backend)
                )
                state = old.get((name, spec.alias, spec.key, target)) or KeyState(name, spec, target)
                state.spec = spec
                if state.status == "failed":
                    state.status, state.reason = "ok", ""
                    revived.append(state)
                states.append(state)
            self.states[name] = states
        self._by_key = {(s.backend, s.alias): s for states in self.states.values() for s in states}
        self._by_id = {s.id: s for states in self.states.values() for s in states}
        if self.board is not None:
            self.board.revived(revived)
            self.board.sync(self._by_id, 0.0)

    def sync(self, now: float) -> None:
        """Take in the other processes' news (a no-op without a board)."""
        if self.board is not None:
            self.board.sync(self._by_id, now)

    def flush(self, now: float) -> None:
        """Send this process's batched counts and headroom to the board."""
        if self.board is not None:
            self.board.flush(self._by_id.values(), now)

    def state(self, backend: str, alias: str) -> KeyState | None:
        return self._by_key.get((backend, alias))

    def pick(
        self, backend: str, now: float, exclude: frozenset[tuple[str, str]] = frozenset()
    ) -> KeyState | None:
        if self.board is not None:
            self.board.sync(self._by_id, now)
        states = self.states.get(backend, [])
        if len(states) == 1 and not exclude:  # a single key: nothing to compare
            return states[0] if states[0].available(now) else None
        available = [
            s for s in self.states.get(backend, []) if s.available(now) and (backend, s.alias) not in exclude
        ]
        if not available:
            return None
        if len(available) == 1:
            return available[0]
        rooms = [s.headroom(now) for s in available]
        best = max(rooms)
        ties = [s for s, room in zip(available, rooms, strict=True) if room >= best - 1e-9]
        return ties[next(self._turn) % len(ties)]

    def earliest_recovery(self, backends: Sequence[str], now: float) -> float | None:
        """Seconds until the first cooling key among ``backends`` is back; None if none will."""
        ends = [s.until for b in backends for s in self.states.get(b, []) if s.status == "cooling"]
        return max(min(ends) - now, 0.0) if ends else None

    def observe_fields(
        self, state: KeyState, status: int, fields: tuple[tuple[bytes, bytes], ...], now: float
    ) -> None:
        """``observe`` for raw header fields; a good answer for a backend's only key is kept
        unparsed until its headroom is looked at (``/accounts``, metrics, forecasts)."""
        if status < 400 and len(self.states.get(state.backend, ())) == 1:
            state.requests += 1
            state.pending, state.pending_at = fields, now
            if self.board is not None:
                self.board.counted(state, 0)
            return
        self.observe(state, status, headers_from_fields(fields), now)

    def observe(self, state: KeyState, status: int, headers: Mapping[str, str], now: float) -> None:
        state.requests += 1
        state.pending = None
        state.learn(headers, now)
        if self.board is not None:
            self.board.counted(state, 1 if status in (401, 403) or status == 429 or status >= 500 else 0)
        if status == 429:
            wait = parse_retry_after(headers, now)
            if wait is None:
                reset = state.reset_at(now)
                wait = reset - now if reset else self.error_cooldown
            self._cool(state, now + wait, f"rate limited (HTTP 429) for {wait:.0f} s")
        elif status in (401, 403):
            state.errors += 1
            state.status, state.reason = "failed", f"HTTP {status}: the provider refused this key"
            state.last_error = state.reason
            if self.board is not None:
                self.board.changed(state)
        elif status >= 500:
            self._cool(state, now + self.error_cooldown, f"HTTP {status}")

    def observe_failure(self, state: KeyState, reason: str, now: float) -> None:
        state.requests += 1
        if self.board is not None:
            self.board.counted(state, 1)
        self._cool(state, now + self.error_cooldown, reason)

    def _cool(self, state: KeyState, until: float, reason: str) -> None:
        state.errors += 1
        state.status, state.until, state.reason, state.last_error = "cooling", until, reason, reason
        if self.board is not None:
            self.board.changed(state)

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        """Every key's state for /accounts and `turnout keys list`: masked, never the key."""
        self.sync(now)
        rows = []
        for states in self.states.values():
            for s in states:
                s.available(now)
                rows.append(
                    {
                        "backend": s.backend,
                        "alias": s.alias,
                        "key": mask(s.spec.key),
                        "source": s.spec.source,
                        "status": s.status,
                        "reason": s.reason,
                        "headroom": round(s.headroom(now), 4),
                        "requests": s.requests,
                        "errors": s.errors,
                        "last_error": s.last_error,
                        "cooling_for_s": round(max(s.until - now, 0), 1) if s.status == "cooling" else None,
                        "reset_in_s": round(r - now, 1) if (r := s.reset_at(now)) else None,
                        "limits": {
                            n: {"remaining": lim.remaining, "limit": lim.limit} for n, lim in s.limits.items()
                        },
                        "minutes_to_exhaustion": s.minutes_to_exhaustion(now),
                    }
                )
        return rows

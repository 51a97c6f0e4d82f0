"""What several turnout processes must agree on, behind one small interface: a ``Board``.

Workers on one machine (``turnout proxy --workers N``) and instances on several machines
behind a load balancer serve the same keys and the same backends. What one of them
learns about a key must hold for all: a 429 cools the key everywhere, a 401 fails it
everywhere, the headroom a provider reported is the headroom for every process, and a
backend's ``max_concurrent``/``min_interval_ms`` count every process's requests.

A board is told of news as it happens (``changed``: a cooldown or a failure, at once;
``counted``: one more request, in batches sent by ``flush``) and hands back what others
did through ``sync``, which the pool calls before it picks a key; ``sync`` must be
cheap when nothing changed (it is called per request). ``governor`` gives a backend's
governor whose counts live on the board. Two boards: ``core/shm.py`` (workers of one
machine, shared memory) and ``core/redis_board.py`` (instances on several machines).

Keys are named on a board by ``key_id``: a digest of the provider address and the key,
never the key, so two processes that call a backend or a key by different names still
share its state, and nothing on the board can be used to spend it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple, Protocol

from turnout.core.ratelimit import Limit

if TYPE_CHECKING:
    from turnout.core.governor import Governor
    from turnout.core.pool import KeyState

__all__ = ["Board", "Counts", "KeyNews", "Totals", "key_id"]

STATUSES = ("ok", "cooling", "failed")
LIMIT_NAMES = ("requests", "tokens", "input-tokens", "output-tokens")


def key_id(address: str, key: str) -> bytes:
    """A key's name on a board: 16 bytes that say nothing of the key."""
    return hashlib.blake2b(f"{address}\0{key}".encode(), digest_size=16, person=b"turnout-key").digest()


class KeyNews(NamedTuple):
    """A key as the board knows it."""

    status: str
    until: float
    reason: str
    last_error: str | None
    requests: int
    errors: int
    limits: Mapping[str, Limit]
    limits_at: float  # when the limits were reported (0: never)


class Totals(NamedTuple):
    """Every process on the board together, for ``/status``."""

    requests: int
    in_flight: int
    processes: int
    waiting: int = 0  # requests waiting for a key or a governor slot


class Board(Protocol):
    def governor(self, backend: str) -> Governor:
        """``backend``'s governor, counting on the board (its limits are set by the caller)."""
        ...

    def changed(self, state: KeyState) -> None:
        """``state`` was cooled or failed here: every process sees it from now on."""
        ...

    def counted(self, state: KeyState, errors: int) -> None:
        """``state`` took one more request (``errors``: 1 if it failed); sent by ``flush``."""
        ...

    def revived(self, states: Iterable[KeyState]) -> None:
        """A reloaded config gives these failed keys another chance, everywhere."""
        ...

    def sync(self, states: Mapping[bytes, KeyState], now: float) -> None:
        """Others' news into ``states`` (by ``key_id``); nearly free when there is none."""
        ...

    def flush(self, states: Iterable[KeyState], now: float) -> None:
        """Send the counts and the headroom batched since the last flush."""
        ...

    def tally(self, requests: int, in_flight: int, waiting: int) -> None:
        """This process's own request counts, for ``totals``."""
        ...

    def totals(self) -> Totals | None:
        """Every process's counts together; None when the board does not keep them."""
        ...

    def first(self, what: str) -> bool:
        """True for the first process to ask about ``what`` (a warning said once, not per
        worker); True everywhere on a board whose processes keep logs of their own."""
        ...

    def close(self) -> None: ...


class Counts:
    """Requests and errors per key, batched between two flushes of a board."""

    def __init__(self) -> None:
        self.by_id: dict[bytes, list[int]] = {}

    def add(self, state: KeyState, errors: int) -> None:
        counts = self.by_id.get(state.id)
        if counts is None:
            self.by_id[state.id] = [1, errors]
        else:
            counts[0] += 1
            counts[1] += errors

    def take(self) -> dict[bytes, list[int]]:
        """What was counted since the last take."""
        taken, self.by_id = self.by_id, {}
        return taken


def apply(state: KeyState, news: KeyNews) -> None:
    """A key's state as the board has it (headroom only if newer than this process's)."""
    state.status, state.until, state.reason, state.last_error = (
        news.status,
        news.until,
        news.reason,
        news.last_error,
    )
    state.requests, state.errors = news.requests, news.errors
    if news.limits_at > state.limits_at:
        state.adopt(dict(news.limits), news.limits_at)

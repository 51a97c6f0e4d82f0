"""The board of instances on several machines: Redis (``state: {redis: redis://…}``).

Each key is a Redis hash named by its ``key_id`` (a digest: never the key). A cooldown
or a failure is written at once and announced on a channel; counts and headroom go in
one pipeline per ``flush``. A thread of this process listens on the channel and reads
the announced keys, so ``sync`` on the event loop only drains a queue. A governor's
slots are leases in a sorted set, taken and given back by Lua scripts on Redis's own
clock: atomic across instances, and a crashed instance's leases expire (``LEASE``).

If Redis cannot be reached, turnout keeps serving: each instance falls back to what it
knows itself (its own cooldowns, its own governor counts) and says so once in the log,
then again when Redis is back.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import redis  # the optional dependency (`pip install 'turnout[redis]'`): imported only when used

from turnout.core.governor import BUSY, Governor
from turnout.core.ratelimit import Limit
from turnout.core.shared import Counts, KeyNews, Totals, apply

if TYPE_CHECKING:
    from turnout.core.pool import KeyState

__all__ = ["RedisBoard"]

logger = logging.getLogger(__name__)

LEASE = 600  # seconds a governor slot is held at most (a crashed instance's come back then)
KEEP = 86400  # seconds a key's hash outlives its last news
TIMEOUT = 0.5  # seconds for any one Redis call before falling back

_FLUSH = """
redis.call('HINCRBY', KEYS[1], 'requests', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'errors', ARGV[2])
local at = tonumber(redis.call('HGET', KEYS[1], 'limits_at') or '0')
if tonumber(ARGV[4]) > at then
  redis.call('HSET', KEYS[1], 'limits', ARGV[3], 'limits_at', ARGV[4])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local most = tonumber(ARGV[1])
if most >= 0 and redis.call('ZCARD', KEYS[1]) >= most then return '-1' end
local last = tonumber(redis.call('GET', KEYS[2]) or '-1e18')
local gap = last + tonumber(ARGV[2]) - now
if gap > 0 then return tostring(gap) end
redis.call('SET', KEYS[2], tostring(now), 'EX', 3600)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return '0'
"""


class RedisBoard:
    """Instances' board (``core/shared.py`` says what a board is)."""

    def __init__(self, url: str, *, instance: str, prefix: str = "turnout") -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
        self._errors = (redis.RedisError, OSError)
        self.instance, self.prefix = instance, prefix
        self._channel = f"{prefix}:news"
        self._flush_script = self._redis.register_script(_FLUSH)
        self._take_script = self._redis.register_script(_TAKE)
        self._inbox: queue.SimpleQueue[tuple[bytes, KeyNews]] = queue.SimpleQueue()
        self._counts = Counts()  # requests and errors not sent yet
        self._primed: set[bytes] = set()
        self._down = False
        self._stop = threading.Event()
        self._reprime = threading.Event()  # set by the listener each time it subscribes
        self._listener = threading.Thread(target=self._listen, name="turnout-redis", daemon=True)
        self._listener.start()

    # -- the Board interface ------------------------------------------------------------

    def governor(self, backend: str) -> Governor:
        return RedisGovernor(self, backend)

    def changed(self, state: KeyState) -> None:
        fields = {
            "status": state.status,
            "until": repr(state.until),
            "reason": state.reason,
            "last_error": state.last_error or "",
        }
        self._call(self._announce, state.id, fields)

    def counted(self, state: KeyState, errors: int) -> None:
        self._counts.add(state, errors)

    def revived(self, states: Iterable[KeyState]) -> None:
        for state in states:
            self._call(self._revive, state.id)

    def sync(self, states: Mapping[bytes, KeyState], now: float) -> None:
        if self._reprime.is_set():  # (re)subscribed: what was said meanwhile is in the hashes
            self._reprime.clear()
            self._primed.clear()
        if len(self._primed) != len(states) and not self._down:
            fresh = [kid for kid in states if kid not in self._primed]
            self._primed.update(fresh)
            self._call(self._prime, fresh)
        while True:
            try:
                kid, news = self._inbox.get_nowait()
            except queue.Empty:
                return
            if (state := states.get(kid)) is not None:
                apply(state, news)

    def flush(self, states: Iterable[KeyState], now: float) -> None:
        deltas = self._counts.take()
        fresh = [s for s in states if s.id in deltas or s.pending is not None]
        if fresh:
            for state in fresh:
                state.settle()
            self._call(self._send, fresh, deltas)

    def tally(self, requests: int, in_flight: int, waiting: int) -> None:
        return None

    def totals(self) -> Totals | None:
        return None  # each instance answers for itself

    def first(self, what: str) -> bool:
        return True  # each instance has its own log

    def close(self) -> None:
        self._stop.set()
        self._listener.join(timeout=2)
        self._redis.close()

    # -- talking to Redis ---------------------------------------------------------------

    def _name(self, kid: bytes) -> str:
        return f"{self.prefix}:key:{kid.hex()}"

    def _call(self, fn: Any, *args: Any) -> Any:
        """``fn(*args)``, or None with Redis down (said once, and again when it is back)."""
        try:
            result = fn(*args)
        except self._errors as e:
            if not self._down:
                self._down = True
                logger.warning(
                    "Redis (state.redis) is unreachable (%s): each instance uses its own key state "
                    "until it is back",
                    type(e).__name__,
                )
            return None
        if self._down:
            self._down = False
            self._primed.clear()  # read everything again: others went on meanwhile
            logger.warning("Redis (state.redis) is reachable again: key state is shared again")
        return result

    def _announce(self, kid: bytes, fields: dict[str, str]) -> None:
        pipe = self._redis.pipeline()
        pipe.hset(self._name(kid), mapping=dict(fields))  # type: ignore[arg-type]
        pipe.expire(self._name(kid), KEEP)
        pipe.publish(self._channel, kid.hex())
        pipe.execute()

    def _revive(self, kid: bytes) -> None:
        name = self._name(kid)
        if self._redis.hget(name, "status") == b"failed":
            self._announce(kid, {"status": "ok", "reason": ""})

    def _send(self, states: list[KeyState], deltas: dict[bytes, list[int]]) -> None:
        pipe = self._redis.pipeline()
        for state in states:
            requests, errors = deltas.get(state.id, (0, 0))
            limits = json.dumps([list(lim) for lim in state.limits.values()])
            self._flush_script(
                keys=[self._name(state.id)],
                args=[requests, errors, limits, repr(state.limits_at), KEEP],
                client=pipe,
            )
            pipe.publish(self._channel, state.id.hex())
        pipe.execute()

    def _prime(self, kids: list[bytes]) -> None:
        pipe = self._redis.pipeline()
        for kid in kids:
            pipe.hgetall(self._name(kid))
        for kid, raw in zip(kids, pipe.execute(), strict=True):
            if raw:
                self._inbox.put((kid, _news(raw)))

    def _listen(self) -> None:
        """The listener thread: announced keys, read and queued for ``sync``. News
        published while it was not subscribed (starting, or Redis away) is not replayed by
        Redis, so each time it is subscribed again every key is read again."""
        while not self._stop.is_set():
            pubsub = self._redis.pubsub()  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self._channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        self._reprime.set()
                        continue
                    try:
                        kid = bytes.fromhex(message["data"].decode())
                    except (ValueError, AttributeError):
                        continue  # not a key id: someone else's on our channel
                    raw = self._redis.hgetall(self._name(kid))
                    if raw:
                        self._inbox.put((kid, _news(raw)))
            except self._errors:
                self._stop.wait(1.0)  # Redis is down: the loop says so; try again in a second
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()


def _news(raw: Mapping[Any, Any]) -> KeyNews:
    def text(name: str) -> str:
        value = raw.get(name.encode(), b"")
        return value.decode(errors="replace") if isinstance(value, bytes) else str(value)

    def number(name: str) -> float:
        try:
            return float(text(name) or 0)
        except ValueError:
            return 0.0

    limits: dict[str, Limit] = {}
    try:
        for item in json.loads(text("limits") or "[]"):
            name, remaining, limit, reset_at = item
            limits[str(name)] = Limit(str(name), float(remaining), float(limit), reset_at)
    except (ValueError, TypeError):
        limits = {}
    status = text("status")
    return KeyNews(
        status if status in ("ok", "cooling", "failed") else "ok",
        number("until"),
        text("reason"),
        text("last_error") or None,
        int(number("requests")),
        int(number("errors")),
        limits,
        number("limits_at"),
    )


class RedisGovernor(Governor):
    """A governor whose slots are leases in Redis; counts locally while Redis is down."""

    def __init__(self, board: RedisBoard, backend: str) -> None:
        super().__init__()
        self._board = board
        self._slots = f"{board.prefix}:gov:{backend}"
        self._last = f"{board.prefix}:gov:{backend}:last"
        self._leases: deque[str] = deque()
        self._ids = itertools.count()

    @property
    def in_flight(self) -> int:
        count = self._board._call(self._count)
        return int(count) if count is not None else super().in_flight

    def _count(self) -> int:
        return int(self._board._redis.zcount(self._slots, time.time(), "+inf"))

    def try_start(self, now: float) -> float:
        lease = f"{self._board.instance}:{next(self._ids)}"
        most = self.max_concurrent if self.max_concurrent is not None else -1
        answer = self._board._call(
            self._board._take_script, [self._slots, self._last], [most, self.min_interval, lease, LEASE]
        )
        if answer is None:  # Redis is down: this instance's own count
            return super().try_start(now)
        wait = float(answer)
        if wait < 0:
            return BUSY
        if wait > 0:
            return wait
        self._leases.append(lease)
        return 0.0

    def finish(self) -> None:
        if not self._leases:
            super().finish()
            return
        lease = self._leases.popleft()
        self._board._call(self._board._redis.zrem, self._slots, lease)

"""The board of the workers of one machine: a small shared-memory file.

Why shared memory and not the SQLite store: what happens per request must cost next to
nothing. ``bench/shared_state.py`` measured both: a governor slot taken and given back
costs 2 µs here against 24 µs in a SQLite transaction, and the check for news before a
pick 0.09 µs (one 8-byte read) against 2.9 µs (``PRAGMA data_version``); the rare writes
(a cooldown, the 50 ms batch of counts) cost about the same either way. The
file holds a header (a news counter, bumped by every change), one row per worker (its
request counts) and fixed-size slots, one per key or governor, found by hashing their
name with linear probing. Every write takes an ``flock`` on the file, held for a few
microseconds and never across an ``await``; reading the news counter takes none, so a
``sync`` with no news is one 8-byte read.

A governor's in-flight count is one column per worker, so a worker that dies (holding
slots) is forgotten by zeroing its column (``forget_worker``, called by the supervisor
before it starts the replacement).
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import struct
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from turnout.core.governor import BUSY, Governor
from turnout.core.ratelimit import Limit
from turnout.core.shared import LIMIT_NAMES, STATUSES, Counts, KeyNews, Totals, apply, key_id

if TYPE_CHECKING:
    from collections.abc import Iterator

    from turnout.core.pool import KeyState

__all__ = ["ShmBoard", "create_board_file"]

MAGIC = b"TURNOUT\x01"
MAX_WORKERS = 64
SLOTS = 4096  # keys, governors, and things said once (at most 1024 per worker)
SLOT_SIZE = 512
_HEADER = struct.Struct("<8sQ")  # magic, news counter
_WORKER = struct.Struct("<qqqq")  # pid, requests, in flight, waiting
_WORKERS_AT = 64
_SLOTS_AT = _WORKERS_AT + MAX_WORKERS * _WORKER.size
SIZE = _SLOTS_AT + SLOTS * SLOT_SIZE
_ID = struct.Struct("<16sB")  # name digest, kind (0 free, 1 key, 2 governor)
_KEY = struct.Struct("<16sB" + "B6xdqqdB7x" + "Bxxxxxxxddd" * 4 + "120s120s")
# A governor's slot: name digest and kind (as every slot), the last start (a double at
# byte 24), then one in-flight count per worker (int32s from byte 32).
_STATUS = struct.Struct("<B6xd")  # a key's status and the end of its cooldown, from byte 17
_TEXTS = struct.Struct("<120s120s")  # its reason and last error, the slot's last fields
_TEXTS_AT = _KEY.size - _TEXTS.size
_COLUMN = struct.Struct("<i")
_COLUMNS = struct.Struct("<" + "i" * MAX_WORKERS)
_LAST = struct.Struct("<d")
_NEWS = struct.Struct("<Q")
KEY, GOVERNOR, SAID = 1, 2, 3
TEXT = 120  # bytes of a reason kept on the board


def create_board_file(path: Path) -> None:
    """A fresh, zeroed board at ``path`` (0600): made by the supervisor before any worker."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.ftruncate(fd, SIZE)
        os.pwrite(fd, _HEADER.pack(MAGIC, 0), 0)
    finally:
        os.close(fd)


class ShmBoard:
    """The workers' board (``core/shared.py`` says what a board is); ``worker`` is this
    process's index, 0 to ``MAX_WORKERS - 2`` (None: the supervisor, which serves nothing)."""

    def __init__(self, path: Path, worker: int | None = None) -> None:
        if worker is not None and not 0 <= worker < MAX_WORKERS - 1:  # the last row: the dead's counts
            raise ValueError(f"worker index {worker} is not in 0..{MAX_WORKERS - 2}")
        self.path, self.worker = path, worker
        self._fd = os.open(path, os.O_RDWR)
        try:
            self._mm = mmap.mmap(self._fd, SIZE)
        except (OSError, ValueError):
            os.close(self._fd)
            raise
        if self._mm[:8] != MAGIC:
            self.close()
            raise ValueError(f"{path} is not a turnout workers' board")
        self._offsets: dict[bytes, int] = {}
        self._depth = 0  # nesting of _locked
        self._seen = -1  # the news counter at the last sync
        self._counts = Counts()  # requests and errors not sent yet
        if worker is not None:
            _WORKER.pack_into(self._mm, self._row(worker), os.getpid(), 0, 0, 0)

    # -- the Board interface ------------------------------------------------------------

    def governor(self, backend: str) -> Governor:
        if self.worker is None:
            raise RuntimeError("the supervisor's board has no governors: it serves nothing")
        return SharedGovernor(self, self._offset(key_id("governor", backend), GOVERNOR))

    def changed(self, state: KeyState) -> None:
        with self._locked():
            at = self._offset(state.id, KEY)
            _STATUS.pack_into(self._mm, at + 17, STATUSES.index(state.status), state.until)
            _TEXTS.pack_into(
                self._mm,
                at + _TEXTS_AT,
                state.reason.encode()[:TEXT],
                (state.last_error or "").encode()[:TEXT],
            )
            self._bump()

    def counted(self, state: KeyState, errors: int) -> None:
        self._counts.add(state, errors)

    def revived(self, states: Iterable[KeyState]) -> None:
        states = list(states)
        if not states:  # the usual reload: nothing failed, no news for anyone
            return
        with self._locked():
            for state in states:
                offset = self._offset(state.id, KEY)
                news = self._read_key(offset)
                if news.status == "failed":
                    self._write_key(offset, news._replace(status="ok", reason=""))
            self._bump()

    def sync(self, states: Mapping[bytes, KeyState], now: float) -> None:
        counter = _NEWS.unpack_from(self._mm, 8)[0]
        if counter == self._seen:
            return
        with self._locked():
            self._seen = _NEWS.unpack_from(self._mm, 8)[0]
            for kid, state in states.items():
                offset = self._offsets.get(kid) or self._find(kid)
                if offset is not None:
                    apply(state, self._read_key(offset))

    def flush(self, states: Iterable[KeyState], now: float) -> None:
        """The batched counts, and the headroom this worker learned that is newer."""
        deltas = self._counts.take()
        fresh = [s for s in states if s.id in deltas or s.pending is not None]
        if not fresh:
            return
        for state in fresh:
            state.settle()
        with self._locked():
            for state in fresh:
                offset = self._offset(state.id, KEY)
                news = self._read_key(offset)
                requests, errors = deltas.get(state.id, (0, 0))
                news = news._replace(requests=news.requests + requests, errors=news.errors + errors)
                if state.limits_at > news.limits_at:
                    news = news._replace(limits=state.limits, limits_at=state.limits_at)
                self._write_key(offset, news)
            self._bump()

    def tally(self, requests: int, in_flight: int, waiting: int) -> None:
        if self.worker is not None:
            _WORKER.pack_into(self._mm, self._row(self.worker), os.getpid(), requests, in_flight, waiting)

    def totals(self) -> Totals:
        rows = [_WORKER.unpack_from(self._mm, self._row(i)) for i in range(MAX_WORKERS)]
        live = [r for r in rows if r[0] > 0]  # the dead workers' row has pid -1
        return Totals(sum(r[1] for r in rows), sum(r[2] for r in live), len(live), sum(r[3] for r in live))

    def first(self, what: str) -> bool:
        """A slot per thing said: the worker that makes it is the first."""
        name = key_id("said", what)
        with self._locked():
            if self._find(name) is not None:
                return False
            with contextlib.suppress(RuntimeError):  # the board is full: said again rather than never
                self._offset(name, SAID)
            return True

    def close(self) -> None:
        mm, self._mm = getattr(self, "_mm", None), None  # type: ignore[assignment]
        if mm is not None:
            mm.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- the supervisor's side ----------------------------------------------------------

    def forget_worker(self, worker: int) -> None:
        """A worker died: the governor slots it held are free, its counts kept in the totals'
        place of a dead process (requests stay counted, nothing is in flight)."""
        with self._locked():
            for i in range(SLOTS):
                at = _SLOTS_AT + i * SLOT_SIZE
                if self._mm[at + 16] == GOVERNOR:
                    _COLUMN.pack_into(self._mm, at + 32 + 4 * worker, 0)
            requests = _WORKER.unpack_from(self._mm, self._row(worker))[1]
            _WORKER.pack_into(self._mm, self._row(worker), 0, 0, 0, 0)
            self._carry(requests)
            self._bump()

    def _carry(self, requests: int) -> None:
        """A dead worker's requests go to the last row, which no worker uses."""
        last = self._row(MAX_WORKERS - 1)
        total = _WORKER.unpack_from(self._mm, last)[1]
        _WORKER.pack_into(self._mm, last, -1, total + requests, 0, 0)

    # -- the file -----------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The file's lock; re-entrant (``flock`` is not: an inner unlock would free it)."""
        if self._depth == 0:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _bump(self) -> None:
        _NEWS.pack_into(self._mm, 8, _NEWS.unpack_from(self._mm, 8)[0] + 1)

    @staticmethod
    def _row(worker: int) -> int:
        return _WORKERS_AT + worker * _WORKER.size

    def _find(self, name: bytes) -> int | None:
        """The slot of ``name``, or None; caches what it finds."""
        start = int.from_bytes(name[:4], "little") % SLOTS
        for step in range(SLOTS):
            at = _SLOTS_AT + ((start + step) % SLOTS) * SLOT_SIZE
            digest, kind = _ID.unpack_from(self._mm, at)
            if kind == 0:
                return None
            if digest == name:
                self._offsets[name] = at
                return at
        return None

    def _offset(self, name: bytes, kind: int) -> int:
        """The slot of ``name``, made if it is new (under the lock, or taking it)."""
        if (at := self._offsets.get(name)) is not None:
            return at
        with self._locked():
            if (at := self._find(name)) is not None:
                return at
            start = int.from_bytes(name[:4], "little") % SLOTS
            for step in range(SLOTS):
                at = _SLOTS_AT + ((start + step) % SLOTS) * SLOT_SIZE
                if self._mm[at + 16] == 0:
                    _ID.pack_into(self._mm, at, name, kind)
                    self._offsets[name] = at
                    return at
            raise RuntimeError(f"the workers' board is full ({SLOTS} keys and backends)")

    def _read_key(self, at: int) -> KeyNews:
        fields = _KEY.unpack_from(self._mm, at)
        _, _, status, until, requests, errors, limits_at, count = fields[:8]
        limits = {}
        for i in range(min(count, 4)):
            index, remaining, limit, reset_at = fields[8 + 4 * i : 12 + 4 * i]
            if index < len(LIMIT_NAMES):  # anything else is not what a worker wrote: skipped
                name = LIMIT_NAMES[index]
                limits[name] = Limit(name, remaining, limit, reset_at if reset_at >= 0 else None)
        reason, last_error = fields[24], fields[25]
        return KeyNews(
            STATUSES[status] if status < len(STATUSES) else "ok",
            until,
            _text(reason),
            _text(last_error) or None,
            requests,
            errors,
            limits,
            limits_at,
        )

    def _write_key(self, at: int, news: KeyNews) -> None:
        limits: list[float | int] = []
        kept = [lim for lim in news.limits.values() if lim.name in LIMIT_NAMES][:4]
        for lim in kept:
            limits += [
                LIMIT_NAMES.index(lim.name),
                lim.remaining,
                lim.limit,
                lim.reset_at if lim.reset_at is not None else -1.0,
            ]
        limits += [0, 0.0, 0.0, -1.0] * (4 - len(kept))
        digest = bytes(self._mm[at : at + 16])
        _KEY.pack_into(
            self._mm,
            at,
            digest,
            KEY,
            STATUSES.index(news.status) if news.status in STATUSES else 0,
            news.until,
            news.requests,
            news.errors,
            news.limits_at,
            len(kept),
            *limits,
            news.reason.encode()[:TEXT],
            (news.last_error or "").encode()[:TEXT],
        )


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\0").decode(errors="replace")


class SharedGovernor(Governor):
    """A governor whose counts are a board slot: one in-flight column per worker. Only
    this worker writes its column (the supervisor zeroes it once the worker is dead),
    so giving a slot back takes no lock."""

    def __init__(self, board: ShmBoard, at: int) -> None:
        super().__init__()
        self._board, self._at = board, at
        assert board.worker is not None
        self._column = at + 32 + 4 * board.worker
        self._held = 0  # what this worker's column says

    @property
    def in_flight(self) -> int:
        return sum(_COLUMNS.unpack_from(self._board._mm, self._at + 32))

    def try_start(self, now: float) -> float:
        board, at = self._board, self._at
        fd = board._fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if self.max_concurrent is not None and (
                sum(_COLUMNS.unpack_from(board._mm, at + 32)) >= self.max_concurrent
            ):
                return BUSY
            gap = _LAST.unpack_from(board._mm, at + 24)[0] + self.min_interval - now
            if gap > 0:
                return float(gap)
            _LAST.pack_into(board._mm, at + 24, now)
            self._held += 1
            _COLUMN.pack_into(board._mm, self._column, self._held)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        return 0.0

    def finish(self) -> None:
        if self._held > 0:
            self._held -= 1
            _COLUMN.pack_into(self._board._mm, self._column, self._held)

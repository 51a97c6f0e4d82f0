"""The analytics store: one SQLite row per request, written in batches.

``record`` only appends the row to a list; ``flush`` hands the pending rows to
``on_rows`` (live counters) and inserts them in one transaction. The analytics addon
flushes every few tens of milliseconds on the event loop. A commit there is cheap and
never waits on the disk: the database is in WAL mode with ``synchronous=NORMAL`` (a
commit is a write into the page cache) and automatic checkpoints are off, so the fsyncs
happen in ``checkpoint``, which the addon runs in a worker thread on its own connection.
An earlier design wrote from a thread of its own; handing the GIL back and forth with
the event loop cost more than the writing (bench/README.md). Rows that cannot be written
(the database locked by another process) stay pending and go with the next flush; old
rows are pruned by ``retention_days``.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from turnout.core.errors import TurnoutError

__all__ = ["Record", "Store", "StoreError", "read_records", "read_rows"]

logger = logging.getLogger(__name__)


class StoreError(TurnoutError):
    """The analytics database cannot be opened or read."""


class Record(NamedTuple):
    """One request. A tuple, so it goes to ``executemany`` as it is."""

    ts: float
    dialect: str
    model_asked: str
    route: str
    backend: str
    key_alias: str
    model_served: str
    stream: int
    status: int
    attempts: int
    latency_ms: float
    ttfb_ms: float | None
    tokens_in: int
    tokens_out: int
    cache_read: int
    cache_write: int
    reasoning: int
    cost: float | None
    error: str | None
    aborted: int
    estimated: int = 0  # the tokens are turnout's estimate: the upstream reported none
    entry: str = ""  # how it came: "" the local endpoint, "intercepted <host>" the HTTPS proxy
    scrubbed: int = 0  # secrets replaced by placeholders in what the backend got (core/scrub.py)


COLUMNS = list(Record._fields)
_SQL = {"float": "REAL", "int": "INTEGER", "str": "TEXT"}


def _column_type(annotation: object) -> str:
    return _SQL[str(getattr(annotation, "__forward_arg__", annotation)).split()[0]]


SCHEMA = (
    "CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY, "
    + ", ".join(f"{name} {_column_type(kind)}" for name, kind in Record.__annotations__.items())
    + "); CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);"
)
_INSERT = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def connect(path: Path, *, timeout: float = 10.0) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, timeout=timeout)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints (fsyncs) run in `checkpoint`
        db.executescript(SCHEMA)
        _add_missing_columns(db)
    except sqlite3.Error as e:
        raise StoreError(f"cannot open the analytics database {path}: {e}; check analytics.path") from e
    return db


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """A store written by an older turnout lacks newer columns: add them (empty)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(requests)")}
    for name, kind in Record.__annotations__.items():
        if name not in have:
            db.execute(f"ALTER TABLE requests ADD COLUMN {name} {_column_type(kind)}")


class Store:
    """Not thread-safe except ``checkpoint``: ``record``, ``flush`` and ``close`` belong to
    one thread (the event loop's)."""

    CHECKPOINT_ROWS = 5000  # rows written between checkpoints: keeps the WAL file small
    PRUNE_EVERY = 3600.0  # seconds
    MAX_PENDING = 200_000  # rows kept while the database is locked; beyond, the oldest go

    def __init__(
        self,
        path: Path,
        *,
        retention_days: float = 90.0,
        on_rows: Callable[[list[Record]], None] | None = None,
        busy_timeout: float = 0.05,
        shared: bool = False,
    ) -> None:
        self.on_rows = on_rows
        self.shared = shared
        self.path = path
        self.retention = retention_days * 86400
        self.written = 0
        self._pending: list[Record] = []
        self._unsaved: list[Record] = []  # handed to on_rows, not yet on disk
        self._since_checkpoint = 0
        # Workers starting together open one new store: this one may wait while another
        # writes its schema; the event loop's writes after that never wait long.
        self._db = connect(path)
        self._db.execute(f"PRAGMA busy_timeout={max(1, round(busy_timeout * 1000))}")
        self._last_prune = time.monotonic()
        self.prune()
        # Shared by several workers: every worker's rows reach ``on_rows`` by reading the
        # table past the last row seen (this one's too), so each worker counts them all.
        self.opened_at = self._last_id()

    def _last_id(self) -> int:
        try:
            return int(self._db.execute("SELECT COALESCE(MAX(id), 0) FROM requests").fetchone()[0])
        except sqlite3.Error:
            return 0

    def record(self, row: Record) -> None:
        """Never touches the disk: the row waits for ``flush``."""
        self._pending.append(row)

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._unsaved)

    @property
    def checkpoint_due(self) -> bool:
        return self._since_checkpoint >= self.CHECKPOINT_ROWS

    def flush(self) -> int:
        """Write every pending row; returns how many reached the database."""
        rows, self._pending = self._pending, []
        if rows and self.on_rows is not None and not self.shared:
            self.on_rows(rows)
        rows = self._unsaved + rows
        if not rows:
            self._tail()
            return 0
        try:
            with self._db:
                others = self._write_shared(rows) if self.shared and self.on_rows is not None else None
                if others is None:
                    self._db.executemany(_INSERT, rows)
        except sqlite3.Error as e:
            self._keep(rows, e)
            self._tail()
            return 0
        if others is not None and self.on_rows is not None:  # read past this worker's own rows
            self.on_rows(others + rows)
        else:
            self._tail()
        self._unsaved = []
        self.written += len(rows)
        self._since_checkpoint += len(rows)
        if time.monotonic() - self._last_prune > self.PRUNE_EVERY:
            self.prune()
        return len(rows)

    TAIL_BATCH = 20_000  # rows read per flush at most (a backlog is caught up over several)

    def _write_shared(self, rows: list[Record]) -> list[Record] | None:
        """Shared, under the write lock: the other workers' rows since the last look, then
        this worker's own, which then need not be read back (they take the ids after the
        last, one after the other, while the lock is held). None, having written nothing,
        when there are more of the others' than one look reads: ``_tail`` reads on."""
        self._db.execute("BEGIN IMMEDIATE")
        others = self._rows_after(self.opened_at)
        if len(others) >= self.TAIL_BATCH:
            return None
        self._db.executemany(_INSERT, rows)
        self.opened_at = int(self._db.execute("SELECT last_insert_rowid()").fetchone()[0])
        return [Record(*row[1:]) for row in others]

    def _rows_after(self, last: int) -> list[Any]:
        return self._db.execute(
            f"SELECT id, {', '.join(COLUMNS)} FROM requests WHERE id > ? ORDER BY id LIMIT ?",
            (last, self.TAIL_BATCH),
        ).fetchall()

    def _tail(self) -> None:
        """Shared: the rows written since the last look (by any worker) to ``on_rows``."""
        if not self.shared or self.on_rows is None:
            return
        try:
            found = self._rows_after(self.opened_at)
        except sqlite3.Error as e:
            logger.debug("analytics rows of other workers not read this time: %s", e)
            return
        if found:
            self.opened_at = found[-1][0]
            self.on_rows([Record(*row[1:]) for row in found])

    def _keep(self, rows: list[Record], error: sqlite3.Error) -> None:
        if not self._unsaved:
            logger.warning("analytics rows kept in memory for now: %s", error)
        overflow = len(rows) - self.MAX_PENDING
        if overflow > 0:
            logger.warning("%d analytics rows dropped: the database stays unwritable", overflow)
            rows = rows[overflow:]
        self._unsaved = rows

    def checkpoint(self) -> None:
        """Copy the WAL into the database (the fsyncs). Safe from any thread: its own connection."""
        self._since_checkpoint = 0
        db = sqlite3.connect(self.path, timeout=1)
        try:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as e:
            logger.debug("analytics checkpoint skipped: %s", e)
        finally:
            db.close()

    def prune(self) -> int:
        self._last_prune = time.monotonic()
        try:
            with self._db:
                return self._db.execute(
                    "DELETE FROM requests WHERE ts < ?", (time.time() - self.retention,)
                ).rowcount
        except sqlite3.Error as e:
            logger.warning("old analytics rows not pruned this time: %s", e)
            return 0

    def close(self) -> None:
        """Write everything pending (waiting up to 10 s for a lock), then close."""
        self._db.execute("PRAGMA busy_timeout=10000")
        self.flush()
        if self._unsaved:
            logger.warning("%d analytics rows could not be written", len(self._unsaved))
        with contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._db.close()


def read_rows(path: Path, since: float | None = None) -> list[dict[str, Any]]:
    """Rows as dicts, oldest first; for the views and `turnout stats` (any process)."""
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        db.row_factory = sqlite3.Row
        query = "SELECT * FROM requests" + (" WHERE ts >= ?" if since is not None else "") + " ORDER BY ts"
        return [dict(r) for r in db.execute(query, (since,) if since is not None else ())]
    except sqlite3.Error as e:
        raise StoreError(f"cannot read the analytics database {path}: {e}") from e
    finally:
        db.close()


def read_records(
    path: Path, since: float, until: float, limit: int, *, through_id: int | None = None
) -> list[Record]:
    """The newest ``limit`` records with ``since <= ts < until`` (or, ``through_id`` given,
    ``since <= ts`` and ``id <= through_id``: a shared store's rows before it was opened),
    oldest first: what a restarted proxy's live window starts from (``core/live.py``)."""
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        end, bound = ("id <= ?", through_id) if through_id is not None else ("ts < ?", until)
        query = f"SELECT {', '.join(COLUMNS)} FROM requests WHERE ts >= ? AND {end} ORDER BY ts DESC LIMIT ?"
        return [Record(*row) for row in reversed(db.execute(query, (since, bound, limit)).fetchall())]
    except sqlite3.Error as e:
        raise StoreError(f"cannot read the analytics database {path}: {e}") from e
    finally:
        db.close()

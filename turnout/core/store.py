"""The analytics store: one SQLite row per request, written off the event loop.

``record`` only puts the row — or a function that builds it — on a queue; a writer
thread builds pending rows, hands them to ``on_rows`` (live counters) and inserts them
in batches (WAL mode, one transaction per batch), so the proxy never waits on the disk
and builds no rows on its hot path. ``close`` drains the queue before returning:
nothing recorded is lost at shutdown. Old rows are pruned by ``retention_days``.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from turnout.core.errors import TurnoutError

__all__ = ["Record", "Store", "StoreError", "read_rows"]

logger = logging.getLogger("turnout")


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


COLUMNS = list(Record._fields)
_SQL = {"float": "REAL", "int": "INTEGER", "str": "TEXT"}
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS requests (id INTEGER PRIMARY KEY, "
    + ", ".join(
        f"{name} {_SQL[str(getattr(kind, '__forward_arg__', kind)).split()[0]]}"
        for name, kind in Record.__annotations__.items()
    )
    + "); CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);"
)
_INSERT = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def connect(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
    except sqlite3.Error as e:
        raise StoreError(f"cannot open the analytics database {path}: {e}; check analytics.path") from e
    return db


class Store:
    def __init__(
        self,
        path: Path,
        *,
        retention_days: float = 90.0,
        batch: int = 500,
        linger: float = 0.05,
        on_rows: Callable[[list[Record]], None] | None = None,
    ) -> None:
        self.on_rows = on_rows
        self.path = path
        self.linger = linger
        self.retention = retention_days * 86400
        self.batch = batch
        self.written = 0
        self._queue: queue.SimpleQueue[Record | Callable[[], Record]] = queue.SimpleQueue()
        self._wake = threading.Event()  # set to write now (flush, close)
        self._stopping = False
        self.queued = 0
        self._db = connect(path)
        self.prune()
        self._thread = threading.Thread(target=self._write_loop, name="turnout-store", daemon=True)
        self._thread.start()

    def record(self, row: Record | Callable[[], Record]) -> None:
        """Never blocks: the row (or the function that builds it) goes to the store's thread."""
        self.queued += 1
        self._queue.put(row)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every row recorded so far is on disk (for readers that need them)."""
        target, deadline = self.queued, time.monotonic() + timeout
        self._wake.set()
        while self.written < target and time.monotonic() < deadline:
            time.sleep(0.002)

    def _write_loop(self) -> None:
        """Wake every ``linger`` seconds (or at close) and write whatever has queued.

        The writer never blocks on the queue itself: a thread waiting in ``get`` would be
        woken, and take the GIL from the event loop, for every single record.
        """
        last_prune = time.monotonic()
        while True:
            self._wake.wait(self.linger)
            self._wake.clear()
            stopping = self._stopping
            rows: list[Record] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, Record):
                    rows.append(item)
                    continue
                try:
                    rows.append(item())
                except Exception:  # one bad row must not stop the writer
                    logger.exception("turnout: could not build an analytics row")
                    self.written += 1
            if rows and self.on_rows is not None:
                self.on_rows(rows)
            for start in range(0, len(rows), self.batch):
                self._insert(rows[start : start + self.batch])
            if stopping:
                return
            if time.monotonic() - last_prune > 3600:
                self.prune()
                last_prune = time.monotonic()

    def _insert(self, rows: list[Record]) -> None:
        with self._db:
            self._db.executemany(_INSERT, rows)
        self.written += len(rows)

    def prune(self) -> int:
        with self._db:
            return self._db.execute(
                "DELETE FROM requests WHERE ts < ?", (time.time() - self.retention,)
            ).rowcount

    def close(self) -> None:
        """Write everything queued, then stop the writer."""
        self._stopping = True
        self._wake.set()
        self._thread.join()
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

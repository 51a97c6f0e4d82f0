"""Recent Responses answers, kept so ``previous_response_id`` works on any backend.

OpenAI keeps a response for the client to continue from; another backend keeps nothing,
so turnout keeps what it translated: the input items of the request (its own history
included) and the output items of the answer, under the response's id. A later request
naming that id gets the items put in front of its input. Only answers the client did not
ask to forget (``store`` not false) are kept; Codex sends ``store: false`` and its full
history, and needs none of this.

Bounded three ways: entries live ``ttl`` seconds, at most ``entries`` are kept (the
oldest go first; pruned every ``PRUNE_EVERY`` puts, so a few hundred more may wait a
moment), and one over ``max_bytes`` is not kept at all. Written ``BATCH`` at a time (a
crash loses at most the last few; a clean stop writes them), or each at once when
several workers share the database (``batch=1``: the next turn may reach another
worker). Kept in SQLite beside the analytics database, so a restarted proxy still
knows them (in memory with no analytics); a database that fails is logged and turnout carries on without it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson

__all__ = ["BATCH", "PRUNE_EVERY", "ResponseMemory"]

BATCH = 32  # answers written in one transaction
PRUNE_EVERY = 256

logger = logging.getLogger(__name__)


class ResponseMemory:
    def __init__(
        self,
        path: Path | None,
        *,
        ttl: float = 3600.0,
        entries: int = 2000,
        max_bytes: int = 8 * 2**20,
        batch: int = BATCH,
    ) -> None:
        self.path, self.ttl, self.entries, self.max_bytes = path, ttl, entries, max_bytes
        self.batch = batch
        self._db: sqlite3.Connection | None = None
        self._puts = 0  # since the last pruning
        self._pending: dict[str, tuple[float, bytes]] = {}  # kept, not yet written

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            target = str(self.path) if self.path is not None else ":memory:"
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # commits without a disk flush each
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS responses (id TEXT PRIMARY KEY, created REAL, items BLOB)"
            )
            self._db.execute("CREATE INDEX IF NOT EXISTS responses_created ON responses (created)")
        return self._db

    def put(self, response_id: str, items: list[dict[str, Any]], now: float | None = None) -> bool:
        """Keep ``items`` under ``response_id``; False when they are too large to keep.
        Written in batches (``BATCH``): a commit per answer would cost more than the answer."""
        now = time.time() if now is None else now
        blob = orjson.dumps(items)
        if len(blob) > self.max_bytes:
            return False
        self._pending[response_id] = (now, blob)
        if len(self._pending) >= self.batch:
            self.flush()
        return True

    def flush(self) -> None:
        """Write what is pending; expired and surplus entries out every ``PRUNE_EVERY`` puts."""
        if not self._pending:
            return
        rows = [(key, created, blob) for key, (created, blob) in self._pending.items()]
        self._pending.clear()
        try:
            db = self._connect()
            with db:
                db.execute("BEGIN")
                db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", rows)
            self._puts += len(rows)
            if self._puts >= PRUNE_EVERY:
                self.prune(rows[-1][1])
        except sqlite3.Error as e:
            logger.error("could not keep %d responses for previous_response_id (%s)", len(rows), e)

    def prune(self, now: float | None = None) -> None:
        """Expired entries out, and the oldest past ``entries``."""
        now = time.time() if now is None else now
        self._puts = 0
        try:
            db = self._connect()
            db.execute("DELETE FROM responses WHERE created < ?", (now - self.ttl,))
            db.execute(
                "DELETE FROM responses WHERE id NOT IN "
                "(SELECT id FROM responses ORDER BY created DESC LIMIT ?)",
                (self.entries,),
            )
        except sqlite3.Error as e:
            logger.error("could not prune the kept responses (%s)", e)

    def get(self, response_id: str, now: float | None = None) -> list[dict[str, Any]] | None:
        """The items kept under ``response_id``, or None (never kept, expired, or pushed out)."""
        now = time.time() if now is None else now
        row: tuple[float, bytes] | None = self._pending.get(response_id)
        if row is None:
            try:
                db = self._connect()
                row = db.execute(
                    "SELECT created, items FROM responses WHERE id = ?", (response_id,)
                ).fetchone()
            except sqlite3.Error as e:
                logger.error("could not read kept responses (%s)", e)
                return None
        if row is None or row[0] < now - self.ttl:
            return None
        items = orjson.loads(row[1])
        return items if isinstance(items, list) else None

    def close(self) -> None:
        """Write what is pending, then let the database go."""
        self.flush()
        if self._db is not None:
            self._db.close()
            self._db = None

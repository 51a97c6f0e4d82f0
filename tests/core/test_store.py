from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from turnout.core.store import Record, Store, StoreError, read_rows


def record(i: int, ts: float | None = None) -> Record:
    return Record(
        ts=ts or time.time(),
        dialect="openai",
        model_asked=f"m{i}",
        route="r",
        backend="b",
        key_alias="k",
        model_served="m",
        stream=0,
        status=200,
        attempts=1,
        latency_ms=1.5,
        ttfb_ms=1.0,
        tokens_in=3,
        tokens_out=4,
        cache_read=0,
        cache_write=0,
        reasoning=0,
        cost=None,
        error=None,
        aborted=0,
    )


def test_nothing_is_written_before_a_flush_and_close_flushes(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.sqlite3")
    for i in range(2500):
        store.record(record(i))
    assert read_rows(tmp_path / "a.sqlite3") == [] and store.pending == 2500
    store.close()
    rows = read_rows(tmp_path / "a.sqlite3")
    assert [r["model_asked"] for r in rows] == [f"m{i}" for i in range(2500)] and store.written == 2500
    assert sqlite3.connect(tmp_path / "a.sqlite3").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_retention_and_since(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    store = Store(path, retention_days=1)
    store.record(record(1, ts=time.time() - 3 * 86400))
    store.record(record(2, ts=time.time() - 3600))
    store.close()
    assert len(read_rows(path)) == 2
    Store(path, retention_days=1).close()  # opening prunes
    assert [r["model_asked"] for r in read_rows(path)] == ["m2"]
    assert read_rows(path, since=time.time()) == []
    assert read_rows(tmp_path / "missing.sqlite3") == []


def test_unopenable_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(StoreError, match=r"analytics\.path"):
        Store(tmp_path / "dir.sqlite3")


def test_flush_hands_rows_on_and_makes_them_readable(tmp_path: Path) -> None:
    seen: list[Record] = []
    store = Store(tmp_path / "a.sqlite3", on_rows=seen.extend)
    for i in range(10):
        store.record(record(i))
    assert store.flush() == 10 and store.written == 10 and store.pending == 0
    assert [r.model_asked for r in seen] == [f"m{i}" for i in range(10)]
    assert len(read_rows(tmp_path / "a.sqlite3")) == 10
    store.close()


def test_a_locked_database_keeps_rows_until_it_frees(tmp_path: Path) -> None:
    """Another process holding the write lock must neither block the proxy nor lose rows."""
    path = tmp_path / "a.sqlite3"
    store = Store(path, busy_timeout=0.01)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the write lock, as another writer would hold it
    store.record(record(1))
    started = time.monotonic()
    assert store.flush() == 0 and store.pending == 1
    assert time.monotonic() - started < 1
    store.record(record(2))
    assert store.flush() == 0 and store.pending == 2
    other.execute("COMMIT")
    assert store.flush() == 2 and store.pending == 0
    assert [r["model_asked"] for r in read_rows(path)] == ["m1", "m2"]
    store.close()


def test_a_store_opened_while_another_worker_creates_it_waits_for_it(tmp_path: Path) -> None:
    """Workers starting together open one new store: the one that finds it being created
    waits (its writes later never do), rather than running without analytics."""
    path = tmp_path / "a.sqlite3"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")  # the schema being written, as the other worker would
    threading.Timer(0.3, other.execute, ("COMMIT",)).start()
    store = Store(path, busy_timeout=0.01)
    store.record(record(1))
    assert store.flush() == 1
    assert store._db.execute("PRAGMA busy_timeout").fetchone()[0] == 10  # the event loop's waits stay short
    store.close()


def test_checkpoints_run_on_their_own_connection_from_any_thread(tmp_path: Path) -> None:
    path = tmp_path / "a.sqlite3"
    store = Store(path)
    store.CHECKPOINT_ROWS = 100
    for i in range(150):
        store.record(record(i))
    store.flush()
    wal = path.with_name(path.name + "-wal")
    assert store.checkpoint_due and wal.stat().st_size > 0
    thread = threading.Thread(target=store.checkpoint)
    thread.start()
    thread.join()
    assert not store.checkpoint_due
    fresh = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)  # the main file alone, WAL ignored
    assert fresh.execute("SELECT count(*) FROM requests").fetchone()[0] == 150
    store.close()


def test_a_store_written_by_an_older_turnout_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old_columns = [c for c in Record._fields if c != "estimated"]
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE requests (id INTEGER PRIMARY KEY, {', '.join(old_columns)})")
    db.execute(
        f"INSERT INTO requests ({', '.join(old_columns)}) VALUES ({', '.join('?' * len(old_columns))})",
        record(0)[: len(old_columns)],
    )
    db.commit()
    db.close()
    store = Store(path)
    store.record(record(1)._replace(estimated=1))
    store.close()
    rows = read_rows(path)
    assert [(r["model_asked"], r["estimated"]) for r in rows] == [("m0", None), ("m1", 1)]


@pytest.mark.parametrize("batch", [20_000, 3])
def test_workers_sharing_a_store_each_count_every_row_once(tmp_path: Path, batch: int) -> None:
    """Every worker's window gets every worker's rows, once each, whatever the interleaving
    and the database's locks; a worker's own rows are not read back (unless it has a
    backlog of the others' to catch up on first: ``batch``)."""
    path = tmp_path / "a.sqlite3"
    seen: list[list[str]] = [[], [], []]
    read_back: list[int] = [0, 0, 0]

    class Counted(Store):
        def _rows_after(self, last: int) -> list[Any]:
            rows = super()._rows_after(last)
            read_back[stores.index(self)] += len(rows)
            return rows

    stores: list[Store] = []
    for i in range(3):
        stores.append(
            Counted(path, shared=True, on_rows=lambda rows, i=i: seen[i].extend(r.model_asked for r in rows))
        )
        stores[-1].TAIL_BATCH = batch
    n = 0
    other = sqlite3.connect(path, isolation_level=None)
    for step in range(40):
        store = stores[step % 3]
        for _ in range(step % 4):
            n += 1
            store.record(record(n))
        if step % 7 == 3:
            other.execute("BEGIN IMMEDIATE")  # a lock: this flush keeps its rows for the next
            assert store.flush() == 0
            other.execute("COMMIT")
        else:
            store.flush()
    for _ in range(n // batch + 2):  # a backlog is read a batch per flush
        for store in stores:
            store.flush()
    every = sorted(f"m{i}" for i in range(1, n + 1))
    assert [sorted(s) for s in seen] == [every] * 3
    if batch > n:
        assert sum(read_back) == 2 * n  # each row read by the two other workers only
    for store in stores:
        store.close()

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

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


def test_writes_in_the_background_and_close_drains(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.sqlite3")
    for i in range(2500):
        store.record(record(i))
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


def test_flush_makes_recorded_rows_readable_at_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.sqlite3", linger=30)  # the writer would otherwise sleep for 30 s
    for i in range(10):
        store.record(record(i))
    store.flush()
    assert len(read_rows(tmp_path / "a.sqlite3")) == 10 and store.written == store.queued == 10
    store.close()

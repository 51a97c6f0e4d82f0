"""Benchmark: what sharing key state between workers costs per request, shared memory
(``core/shm.py``, what turnout uses) against the same operations on SQLite (WAL,
``synchronous=NORMAL``, the settings of the analytics store), measured in one run.

    uv run python bench/shared_state.py [--n 20000]

Per request a worker does, at most: take in the news before a pick (usually none), take
and give back a governor slot (only for a backend with ``max_concurrent`` or
``min_interval_ms``), and count the request (batched: one write per key per 50 ms). A
cooldown is written at once but is rare. Two processes share each store, the second
one writing now and then, as a second worker would.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from turnout.core.models import Backend, Config, KeySpec
from turnout.core.pool import Pool
from turnout.core.shm import ShmBoard, create_board_file

NOW = 1_000_000.0


def per_op_us(fn: Callable[[], object], n: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean µs per call."""
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        results.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(results)


def config() -> Config:
    keys = tuple(KeySpec(f"k{i}", f"secret-{i}") for i in range(3))
    return Config({"b": Backend("b", "openai-compat", "http://h/v1", pool=keys)})


class SqliteBoard:
    """The same operations on SQLite: what the local board would cost there."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, timeout=5)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS gov (name TEXT PRIMARY KEY, in_flight INT, last REAL)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, status TEXT, until REAL, requests INT)"
        )
        self.db.execute("INSERT OR IGNORE INTO gov VALUES ('b', 0, 0)")
        self.db.execute("INSERT OR IGNORE INTO keys VALUES ('k0', 'ok', 0, 0)")
        self.seen = -1

    def take(self) -> bool:
        self.db.execute("BEGIN IMMEDIATE")
        (in_flight,) = self.db.execute("SELECT in_flight FROM gov WHERE name='b'").fetchone()
        ok = in_flight < 1000
        if ok:
            self.db.execute("UPDATE gov SET in_flight = in_flight + 1, last = ? WHERE name='b'", (NOW,))
        self.db.execute("COMMIT")
        return ok

    def give_back(self) -> None:
        self.db.execute("UPDATE gov SET in_flight = in_flight - 1 WHERE name='b'")

    def news(self) -> bool:
        (version,) = self.db.execute("PRAGMA data_version").fetchone()
        fresh, self.seen = version != self.seen, version
        return fresh

    def count(self) -> None:
        self.db.execute("UPDATE keys SET requests = requests + 1 WHERE id='k0'")

    def cool(self) -> None:
        self.db.execute("UPDATE keys SET status='cooling', until=? WHERE id='k0'", (NOW + 30,))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20000, help="calls per measurement")
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "board"
        create_board_file(path)
        mine, other = ShmBoard(path, 0), ShmBoard(path, 1)
        pool, other_pool = Pool(config(), mine), Pool(config(), other)
        governor = mine.governor("b")
        governor.max_concurrent = 1000
        state = pool.state("b", "k0")
        assert state is not None

        def shm_take_give() -> None:
            governor.try_start(NOW)
            governor.finish()

        def shm_news_some() -> None:
            other.changed(other_pool.states["b"][1])  # the other worker's cooldown: news
            mine.sync(pool._by_id, NOW)  # every key read

        def shm_flush() -> None:
            for s in pool.states["b"]:
                mine.counted(s, 0)
            mine.flush(pool.states["b"], NOW)

        sql, sql_other = SqliteBoard(Path(tmp) / "s.db"), SqliteBoard(Path(tmp) / "s.db")

        def sql_take_give() -> None:
            sql.take()
            sql.give_back()

        def sql_news_some() -> None:
            sql_other.cool()
            sql.news()
            sql.db.execute("SELECT status, until, requests FROM keys").fetchall()

        def sql_flush() -> None:
            sql.db.execute("BEGIN IMMEDIATE")
            for _ in range(3):
                sql.count()
            sql.db.execute("COMMIT")

        rows = [
            ("governor slot taken and given back", per_op_us(shm_take_give, n), per_op_us(sql_take_give, n)),
            (
                "news before a pick: none",
                per_op_us(lambda: mine.sync(pool._by_id, NOW), n),
                per_op_us(sql.news, n),
            ),
            (
                "news before a pick: a cooldown, 3 keys read",
                per_op_us(shm_news_some, n),
                per_op_us(sql_news_some, n),
            ),
            ("the 50 ms batch: 3 keys' counts", per_op_us(shm_flush, n), per_op_us(sql_flush, n)),
            ("a cooldown written", per_op_us(lambda: mine.changed(state), n), per_op_us(sql.cool, n)),
        ]
        print(f"{'operation':44} {'shared memory µs':>17} {'SQLite µs':>10} {'SQLite/shm':>11}")
        for name, shm, lite in rows:
            print(f"{name:44} {shm:17.2f} {lite:10.2f} {lite / shm:10.1f}x")
        mine.close()
        other.close()


if __name__ == "__main__":
    main()

"""The workers' board: two boards on one file stand for two worker processes (the real
processes are in ``tests/e2e/test_workers.py``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.core.governor import BUSY
from turnout.core.models import Backend, Config, KeySpec, PoolSettings
from turnout.core.pool import Pool
from turnout.core.shm import MAX_WORKERS, SLOTS, ShmBoard, create_board_file

from .test_pool import limits

NOW = 1_000.0


def config(*keys: str) -> Config:
    backend = Backend(
        "b", "openai-compat", "http://h/v1", pool=tuple(KeySpec(k, f"secret-key-{k}") for k in keys)
    )
    return Config({"b": backend}, pool=PoolSettings(error_cooldown=5.0))


@pytest.fixture
def boards(tmp_path: Path) -> Iterator[tuple[ShmBoard, ShmBoard]]:
    path = tmp_path / "board"
    create_board_file(path)
    one, two = ShmBoard(path, 0), ShmBoard(path, 1)
    yield one, two
    one.close()
    two.close()


def test_the_file_is_private_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "board"
    create_board_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    other = tmp_path / "other"
    other.write_bytes(b"\0" * path.stat().st_size)
    with pytest.raises(ValueError, match="not a turnout workers' board"):
        ShmBoard(other, 0)
    with pytest.raises(ValueError, match="worker index"):
        ShmBoard(path, MAX_WORKERS - 1)  # the last row keeps the dead workers' counts


def test_a_cooldown_on_one_worker_holds_on_the_other_at_its_next_pick(
    boards: tuple[ShmBoard, ShmBoard],
) -> None:
    one, two = boards
    first, second = Pool(config("a", "b2"), one), Pool(config("a", "b2"), two)
    a = first.state("b", "a")
    first.observe(a, 429, {"retry-after": "30"}, NOW)
    assert {second.pick("b", NOW + 1).alias for _ in range(4)} == {"b2"}
    other_a = second.state("b", "a")
    assert other_a.status == "cooling" and other_a.until == NOW + 30 and "429" in other_a.reason
    assert {second.pick("b", NOW + 31).alias for _ in range(4)} == {"a", "b2"}  # over: back


def test_a_failed_key_fails_everywhere_and_a_reload_revives_it_everywhere(
    boards: tuple[ShmBoard, ShmBoard],
) -> None:
    one, two = boards
    first, second = Pool(config("a", "b2"), one), Pool(config("a", "b2"), two)
    first.observe(first.state("b", "a"), 401, {}, NOW)
    assert second.pick("b", NOW).alias == "b2" and second.state("b", "a").status == "failed"
    second.install(config("a", "b2"))  # a reload on the second worker
    assert {first.pick("b", NOW).alias for _ in range(4)} == {"a", "b2"}


def test_counts_and_headroom_are_merged_at_flush_newest_report_wins(
    boards: tuple[ShmBoard, ShmBoard],
) -> None:
    one, two = boards
    first, second = Pool(config("a", "b2"), one), Pool(config("a", "b2"), two)
    for _ in range(3):
        first.observe(first.state("b", "a"), 200, limits(50), NOW)
    for _ in range(2):
        second.observe(second.state("b", "a"), 200, limits(20), NOW + 1)  # later: it wins
    second.observe(second.state("b", "a"), 500, {}, NOW + 1)
    first.flush(NOW + 2)
    second.flush(NOW + 2)
    for pool in (first, second):
        row = {r["alias"]: r for r in pool.snapshot(NOW + 2)}["a"]
        assert (row["requests"], row["errors"], row["headroom"]) == (6, 1, 0.2)
        assert "secret-key" not in str(row)
    assert first.pick("b", NOW + 10).alias == "b2"  # the 500's rest, and b2 has more room anyway


def test_a_single_keys_unparsed_headers_are_shared_when_flushed(boards: tuple[ShmBoard, ShmBoard]) -> None:
    one, two = boards
    first, second = Pool(config("a"), one), Pool(config("a"), two)
    fields = tuple((k.encode(), v.encode()) for k, v in limits(25).items())
    first.observe_fields(first.state("b", "a"), 200, fields, NOW)
    first.flush(NOW)
    row = second.snapshot(NOW)[0]
    assert row["headroom"] == 0.25 and row["requests"] == 1


def test_the_governor_counts_every_worker(boards: tuple[ShmBoard, ShmBoard]) -> None:
    one, two = boards
    g1, g2 = one.governor("b"), two.governor("b")
    for g in (g1, g2):
        g.max_concurrent = 2
    assert g1.try_start(NOW) == 0 and g2.try_start(NOW) == 0
    assert g1.try_start(NOW) == BUSY and g2.try_start(NOW) == BUSY
    assert g1.in_flight == g2.in_flight == 2
    g2.finish()
    g2.finish()  # one more finish than starts: ignored, never negative
    assert g1.try_start(NOW) == 0 and g1.in_flight == 2


def test_min_interval_spaces_starts_across_workers(boards: tuple[ShmBoard, ShmBoard]) -> None:
    one, two = boards
    g1, g2 = one.governor("b"), two.governor("b")
    for g in (g1, g2):
        g.min_interval = 0.5
    assert g1.try_start(NOW) == 0
    assert g2.try_start(NOW + 0.2) == pytest.approx(0.3)
    assert g2.try_start(NOW + 0.5) == 0


def test_a_dead_workers_slots_are_freed_and_its_requests_still_counted(
    boards: tuple[ShmBoard, ShmBoard], tmp_path: Path
) -> None:
    one, two = boards
    g1, g2 = one.governor("b"), two.governor("b")
    g1.max_concurrent = g2.max_concurrent = 1
    assert g2.try_start(NOW) == 0
    two.tally(7, 1, 2)
    one.tally(3, 0, 1)
    assert one.totals() == (10, 1, 2, 3)
    supervisor = ShmBoard(tmp_path / "board")
    supervisor.forget_worker(1)  # worker 1 died holding its slot
    assert g1.try_start(NOW) == 0
    assert one.totals() == (10, 0, 1, 1)  # worker 1 gone: its requests kept, nothing else
    supervisor.close()


def test_names_longer_than_a_slot_do_not_collide(boards: tuple[ShmBoard, ShmBoard]) -> None:
    one, _ = boards
    g1, g2 = one.governor("a-backend-with-a-long-name-1"), one.governor("a-backend-with-a-long-name-2")
    g1.max_concurrent = g2.max_concurrent = 1
    assert g1.try_start(NOW) == 0 and g2.try_start(NOW) == 0


def test_a_full_board_says_so(boards: tuple[ShmBoard, ShmBoard]) -> None:
    one, _ = boards
    for i in range(SLOTS):
        one.governor(f"b{i}")
    with pytest.raises(RuntimeError, match="board is full"):
        one.governor("one-too-many")


def test_the_board_holds_no_key(boards: tuple[ShmBoard, ShmBoard], tmp_path: Path) -> None:
    one, _ = boards
    pool = Pool(config("a"), one)
    pool.observe(pool.state("b", "a"), 429, {"retry-after": "5"}, NOW)
    pool.flush(NOW)
    assert b"secret-key" not in (tmp_path / "board").read_bytes()


def test_two_processes_share_a_board(tmp_path: Path) -> None:
    """A real second process: its governor slot is seen here, its cooldown too."""
    path = tmp_path / "board"
    create_board_file(path)
    here = ShmBoard(path, 0)
    script = f"""
from pathlib import Path
from turnout.core.shm import ShmBoard
from turnout.core.pool import Pool
from tests.core.test_shm import config
board = ShmBoard(Path({str(path)!r}), 1)
g = board.governor("b"); g.max_concurrent = 1
assert g.try_start(1000.0) == 0
pool = Pool(config("a", "b2"), board)
pool.observe(pool.state("b", "a"), 429, {{"retry-after": "60"}}, 1000.0)
"""
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parents[2], timeout=60)
    g = here.governor("b")
    g.max_concurrent = 1
    assert g.try_start(NOW) == BUSY
    pool = Pool(config("a", "b2"), here)
    assert pool.pick("b", NOW).alias == "b2"
    here.close()


def test_a_warning_is_said_by_the_first_worker_only(boards: tuple[ShmBoard, ShmBoard]) -> None:
    one, two = boards
    assert one.first("no route for x") and not two.first("no route for x") and not one.first("no route for x")
    assert two.first("no route for y")


def test_garbage_in_a_slot_reads_as_something_harmless(
    boards: tuple[ShmBoard, ShmBoard], tmp_path: Path
) -> None:
    """Only turnout's workers write the board (0600), but a torn or stale slot must not
    take a worker down: unknown statuses read as ok, unknown limit names are skipped."""
    one, two = boards
    pool = Pool(config("a"), one)
    state = pool.state("b", "a")
    pool.observe(state, 429, {"retry-after": "5"}, NOW)
    at = one._offsets[state.id]
    one._mm[at + 17] = 250  # a status no worker writes
    one._mm[at + 56] = 4  # four limits...
    for i in range(4):
        one._mm[at + 64 + 32 * i] = 200 + i  # ...with names no worker writes
    one._bump()
    other = Pool(config("a"), two)
    row = other.snapshot(NOW)[0]
    assert row["status"] == "ok" and row["limits"] == {}

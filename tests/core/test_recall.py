"""Responses kept for previous_response_id: bounded in time, count and size, and kept
across a restart."""

from __future__ import annotations

from pathlib import Path

from turnout.core.recall import ResponseMemory

ITEMS = [{"type": "message", "role": "user", "content": "hi"}]


def test_kept_items_come_back_until_they_expire(tmp_path: Path) -> None:
    memory = ResponseMemory(tmp_path / "r.sqlite3", ttl=60)
    assert memory.put("resp_1", ITEMS, now=1000.0)
    assert memory.get("resp_1", now=1059.0) == ITEMS
    assert memory.get("resp_1", now=1061.0) is None
    assert memory.get("resp_unknown", now=1000.0) is None


def test_the_oldest_go_first_and_large_ones_are_not_kept(tmp_path: Path) -> None:
    memory = ResponseMemory(tmp_path / "r.sqlite3", entries=3, max_bytes=1000)
    for k in range(5):
        memory.put(f"resp_{k}", ITEMS, now=1000.0 + k)
    memory.flush()
    memory.prune(now=1005.0)  # as every PRUNE_EVERY puts do
    assert [memory.get(f"resp_{k}", now=1005.0) is not None for k in range(5)] == [
        False,
        False,
        True,
        True,
        True,
    ]
    assert not memory.put("resp_big", [{"content": "x" * 2000}], now=1006.0)
    assert memory.get("resp_big", now=1006.0) is None


def test_a_restarted_proxy_still_knows_them(tmp_path: Path) -> None:
    first = ResponseMemory(tmp_path / "r.sqlite3")
    first.put("resp_1", ITEMS)
    first.close()
    assert ResponseMemory(tmp_path / "r.sqlite3").get("resp_1") == ITEMS
    assert ResponseMemory(None).get("resp_1") is None  # no analytics: in memory only


def test_a_broken_database_is_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    path.write_bytes(b"not a database" * 100)
    memory = ResponseMemory(path)
    assert memory.put("resp_1", ITEMS)  # kept, waiting for its batch
    memory.flush()  # the write fails: logged, not raised
    assert memory.get("resp_1") is None
    memory.close()

"""The instances' board against a real redis-server: two boards stand for two turnout
instances on two machines (two real instances: ``tests/e2e/test_workers.py``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from tests.fakes.redis_server import redis_server
from turnout.core.governor import BUSY
from turnout.core.pool import Pool
from turnout.core.redis_board import RedisBoard

from .test_pool import limits
from .test_shm import config

NOW = time.time()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@pytest.fixture
def boards(redis_url: str, request: pytest.FixtureRequest) -> Iterator[tuple[RedisBoard, RedisBoard]]:
    prefix = f"t{abs(hash(request.node.name))}"  # each test its own names on the one server
    one = RedisBoard(redis_url, instance="one", prefix=prefix)
    two = RedisBoard(redis_url, instance="two", prefix=prefix)
    yield one, two
    one.close()
    two.close()


def eventually(check: Callable[[], bool], within: float = 2.0) -> float:
    """Seconds until ``check()`` held; fails after ``within``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, "not within the time allowed"
        time.sleep(0.002)
    return time.monotonic() - started


def test_a_429_on_one_instance_cools_the_key_on_the_other(boards: tuple[RedisBoard, RedisBoard]) -> None:
    one, two = boards
    first, second = Pool(config("a", "b2"), one), Pool(config("a", "b2"), two)
    second.pick("b", NOW)  # subscribed and primed
    first.observe(first.state("b", "a"), 429, {"retry-after": "30"}, NOW)
    took = eventually(
        lambda: second.pick("b", NOW).alias == "b2" and second.state("b", "a").status == "cooling"
    )
    assert took < 0.5
    assert {second.pick("b", NOW).alias for _ in range(4)} == {"b2"}


def test_a_late_instance_reads_what_is_known(boards: tuple[RedisBoard, RedisBoard], redis_url: str) -> None:
    one, _ = boards
    first = Pool(config("a", "b2"), one)
    first.observe(first.state("b", "a"), 401, {}, NOW)
    late = RedisBoard(redis_url, instance="late", prefix=one.prefix)
    try:
        pool = Pool(config("a", "b2"), late)
        eventually(lambda: pool.pick("b", NOW).alias == "b2" and pool.state("b", "a").status == "failed")
    finally:
        late.close()


def test_counts_and_headroom_merge(boards: tuple[RedisBoard, RedisBoard]) -> None:
    one, two = boards
    first, second = Pool(config("a", "b2"), one), Pool(config("a", "b2"), two)
    first.observe(first.state("b", "a"), 200, limits(60), NOW)
    second.observe(second.state("b", "a"), 200, limits(30), NOW + 1)
    first.flush(NOW + 1)
    second.flush(NOW + 1)

    def merged() -> bool:
        row = {r["alias"]: r for r in first.snapshot(NOW + 1)}["a"]
        return row["requests"] == 2 and row["headroom"] == 0.3

    eventually(merged)


def test_the_governor_holds_across_instances(boards: tuple[RedisBoard, RedisBoard]) -> None:
    one, two = boards
    g1, g2 = one.governor("b"), two.governor("b")
    g1.max_concurrent = g2.max_concurrent = 2
    assert g1.try_start(NOW) == 0 and g2.try_start(NOW) == 0
    assert g1.try_start(NOW) == BUSY and g2.try_start(NOW) == BUSY
    assert g1.in_flight == 2
    g1.finish()
    assert g2.try_start(NOW) == 0


def test_min_interval_uses_redis_clock_across_instances(boards: tuple[RedisBoard, RedisBoard]) -> None:
    one, two = boards
    g1, g2 = one.governor("b"), two.governor("b")
    g1.min_interval = g2.min_interval = 0.3
    assert g1.try_start(NOW) == 0
    wait = g2.try_start(NOW)
    assert 0.2 < wait <= 0.3
    time.sleep(wait + 0.01)
    assert g2.try_start(NOW) == 0


def test_redis_holds_no_key(boards: tuple[RedisBoard, RedisBoard], redis_url: str) -> None:
    one, _ = boards
    pool = Pool(config("a"), one)
    pool.observe(pool.state("b", "a"), 429, {"retry-after": "5"}, NOW)
    pool.flush(NOW)
    client = redis.Redis.from_url(redis_url)
    dumped = b"".join(
        k + b"".join(x for kv in client.hgetall(k).items() for x in kv)
        for k in client.keys(f"{one.prefix}:*")
        if client.type(k) == b"hash"
    )
    assert dumped and b"secret-key" not in dumped
    client.close()


def test_redis_down_falls_back_to_this_instance_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "turnout")
    with redis_server() as url:
        board = RedisBoard(url, instance="alone")
    try:  # the server is gone now
        pool = Pool(config("a", "b2"), board)
        pool.observe(pool.state("b", "a"), 429, {"retry-after": "30"}, NOW)
        assert pool.pick("b", NOW).alias == "b2"  # its own cooldown still holds
        g = board.governor("b")
        g.max_concurrent = 1
        assert g.try_start(NOW) == 0 and g.try_start(NOW) == BUSY  # counted here
        g.finish()
        assert g.try_start(NOW) == 0
        said = [r.message for r in caplog.records if "Redis" in r.message]
        assert len(said) == 1 and "unreachable" in said[0] and "redis.sock" not in said[0]
    finally:
        board.close()


def test_without_the_redis_client_the_config_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from turnout.core.config import build_config
    from turnout.core.errors import ConfigError
    from turnout.core.runtime import Runtime

    monkeypatch.setitem(sys.modules, "redis", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "turnout.core.redis_board", raising=False)
    config = build_config({"state": {"redis": "redis://127.0.0.1:1/0"}}, env={})
    with pytest.raises(ConfigError, match=r"pip install 'turnout\[redis\]'"):
        Runtime().install(config)


def test_redis_back_after_an_outage_shares_again_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    import shutil
    import tempfile
    from pathlib import Path

    caplog.set_level(logging.WARNING, "turnout")
    where = Path(tempfile.mkdtemp(prefix="turnout-redis-"))
    try:
        with redis_server(where) as url:
            one, two = RedisBoard(url, instance="one"), RedisBoard(url, instance="two")
        first, second = Pool(config("a", "b2"), one), Pool(config("a", "b2"), two)
        first.observe(first.state("b", "a"), 500, {}, NOW)  # Redis is down: kept here only
        assert second.pick("b", NOW).status == "ok"
        with redis_server(where):  # back, at the same address
            time.sleep(1.5)  # the listeners reconnect within a second
            first.observe(first.state("b", "b2"), 429, {"retry-after": "30"}, NOW)
            eventually(
                lambda: second.pick("b", NOW).alias == "a" and second.state("b", "b2").status == "cooling"
            )
            said = [r.message for r in caplog.records if "Redis" in r.message]
            assert any("unreachable" in m for m in said) and any("reachable again" in m for m in said)
        one.close()
        two.close()
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_news_said_before_an_instance_listens_still_reaches_it(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis does not replay a channel: a cooldown announced while an instance was not yet
    subscribed (starting, or reconnecting) reaches it by reading the keys again."""
    import threading

    one = RedisBoard(redis_url, instance="one", prefix="late-listener")
    subscribed = threading.Event()
    listen = RedisBoard._listen

    def slow_to_listen(board: RedisBoard) -> None:
        subscribed.wait(5)
        listen(board)

    monkeypatch.setattr(RedisBoard, "_listen", slow_to_listen)
    two = RedisBoard(redis_url, instance="two", prefix="late-listener")
    monkeypatch.undo()
    try:
        first, second = Pool(config("a", "b2"), one), Pool(config("a", "b2"), two)
        second.pick("b", NOW)  # primed: nothing known yet
        first.observe(first.state("b", "a"), 429, {"retry-after": "30"}, NOW)  # nobody listening on two
        subscribed.set()
        eventually(lambda: second.pick("b", NOW).alias == "b2" and second.state("b", "a").status == "cooling")
    finally:
        one.close()
        two.close()

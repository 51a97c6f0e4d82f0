from __future__ import annotations

from turnout.core.models import Backend, Config, KeySpec, PoolSettings
from turnout.core.pool import Pool

NOW = 1_000.0


def config(*keys: str, cooldown: float = 5.0) -> Config:
    backend = Backend(
        "b", "openai-compat", "http://h/v1", pool=tuple(KeySpec(k, f"secret-key-{k}") for k in keys)
    )
    return Config(
        {"b": backend, "c": Backend("c", "openai", "https://api.openai.com/v1", "sk-c")},
        pool=PoolSettings(error_cooldown=cooldown),
    )


def limits(remaining: int, limit: int = 100, reset: str = "30s") -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": reset,
    }


def test_unknown_headroom_is_full_and_ties_rotate() -> None:
    pool = Pool(config("a", "b2", "c3"))
    assert sorted(pool.pick("b", NOW).alias for _ in range(3)) == ["a", "b2", "c3"]


def test_most_headroom_wins_and_expired_limits_count_as_full() -> None:
    pool = Pool(config("a", "b2"))
    a, b2 = pool.states["b"]
    pool.observe(a, 200, limits(10), NOW)
    pool.observe(b2, 200, limits(60), NOW)
    assert {pool.pick("b", NOW).alias for _ in range(5)} == {"b2"}
    assert a.headroom(NOW + 31) == 1.0  # its bucket has reset


def test_429_cools_until_retry_after_or_reset() -> None:
    pool = Pool(config("a", "b2"))
    a, b2 = pool.states["b"]
    pool.observe(a, 429, {"retry-after": "20"}, NOW)
    assert a.status == "cooling" and a.until == NOW + 20
    pool.observe(b2, 429, limits(0, reset="45s"), NOW)
    assert b2.until == NOW + 45
    assert pool.pick("b", NOW) is None and pool.earliest_recovery(["b"], NOW) == 20
    assert pool.pick("b", NOW + 21).alias == "a" and a.status == "ok"


def test_auth_failures_last_until_reload_and_errors_rest_briefly() -> None:
    cfg = config("a", "b2", cooldown=3)
    pool = Pool(cfg)
    a, b2 = pool.states["b"]
    pool.observe(a, 401, {}, NOW)
    pool.observe_failure(b2, "unreachable", NOW)
    assert a.status == "failed" and b2.until == NOW + 3
    assert pool.pick("b", NOW + 1000).alias == "b2"
    a.requests = 7
    pool.install(cfg)  # a reload: failed keys get another chance, counters stay
    assert pool.state("b", "a") is a and a.status == "ok" and a.requests == 7
    snapshot = {r["alias"]: r for r in pool.snapshot(NOW)}
    assert snapshot["a"]["key"] == "sec…ey-a" and "secret-key-a" not in str(snapshot)


def test_pick_skips_excluded_and_cooling_keys() -> None:
    pool = Pool(config("a", "b2"))
    pool.observe(pool.states["b"][0], 429, {"retry-after": "9"}, NOW)
    assert pool.pick("b", NOW).alias == "b2"
    assert pool.pick("b", NOW, exclude=frozenset({("b", "b2")})) is None
    assert pool.pick("c", NOW, exclude=frozenset({("c", "default")})) is None
    assert pool.pick("nope", NOW) is None


def test_minutes_to_exhaustion_from_the_trend() -> None:
    pool = Pool(config("a"))
    a = pool.states["b"][0]
    pool.observe(a, 200, limits(80, reset="1h"), NOW)
    pool.observe(a, 200, limits(60, reset="1h"), NOW + 60)
    assert a.minutes_to_exhaustion(NOW + 60) == 3.0  # 20 % a minute, 60 % left
    assert Pool(config("z")).states["b"][0].minutes_to_exhaustion(NOW) is None

"""The placement and retry policy, driven step by step with fake clocks."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from turnout.core.errors import KeysExhausted
from turnout.core.governor import Governor
from turnout.core.models import Backend, Config, Decision, KeySpec, PoolSettings
from turnout.core.placement import GiveUp, Outcome, Placer, Send, Step, Wait, retryable
from turnout.core.pool import Pool

PRIMARY = Backend("primary", "openai-compat", "http://p/v1", pool=(KeySpec("a", "ka"), KeySpec("b", "kb")))
FALLBACK = Backend("fallback", "openai-compat", "http://f/v1", "kf")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def placer(settings: PoolSettings | None = None, **governed: Governor) -> Placer:
    config = Config({b.name: b for b in (PRIMARY, FALLBACK)}, pool=settings or PoolSettings())
    governors = {"primary": Governor(), "fallback": Governor(), **governed}
    return Placer(Pool(config), governors, config.pool, config.backends)


DECISION = Decision(PRIMARY, "m", "m", "rule", fallbacks=(("fallback", "fm"),))


def start(
    p: Placer, clock: Clock, *, buffered: bool = True
) -> tuple[Generator[Step, Outcome | None, None], Step]:
    journey = p.journey(DECISION, buffered=buffered, clock=clock, monotonic=clock)
    return journey, next(journey)


def where(step: Step) -> tuple[str, str, str]:
    assert isinstance(step, Send), step
    return step.placement.backend.name, step.placement.state.alias, step.placement.model


def test_the_first_step_sends_to_a_key_of_the_route() -> None:
    _, step = start(placer(), Clock())
    assert where(step)[0] == "primary"


def test_retries_go_to_the_next_key_then_the_fallback_then_stop() -> None:
    p, clock = placer(PoolSettings(attempts=3)), Clock()
    journey, step = start(p, clock)
    first = where(step)
    second = where(journey.send(Outcome(429)))
    assert second[0] == "primary" and second[1] != first[1]
    assert where(journey.send(Outcome(500))) == ("fallback", "default", "fm")
    assert journey.send(Outcome(503)) == GiveUp()  # three attempts: the last answer stands


def test_a_context_length_complaint_skips_the_backends_other_keys() -> None:
    journey, _ = start(placer(), Clock())
    too_long = Outcome(400, message="prompt is too long: 200000 tokens > 8192 maximum")
    assert too_long.context_too_long and retryable(too_long)
    assert where(journey.send(too_long))[0] == "fallback"


@pytest.mark.parametrize("status", [200, 400, 401, 404])
def test_final_answers_end_the_journey(status: int) -> None:
    journey, _ = start(placer(), Clock())
    with pytest.raises(StopIteration):
        journey.send(Outcome(status))


def test_streams_are_placed_once() -> None:
    journey, _ = start(placer(), Clock(), buffered=False)
    with pytest.raises(StopIteration):
        journey.send(Outcome(429))


def test_every_key_cooling_waits_then_gives_up_with_retry_after() -> None:
    p, clock = placer(PoolSettings(queue_timeout=1.0)), Clock()
    for state in [*p.pool.states["primary"], *p.pool.states["fallback"]]:
        p.pool.observe(state, 429, {"retry-after": "30"}, clock.now)
    journey, step = start(p, clock)
    assert isinstance(step, Wait) and 0 < step.seconds <= 0.1 and p.waiting == 1
    clock.now += 1.01
    step = journey.send(None)
    assert isinstance(step, GiveUp) and isinstance(step.error, KeysExhausted)
    assert step.error.retry_after == pytest.approx(29, abs=0.2) and p.waiting == 0


def test_a_full_queue_gives_up_at_once() -> None:
    p, clock = placer(PoolSettings(queue_max=0)), Clock()
    for state in [*p.pool.states["primary"], *p.pool.states["fallback"]]:
        p.pool.observe(state, 429, {"retry-after": "30"}, clock.now)
    _, step = start(p, clock)
    assert isinstance(step, GiveUp) and "queue is full" in str(step.error)


def test_a_key_that_recovers_is_placed_after_waiting() -> None:
    p, clock = placer(), Clock()
    for state in [*p.pool.states["primary"], *p.pool.states["fallback"]]:
        p.pool.observe(state, 429, {"retry-after": "0.5"}, clock.now)
    journey, step = start(p, clock)
    assert isinstance(step, Wait)
    clock.now += 0.6
    assert where(journey.send(None))[0] == "primary"


def test_governors_are_counted_when_placed_and_retries_wait_for_them() -> None:
    narrow = Governor(max_concurrent=1)
    p, clock = placer(fallback=narrow), Clock()
    held = p.place([(FALLBACK, "fm")], clock.now)  # another request holds the fallback's slot
    assert held is not None and narrow.in_flight == 1
    journey, step = start(p, clock)
    journey.send(Outcome(500))  # the second primary key
    step = journey.send(Outcome(500))
    assert isinstance(step, Wait)  # the fallback is governed: wait for its slot
    narrow.finish()
    step = journey.send(None)
    assert where(step) == ("fallback", "default", "fm") and narrow.in_flight == 1
    assert isinstance(step, Send) and step.placement.governor is narrow


def test_a_retry_with_nowhere_left_to_go_keeps_the_last_answer() -> None:
    single = Backend("single", "openai-compat", "http://s/v1", "ks")
    config = Config({"single": single})
    p = Placer(Pool(config), {"single": Governor()}, config.pool, config.backends)
    journey = p.journey(Decision(single, "m", "m", "r"), buffered=True, clock=Clock(), monotonic=Clock())
    next(journey)
    assert journey.send(Outcome(None, "unreachable")) == GiveUp()

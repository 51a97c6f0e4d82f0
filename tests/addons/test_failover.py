from __future__ import annotations

from mitmproxy import http

from tests.addons.helpers import routed, runtime
from turnout.addons._flows import Exchanges
from turnout.addons._mitm import Replies
from turnout.addons.failover import Failover, outcome_of


def test_outcomes_read_error_bodies_only_for_a_possible_context_complaint() -> None:
    assert outcome_of(429, b"whatever").message == ""
    assert outcome_of(400, b'{"error": {"message": "prompt is too long: 9 > 8"}}').context_too_long
    assert not outcome_of(400, b'{"error": {"message": "bad field"}}').context_too_long


def test_responses_without_a_journey_or_not_retryable_pass_untouched() -> None:
    rt, exchanges = runtime(), Exchanges()
    failover = Failover(rt, exchanges, Replies())
    f, exchange = routed(rt, exchanges)
    f.response = http.Response.make(503, b"{}")
    assert failover.response(f) is None and f.response.status_code == 503  # no journey: a stream, say
    assert rt.placer is not None
    exchange.journey = rt.placer.journey(
        exchange.decision, buffered=True, clock=lambda: 0.0, monotonic=lambda: 0.0
    )  # type: ignore[arg-type]
    next(exchange.journey)
    f.response = http.Response.make(404, b"{}")
    assert failover.response(f) is None and exchange.journey is None  # a 404 is final
    assert exchange.attempts[-1].status == 404

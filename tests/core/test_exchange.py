from __future__ import annotations

from turnout.core.endpoints import classify
from turnout.core.errors import BackendTimeout
from turnout.core.exchange import Exchange
from turnout.core.governor import Governor
from turnout.core.models import Backend, Config, Decision, KeySpec
from turnout.core.placement import Outcome, Placement
from turnout.core.pool import Pool

B = Backend("b", "openai", "https://x/v1", pool=(KeySpec("k1", "secret-key-1"),))


def test_attempts_governor_and_a_secret_free_summary() -> None:
    endpoint = classify("/v1/chat/completions")
    assert endpoint is not None
    x = Exchange(endpoint, 0.0)
    x.asked, x.decision = "m", Decision(B, "m", "m", "default openai models")
    governor = Governor(max_concurrent=1)
    governor.try_start(0)
    placement = Placement(Pool(Config({"b": B})).states["b"][0], B, "m", governor)
    x.begin(placement)
    x.end(Outcome(None, "timed out"))
    x.release()
    x.release()  # once only
    assert governor.in_flight == 0 and x.tried() == frozenset({("b", "k1")})
    x.error = BackendTimeout("no answer within 5 s")
    summary = x.summary()
    assert summary == {
        "endpoint": "chat",
        "dialect": "openai",
        "stream": False,
        "requested": "m",
        "rule": "default openai models",
        "backend": "b",
        "key": "k1",
        "model": "m",
        "attempts": ["b/k1 as m: timed out"],
        "error": "BackendTimeout: no answer within 5 s",
    }
    assert "secret" not in str(summary)

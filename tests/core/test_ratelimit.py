from __future__ import annotations

import pytest

from turnout.core.ratelimit import parse_duration, parse_limits, parse_retry_after

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6m0s", 360.0),
        ("12ms", 0.012),
        ("1s", 1.0),
        ("1h2m3.5s", 3723.5),
        ("2.5", 2.5),
        ("soon", None),
        ("5x", None),
    ],
)
def test_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds


def test_openai_and_anthropic_families() -> None:
    limits = {
        lim.name: lim
        for lim in parse_limits(
            {
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "125",
                "x-ratelimit-reset-requests": "6m0s",
                "anthropic-ratelimit-input-tokens-limit": "80000",
                "anthropic-ratelimit-input-tokens-remaining": "8000",
                "anthropic-ratelimit-input-tokens-reset": "2023-11-14T22:13:20Z",
                "x-ratelimit-limit-tokens": "-1",
                "x-ratelimit-remaining-tokens": "0",  # Azure placeholders
                "X-RateLimit-Limit-Other": "1",
            },
            NOW,
        )
    }
    assert set(limits) == {"requests", "input-tokens"}
    assert limits["requests"].fraction == 0.25 and limits["requests"].reset_at == NOW + 360
    assert limits["input-tokens"].fraction == 0.1 and limits["input-tokens"].reset_at == NOW


def test_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "7"}, NOW) == 7.0
    assert parse_retry_after({"Retry-After-Ms": "1500", "retry-after": "9"}, NOW) == 1.5
    assert parse_retry_after({"retry-after": "Tue, 14 Nov 2023 22:13:30 GMT"}, NOW) == 10.0
    assert parse_retry_after({"retry-after": "whenever"}, NOW) is None
    assert parse_retry_after({}, NOW) is None

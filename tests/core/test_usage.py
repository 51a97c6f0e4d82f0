"""Usage read from whatever an upstream sends."""

from __future__ import annotations

import json

import pytest

from turnout.core.prices import Usage
from turnout.core.usage import usage_from_body, usage_of


@pytest.mark.parametrize(
    "usage",
    [
        5,
        "12",
        None,
        [],
        {"prompt_tokens": "x"},
        {"prompt_tokens": -4},
        {"prompt_tokens": float("nan")},
        {"prompt_tokens": True},
        {"prompt_tokens": 10**30},
        {"prompt_tokens_details": 7},
    ],
)
def test_a_usage_of_the_wrong_type_counts_nothing_and_never_raises(usage: object) -> None:
    for dialect in ("openai", "anthropic"):
        assert usage_of(dialect, usage) == Usage()  # type: ignore[arg-type]
    assert usage_from_body("openai", json.dumps({"usage": usage}).encode()) in (None, Usage())


def test_whatever_else_an_upstream_sends_still_counts() -> None:
    assert usage_of("openai", {"prompt_tokens": 12.0, "completion_tokens": 3}) == Usage(12, 3)
    assert usage_of("anthropic", {"input_tokens": 7, "output_tokens": "many"}) == Usage(7, 0)

from __future__ import annotations

import json

import pytest

from tests.fakes.upstream import anthropic_stream, openai_stream, split_odd
from turnout.core.passthrough import PassThrough
from turnout.core.prices import PriceTable, Usage
from turnout.core.usage import usage_from_body, usage_of


def test_price_table_defaults_overrides_and_unknowns() -> None:
    table = PriceTable((("claude-sonnet-*", {"input": 1.0, "output": 2.0}),))
    assert table.cost("claude-sonnet-5-5", Usage(1_000_000, 1_000_000)) == 3.0
    assert table.cost(
        "claude-haiku-5-5", Usage(1000, 1000, cache_read=1000, cache_write=1000)
    ) == pytest.approx((1000 * 1 + 1000 * 5 + 1000 * 0.1 + 1000 * 1.25) / 1e6)
    assert table.cost("mystery-model", Usage(5, 5)) is None


def test_usage_in_both_dialects() -> None:
    assert usage_of(
        "openai",
        {
            "prompt_tokens": 10,
            "completion_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    ) == Usage(6, 3, 4, 0, 2)
    assert usage_of(
        "anthropic", {"input_tokens": 6, "output_tokens": 3, "cache_read_input_tokens": 4}
    ) == Usage(6, 3, 4)
    assert usage_from_body("openai", json.dumps({"usage": {"prompt_tokens": 1}}).encode()) == Usage(1)
    assert usage_from_body("openai", b"{}") is None and usage_from_body("openai", b'{"usage": ') is None


@pytest.mark.parametrize("split", [False, True])
def test_sniffer_passes_reads_unchanged_and_finds_usage(split: bool) -> None:
    for dialect, data, expected in (
        ("openai", openai_stream("m", ["a", "b"]), Usage(9, 2)),
        ("anthropic", anthropic_stream("m", ["a", "b"]), Usage(11, 2)),
    ):
        relay = PassThrough(dialect)  # type: ignore[arg-type]
        pieces = split_odd(data) if split else [data]
        out = [relay(p) for p in [*pieces, b""]]
        assert b"".join(b"".join(o) if isinstance(o, list) else o for o in out) == data
        assert relay.usage == expected and relay.complete

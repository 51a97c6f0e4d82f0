"""Usage read from whatever an upstream sends."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.upstream import anthropic_stream, openai_stream
from turnout.core.prices import Usage
from turnout.core.usage import USAGE, UsageSniffer, usage_from_body, usage_of


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


@given(
    groups=st.lists(st.integers(1, 30), min_size=1, max_size=40),
    crlf=st.booleans(),
    dialect=st.sampled_from(["anthropic", "openai"]),
)
def test_a_streams_usage_is_the_same_however_its_events_are_grouped(
    groups: list[int], crlf: bool, dialect: str
) -> None:
    """Chunks that arrived together reach the sniffer as one read: the usage it finds is
    the one it finds an event at a time, and only events that hold a usage are parsed."""
    data = anthropic_stream("m", ["a"] * 25) if dialect == "anthropic" else openai_stream("m", ["a"] * 25)
    sep = b"\r\n\r\n" if crlf else b"\n\n"
    events = [e.replace(b"\n", b"\r\n") + sep if crlf else e + sep for e in data.split(b"\n\n") if e]
    one_by_one = UsageSniffer(dialect)  # type: ignore[arg-type]
    for event in events:
        one_by_one.feed(event)
    parsed: list[bytes] = []

    class Counting(UsageSniffer):
        def _take(self, payload: bytes) -> None:
            parsed.append(payload)
            super()._take(payload)

    grouped, at = Counting(dialect), 0  # type: ignore[arg-type]
    for n in groups * 10:
        if at >= len(events):
            break
        grouped.feed(b"".join(events[at : at + n]))
        at += n
    grouped.feed(b"".join(events[at:]))
    assert grouped.usage == one_by_one.usage and grouped.usage is not None
    assert len(parsed) == sum(1 for e in events if USAGE.search(e))

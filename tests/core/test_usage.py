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


@st.composite
def sse_event(draw: st.DrawFn) -> bytes:
    """An event holding a usage or not, its JSON on one data line or split over several, with
    or without an event name, an id and a comment around it."""
    usage = {"input_tokens": draw(st.integers(0, 99)), "output_tokens": draw(st.integers(0, 99))}
    payload = json.dumps(draw(st.sampled_from([{"usage": usage}, {"message": {"usage": usage}}, {"x": 1}])))
    cuts = sorted(draw(st.sets(st.sampled_from([i for i, c in enumerate(payload) if c == " "]), max_size=2)))
    pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
    lines = [f"data: {piece}" for piece in pieces]
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), "id: 7")
    if draw(st.booleans()):
        lines.insert(0, "event: message_delta")
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), ": a comment")
    return ("\n".join(lines) + "\n\n").encode()


@given(
    events=st.lists(sse_event(), min_size=1, max_size=8),
    crlf=st.booleans(),
    groups=st.lists(st.integers(1, 4), min_size=1, max_size=8),
)
def test_the_usage_sniffed_is_the_usage_every_event_parsed_gives(
    events: list[bytes], crlf: bool, groups: list[int]
) -> None:
    """Differential: whatever the events' shapes (a data line or several, names, ids,
    comments, CRLF), grouped in any way, the sniffer finds what parsing every event finds."""
    from turnout.core.dialects.sse import SSEParser

    if crlf:
        events = [e.replace(b"\n", b"\r\n") for e in events]
    reference = UsageSniffer("anthropic")
    for _, payload in SSEParser().feed_raw(b"".join(events)):
        reference._take(payload)
    sniffer, at = UsageSniffer("anthropic"), 0
    for n in groups * 8:
        sniffer.feed(b"".join(events[at : at + n]))
        at += n
    sniffer.feed(b"".join(events[at:]))
    assert sniffer.raw == reference.raw

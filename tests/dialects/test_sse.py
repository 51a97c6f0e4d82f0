from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.core.dialects.sse import MAX_EVENT, EventTooLarge, SSEParser, format_event


def test_events_comments_multiline_and_crlf() -> None:
    p = SSEParser()
    events = p.feed_raw(b": comment\r\nevent: a\r\ndata: one\r\ndata: two\r\n\r\ndata:x\n\n")
    assert events == [(b"a", b"one\ntwo"), (None, b"x")]


def test_split_crlf_and_utf8_across_reads() -> None:
    p = SSEParser()
    raw = "data: héllo\r\n\r\n".encode()
    out = [e for i in range(len(raw)) for e in p.feed_raw(raw[i : i + 1])]
    assert out == [(None, "héllo".encode())]


def test_flush_dispatches_a_last_event_without_blank_line() -> None:
    p = SSEParser()
    assert p.feed_raw(b"data: tail") == []
    assert p.flush_raw() == [(None, b"tail")]
    assert p.flush_raw() == []


def test_format_event() -> None:
    assert format_event("ping", b"{}") == b"event: ping\ndata: {}\n\n"
    assert format_event(None, b"[DONE]") == b"data: [DONE]\n\n"


def test_unfinished_multi_line_event_is_flushed_whole() -> None:
    p = SSEParser()
    assert p.feed_raw(b"event: a\ndata: 1\n\nevent: b\ndata: 2") == [(b"a", b"1")]
    assert p.flush_raw() == [(b"b", b"2")]


def test_fast_lane_and_line_parser_agree_on_comments_and_multiline_data() -> None:
    raw = b"data: a\n\n: keep-alive\n\ndata: b\ndata: c\n\nevent: e\ndata: d\n\n"
    whole = SSEParser().feed_raw(raw)
    p = SSEParser()
    bytewise = [e for i in range(len(raw)) for e in p.feed_raw(raw[i : i + 1])]
    assert whole == bytewise == [(None, b"a"), (None, b"b\nc"), (b"e", b"d")]


events = st.lists(
    st.tuples(
        st.none() | st.sampled_from([b"message_start", b"content_block_delta", b"ping"]),
        st.lists(
            st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\r" not in b), min_size=1, max_size=3
        ),
    ),
    max_size=6,
)


def _wire(evs: list, newline: bytes) -> bytes:
    out = b""
    for name, lines in evs:
        if name is not None:
            out += b"event: " + name + newline
        out += b"".join(b"data: " + line + newline for line in lines) + newline
    return out


@given(evs=events, cuts=st.lists(st.integers(0, 400), max_size=12), crlf=st.booleans())
def test_any_split_gives_the_same_events(evs: list, cuts: list[int], crlf: bool) -> None:
    raw = _wire(evs, b"\r\n" if crlf else b"\n")
    expected = [(name, b"\n".join(lines)) for name, lines in evs]
    p = SSEParser()
    got, at = [], 0
    for cut in sorted(c % (len(raw) + 1) for c in cuts):
        got += p.feed_raw(raw[at:cut])
        at = cut
    got += p.feed_raw(raw[at:]) + p.flush_raw()
    assert got == expected


def test_long_lines_and_long_events_are_parsed_in_linear_time() -> None:
    """A 4 MB line fed 4 KB at a time costs about 4x a 1 MB one, not 16x."""

    def parse(size: int, multi_line: bool) -> float:
        line = b"x" * 99 + b"\ndata: " if multi_line else b"x" * 100
        raw = b"data: " + line * (size // len(line)) + b"\n\n"
        p = SSEParser()
        start = time.perf_counter()
        out = [e for i in range(0, len(raw), 4096) for e in p.feed_raw(raw[i : i + 4096])]
        took = time.perf_counter() - start
        assert len(out) == 1 and len(out[0][1]) > size * 0.9
        return took

    for multi_line in (False, True):
        small = min(parse(1024 * 1024, multi_line) for _ in range(3))
        large = min(parse(4 * 1024 * 1024, multi_line) for _ in range(3))
        assert large < small * 8, (multi_line, small, large)  # quadratic would be ~16x


def test_an_event_past_the_cap_is_refused() -> None:
    p = SSEParser()
    with pytest.raises(EventTooLarge):
        for _ in range(MAX_EVENT // 65536 + 2):
            p.feed_raw(b"y" * 65536)
    p = SSEParser()
    with pytest.raises(EventTooLarge):
        for _ in range(MAX_EVENT // 65536 + 2):
            p.feed_raw(b"data: " + b"z" * 65530 + b"\n")  # many lines, no blank one

from __future__ import annotations

from turnout.core.dialects.sse import SSEParser, format_event


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

from __future__ import annotations

from turnout.core.dialects.sse import SSEEvent, SSEParser, format_event


def test_events_comments_multiline_and_crlf() -> None:
    p = SSEParser()
    events = p.feed(b": comment\r\nevent: a\r\ndata: one\r\ndata: two\r\n\r\ndata:x\n\n")
    assert events == [SSEEvent("a", "one\ntwo"), SSEEvent(None, "x")]


def test_split_crlf_and_utf8_across_reads() -> None:
    p = SSEParser()
    raw = "data: héllo\r\n\r\n".encode()
    out = [e for i in range(len(raw)) for e in p.feed(raw[i : i + 1])]
    assert out == [SSEEvent(None, "héllo")]


def test_flush_dispatches_a_last_event_without_blank_line() -> None:
    p = SSEParser()
    assert p.feed(b"data: tail") == []
    assert p.flush() == [SSEEvent(None, "tail")]
    assert p.flush() == []


def test_format_event() -> None:
    assert format_event("ping", b"{}") == b"event: ping\ndata: {}\n\n"
    assert format_event(None, b"[DONE]") == b"data: [DONE]\n\n"


def test_unfinished_multi_line_event_is_flushed_whole() -> None:
    p = SSEParser()
    assert p.feed(b"event: a\ndata: 1\n\nevent: b\ndata: 2") == [SSEEvent("a", "1")]
    assert p.flush() == [SSEEvent("b", "2")]


def test_fast_lane_and_line_parser_agree_on_comments_and_multiline_data() -> None:
    raw = b"data: a\n\n: keep-alive\n\ndata: b\ndata: c\n\nevent: e\ndata: d\n\n"
    whole = SSEParser().feed(raw)
    p = SSEParser()
    bytewise = [e for i in range(len(raw)) for e in p.feed(raw[i : i + 1])]
    assert whole == bytewise == [SSEEvent(None, "a"), SSEEvent(None, "b\nc"), SSEEvent("e", "d")]

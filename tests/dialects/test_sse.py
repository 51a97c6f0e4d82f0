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

"""Same-dialect streams relayed as whole events: never half an event before an error,
decoded when compressed, their usage read on the side."""

from __future__ import annotations

import gzip
import zlib

from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.upstream import anthropic_stream, openai_stream, split_odd
from turnout.core.codec import StreamDecoder
from turnout.core.passthrough import PassThrough
from turnout.core.prices import Usage


def sniffed(relay: PassThrough, pieces: list[bytes]) -> bytes:
    out = []
    for piece in [*pieces, b""]:
        got = relay(piece)
        out.extend(got if isinstance(got, list) else [got])
    return b"".join(out)


@given(st.lists(st.integers(1, 300), min_size=1, max_size=20), st.integers(0, 2000))
def test_only_whole_events_go_out_and_a_cut_stream_ends_with_an_error_event(
    cuts: list[int], keep: int
) -> None:
    data = anthropic_stream("m", ["a", "b", "c"])
    whole = sniffed(PassThrough("anthropic"), split_odd(data, cuts))
    assert whole == data  # a whole stream gains nothing, however it is split
    cut = data[: keep % len(data)]
    out = sniffed(PassThrough("anthropic"), split_odd(cut, cuts))
    events = cut[: cut.rfind(b"\n\n") + 2] if b"\n\n" in cut else b""
    assert out.startswith(events)
    rest = out[len(events) :]
    if cut == events:
        assert rest == b""
    else:  # the half event never reaches the client; an error event it can read does
        assert rest.startswith(b"event: error\ndata: {") and rest.endswith(b"}\n\n")
        assert b"ended in the middle of an event" in rest and rest.count(b"\n\n") == 1


def test_line_endings_of_every_kind_delimit_events() -> None:
    for data in (b"data: {}\r\n\r\ndata: {}\r\n\r\n", b"data: {}\r\rdata: 1\r\r"):
        assert sniffed(PassThrough("openai"), split_odd(data, [1])) == data
        assert sniffed(PassThrough("openai"), [data]) == data


def test_a_broken_connection_drops_the_held_half_and_says_so() -> None:
    relay = PassThrough("openai")
    assert relay(b'data: {"id": 1}\n\ndata: {"id"') == b'data: {"id": 1}\n\n'
    tail = relay.fail("Backend x broke off its response.", 502)
    assert tail.startswith(b'data: {"error"') and b"broke off" in tail
    assert relay(b": more\n\n") == [] and relay.fail("again") == b""


def test_an_endless_event_is_refused_at_the_cap() -> None:
    from turnout.core.dialects.sse import MAX_EVENT

    relay = PassThrough("anthropic")
    piece = b"x" * (1 << 20)
    outs = [relay(b"data: " + piece)] + [relay(piece) for _ in range(MAX_EVENT >> 20)]
    refused = [i for i, o in enumerate(outs) if o]
    assert refused == [(MAX_EVENT >> 20) - 1]  # the first read past 16 MB, and nothing after
    assert b"more than" in outs[refused[0]][0]  # type: ignore[index]


@given(st.lists(st.integers(1, 97), min_size=1, max_size=40), st.sampled_from(["gzip", "deflate"]))
def test_a_compressed_stream_reaches_the_client_plain_with_its_usage(cuts: list[int], encoding: str) -> None:
    data = openai_stream("m", ["x"] * 30)
    packed = gzip.compress(data) if encoding == "gzip" else zlib.compress(data)
    pieces, at = [], 0
    for n in cuts * 50:
        if at >= len(packed):
            break
        pieces.append(packed[at : at + n])
        at += n
    pieces.append(packed[at:])
    relay = PassThrough("openai", StreamDecoder(encoding, 1 << 20))
    assert sniffed(relay, [p for p in pieces if p]) == data
    assert relay.usage == Usage(9, 30) and relay.complete


def test_a_stream_that_does_not_decode_ends_with_an_error_event_once() -> None:
    relay = PassThrough("anthropic", StreamDecoder("gzip", 1 << 20))
    out = sniffed(relay, [b"\x1f\x8b not gzip at all", b"more"])
    assert out.startswith(b"event: error\ndata: ") and out.count(b"event: error") == 1
    assert b"stream is unreadable" in out

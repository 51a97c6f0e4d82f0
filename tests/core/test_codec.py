"""Decoding never produces more than the cap, however the bytes are compressed or cut."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.core.codec import DecodeError, StreamDecoder, decode

COMPRESS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=5000), st.sampled_from(sorted(COMPRESS)), st.integers(1, 200))
def test_streams_decode_the_same_however_they_are_cut(data: bytes, encoding: str, step: int) -> None:
    packed = COMPRESS[encoding](data)
    decoder = StreamDecoder(encoding, 1 << 20)
    out = b"".join(decoder(packed[i : i + step]) for i in range(0, len(packed), step))
    assert out == data == decode(packed, encoding, 1 << 20)


@pytest.mark.parametrize("encoding", sorted(COMPRESS))
def test_bombs_stop_at_the_cap_whole_or_streamed(encoding: str) -> None:
    bomb = COMPRESS[encoding](b"\0" * (48 << 20))
    assert len(bomb) < 1 << 20
    with pytest.raises(DecodeError) as whole:
        decode(bomb, encoding, 1 << 20)
    assert whole.value.too_large
    decoder = StreamDecoder(encoding, 1 << 20)
    with pytest.raises(DecodeError) as streamed:
        for i in range(0, len(bomb), 1 << 16):
            decoder(bomb[i : i + (1 << 16)])
    assert streamed.value.too_large


@pytest.mark.parametrize("encoding", ["compress", "gzip, br", "x" * 200])
def test_unknown_encodings_are_named_briefly(encoding: str) -> None:
    with pytest.raises(DecodeError, match="unsupported content-encoding") as caught:
        decode(b"x", encoding, 100)
    assert len(str(caught.value)) < 120
    with pytest.raises(DecodeError):
        StreamDecoder(encoding, 100)


@pytest.mark.parametrize("encoding", sorted(COMPRESS))
def test_garbage_is_a_decode_error_not_a_crash(encoding: str) -> None:
    with pytest.raises(DecodeError, match=r"not valid|does not decode"):
        decode(b"\x1f\x8b\x08garbage" * 10, encoding, 1 << 20)

"""Content-encodings undone with a cap: request bodies, buffered responses, streams.

A compressed body is a promise about its size that only decoding can check: 1 MB of
gzip can inflate to gigabytes. Every decoder here produces output in bounded steps
and stops as soon as the limit is passed, having used about that much memory and no
more. mitmproxy's own ``get_content`` has no such cap, so turnout never calls it on a
body it did not build.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import brotli
import zstandard

__all__ = ["ENCODINGS", "DecodeError", "StreamDecoder", "decode"]

ENCODINGS = ("gzip", "x-gzip", "deflate", "br", "zstd", "identity")
_STEP = 256 * 1024  # output produced per step, so a bomb is stopped within a step of the limit


class DecodeError(ValueError):
    """The bytes do not decode, or decode past the limit (``too_large``)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def decode(raw: bytes, encoding: str, limit: int) -> bytes:
    """``raw`` decoded from its ``content-encoding``, never producing more than ``limit`` bytes."""
    encoding = _known(encoding)
    out = bytearray()
    try:
        for piece in _pieces(raw, encoding):
            out += piece
            if len(out) > limit:
                raise DecodeError(f"inflates past {limit:,} bytes", too_large=True)
    except (zlib.error, brotli.error, zstandard.ZstdError, EOFError) as e:
        raise DecodeError(f"not valid {encoding}: {e}") from None
    return bytes(out)


def _known(encoding: str) -> str:
    encoding = encoding.strip().lower()
    if encoding not in ENCODINGS and encoding != "":
        raise DecodeError(f"unsupported content-encoding {encoding[:40]!r} (gzip, deflate, br, zstd or none)")
    return encoding


def _inflater(first: bytes) -> zlib._Decompress:
    # gzip or zlib-wrapped deflate (wbits 47 detects either); raw deflate otherwise
    return zlib.decompressobj(47 if first[:2] == b"\x1f\x8b" or first[:1] == b"\x78" else -15)


def _pieces(raw: bytes, encoding: str) -> Iterator[bytes]:
    if encoding in ("", "identity"):
        yield raw
    elif encoding in ("gzip", "x-gzip", "deflate"):
        inflater = _inflater(raw)
        data = raw
        while data:
            yield inflater.decompress(data, _STEP)
            data = inflater.unconsumed_tail
        yield inflater.flush()
    elif encoding == "br":
        decoder = brotli.Decompressor()
        yield decoder.process(raw, output_buffer_limit=_STEP)
        while not decoder.can_accept_more_data():
            yield decoder.process(b"", output_buffer_limit=_STEP)
    else:  # zstd
        with zstandard.ZstdDecompressor().stream_reader(raw) as reader:
            while piece := reader.read(_STEP):
                yield piece


class _Capped:
    """A sink for zstd's stream writer that refuses to hold more than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit, self.out = limit, bytearray()

    def write(self, data: bytes) -> int:
        self.out += data
        if len(self.out) > self.limit:
            raise DecodeError(f"one read inflates past {self.limit:,} bytes", too_large=True)
        return len(data)

    def take(self) -> bytes:
        out, self.out = bytes(self.out), bytearray()
        return out


class StreamDecoder:
    """A response stream's ``content-encoding`` undone read by read (SSE from a backend
    that compresses although asked not to). One read may inflate to at most ``limit``
    bytes, the size of the largest event turnout accepts."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.encoding, self.limit = _known(encoding), limit
        self._zlib: zlib._Decompress | None = None
        self._head = b""
        self._brotli = brotli.Decompressor() if self.encoding == "br" else None
        self._sink = _Capped(limit)
        self._zstd = (
            zstandard.ZstdDecompressor().stream_writer(self._sink, write_size=_STEP, closefd=False)  # type: ignore[arg-type]
            if self.encoding == "zstd"
            else None
        )

    def __call__(self, data: bytes) -> bytes:
        try:
            return self._decode(data)
        except (zlib.error, brotli.error, zstandard.ZstdError, EOFError) as e:
            raise DecodeError(f"the backend's {self.encoding} stream does not decode: {e}") from None

    def _decode(self, data: bytes) -> bytes:
        if self.encoding in ("", "identity") or not data:
            return data
        if self._brotli is not None:
            out: bytes = self._brotli.process(data, output_buffer_limit=self.limit + 1)
            if len(out) > self.limit or not self._brotli.can_accept_more_data():
                raise DecodeError(f"one read inflates past {self.limit:,} bytes", too_large=True)
            return out
        if self._zstd is not None:
            self._zstd.write(data)  # output reaches the sink as it is produced
            return self._sink.take()
        if self._zlib is None:
            data = self._head + data
            if len(data) < 2:  # the first two bytes say gzip, zlib or raw deflate
                self._head = data
                return b""
            self._zlib = _inflater(data)
        out = self._zlib.decompress(data, self.limit + 1)
        if len(out) > self.limit or self._zlib.unconsumed_tail:
            raise DecodeError(f"one read inflates past {self.limit:,} bytes", too_large=True)
        return out

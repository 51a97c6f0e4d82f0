"""Sends a built ``UpstreamRequest`` for a retry, outside mitmproxy's flow.

mitmproxy cannot re-run a flow, so the second and later attempts of a buffered request
go out here, with one shared ``httpx.AsyncClient``. They mean the same as the first try:
the same bytes (``upstream.build_upstream``), the same trust store (certifi's, as
mitmproxy's), and the backend's ``timeout`` counted the same way: until the response
headers arrive. The body is then read in full (a buffered request is being retried),
with the backend's ``read_timeout`` between reads and the same size cap as a first try,
compressed or not (``core/codec.py``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from turnout.core.codec import DecodeError, decode
from turnout.core.headers import Fields, header_value
from turnout.core.upstream import UpstreamRequest

__all__ = ["Answer", "Sender"]

TOO_LARGE = "sent a response over turnout's limit (limits.max_body_mb)"
_HOP = frozenset({b"content-length", b"content-encoding", b"transfer-encoding", b"connection", b"keep-alive"})


@dataclass(frozen=True)
class Answer:
    status: int
    fields: Fields  # the upstream's headers, less framing (the body here is decoded, whole)
    body: bytes


class Sender:
    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def send(
        self, request: UpstreamRequest, *, timeout: float, read_timeout: float, limit: int
    ) -> Answer | str:
        """The answer, or why there was none (``"timed out"``, ``"unreachable (…)"``, …)."""
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        headers = [(k, v) for k, v in request.fields if k.lower() != b"content-length"]
        built = self._client.build_request(
            request.method,
            request.url,
            headers=headers,
            content=request.body,
            timeout=httpx.Timeout(None, read=read_timeout),
        )
        try:
            response = await asyncio.wait_for(self._client.send(built, stream=True), timeout)
        except TimeoutError:
            return "timed out"
        except httpx.HTTPError as e:
            return f"unreachable ({type(e).__name__})"
        raw = bytearray()
        try:
            async for piece in response.aiter_raw():
                raw += piece
                if len(raw) > limit:
                    return TOO_LARGE
        except httpx.ReadTimeout:
            return f"sent nothing for {read_timeout:g} s"
        except httpx.HTTPError as e:
            return f"cut off mid-body ({type(e).__name__})"
        finally:
            await response.aclose()
        fields = tuple(response.headers.raw)
        encoding = header_value(fields, b"content-encoding") or b""
        try:
            body = decode(bytes(raw), encoding.decode("latin-1"), limit)
        except DecodeError as e:
            return TOO_LARGE if e.too_large else f"sent a body that does not decode ({e})"
        kept = tuple((k, v) for k, v in fields if k.lower() not in _HOP)
        return Answer(response.status_code, kept, body)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

"""Sends a built ``UpstreamRequest`` for a retry, outside mitmproxy's flow.

mitmproxy cannot re-run a flow, so the second and later attempts of a buffered request
go out here, with one shared ``httpx.AsyncClient``. They mean the same as the first try:
the same bytes (``upstream.build_upstream``), the same trust store (certifi's, as
mitmproxy's), and the backend's ``timeout`` counted the same way: until the response
headers arrive. The body is then read in full (a buffered request is being retried).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from turnout.core.headers import Fields
from turnout.core.upstream import UpstreamRequest

__all__ = ["Answer", "Sender"]

READ_TIMEOUT = 300.0  # seconds of silence while reading a retry's body
_HOP = frozenset({b"content-length", b"content-encoding", b"transfer-encoding", b"connection", b"keep-alive"})


@dataclass(frozen=True)
class Answer:
    status: int
    fields: Fields  # the upstream's headers, less framing (the body here is decoded, whole)
    body: bytes


class Sender:
    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None

    async def send(self, request: UpstreamRequest, *, timeout: float) -> Answer | str:
        """The answer, or why there was none (``"timed out"``, ``"unreachable (…)"``)."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(None, read=READ_TIMEOUT), follow_redirects=False
            )
        headers = [(k, v) for k, v in request.fields if k.lower() != b"content-length"]
        built = self._client.build_request(request.method, request.url, headers=headers, content=request.body)
        try:
            response = await asyncio.wait_for(self._client.send(built, stream=True), timeout)
        except TimeoutError:
            return "timed out"
        except httpx.HTTPError as e:
            return f"unreachable ({type(e).__name__})"
        try:
            body = await response.aread()
        except httpx.HTTPError as e:
            return f"cut off mid-body ({type(e).__name__})"
        finally:
            await response.aclose()
        kept = tuple((k, v) for k, v in response.headers.raw if k.lower() not in _HOP)
        return Answer(response.status_code, kept, body)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

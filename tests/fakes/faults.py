"""An upstream that fails the way real ones do, chosen by the requested model: ``fault-<kind>``.

Each fault is applied to the answer the backend would otherwise give (Anthropic or
OpenAI, JSON or SSE, from the same builders as ``FakeUpstream``), on the raw socket:

    close-before-headers  the request is read, then the connection closed
    close-after-headers   the status line and headers, then a close
    mid-body              half the body (cut inside an event or a JSON value), then a close
    short-length          a JSON body longer than its content-length says (the rest is lost)
    stall-headers         never answers
    stall-body            headers and half the body, then silence
    trailers              a whole chunked body that ends with trailers
    bad-json              200 with JSON (or SSE data) that does not parse
    wrong-shape           200 with JSON that parses but is not a message (SSE: unknown events)
    gzip                  the whole answer gzip-compressed (content-encoding: gzip)
    chunked               a JSON answer sent chunked at odd boundaries
    html-5xx              a 503 with an HTML page, as load balancers send

Outside the matrix: ``endless`` streams events as fast as the reader takes them, for ever;
``gzip-bomb`` answers with 256 MB of JSON or SSE gzip'd to a few hundred KB;
``long-line`` streams one 50 MB SSE line with no end;
``odd-usage`` answers well but with ``"usage": 5``; ``mutant-<seed>`` answers with a
damaged message or stream (tests/fuzz/cases.py), the same for the same seed.

``fault-<kind>~<tag>`` does the same (the tag tells requests apart). Any other model
is answered as ``FakeUpstream`` answers it.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import random
from dataclasses import dataclass

from tests.fakes.upstream import (
    FakeUpstream,
    Recorded,
    anthropic_message,
    anthropic_stream,
    openai_completion,
    openai_stream,
    split_odd,
)

FAULTS = (
    "close-before-headers",
    "close-after-headers",
    "mid-body",
    "short-length",
    "stall-headers",
    "stall-body",
    "trailers",
    "bad-json",
    "wrong-shape",
    "gzip",
    "chunked",
    "html-5xx",
)
_BOMBS: dict[bool, bytes] = {}


def _bomb(stream: bool) -> bytes:
    """256 MB that gzip to about 250 KB: an answer that is small only on the wire."""
    if stream not in _BOMBS:
        size = 256 << 20
        plain = b'data: {"choices": [{"delta": {"content": "' if stream else b'{"id": "x", "pad": "'
        compressor = gzip.compress(plain + b" " * size + b'"}', compresslevel=9)
        _BOMBS[stream] = compressor
    return _BOMBS[stream]


HTML = b"<html><head><title>503 Service Unavailable</title></head><body><h1>503</h1></body></html>"


@dataclass
class FaultUpstream(FakeUpstream):
    stall_seconds: float = 30.0  # longer than any timeout under test; cancelled on exit

    async def _respond(self, rec: Recorded, writer: asyncio.StreamWriter) -> None:
        body = json.loads(rec.body or b"{}")
        path = rec.path.split("?")[0]
        wire = "responses" if path.endswith("/responses") else "gemini" if ":" in path else ""
        model = (
            str(body.get("model", "")) if wire != "gemini" else path.rsplit("/models/", 1)[-1].split(":")[0]
        )
        if not model.startswith("fault-"):
            return await super()._respond(rec, writer)
        kind = model.removeprefix("fault-").split("~")[0]  # fault-<kind>~<anything>: a tag for tests
        anthropic = path.endswith("/messages")
        stream = body.get("stream") is True or ":streamGenerateContent" in path
        if wire:
            from tests.fuzz.cases import other_wire

            answer = other_wire(wire, stream)
            data = answer if stream else json.dumps(answer).encode()
            ctype = "text/event-stream" if stream else "application/json"
        elif stream:
            data = (
                anthropic_stream(model, ["one ", "two ", "three"])
                if anthropic
                else openai_stream(model, ["one ", "two ", "three"])
            )
            ctype = "text/event-stream"
        else:
            message = anthropic_message(model) if anthropic else openai_completion(model)
            data, ctype = json.dumps(message).encode(), "application/json"
        await self._fault(kind, writer, data, ctype, anthropic, stream, model, wire)
        raise ConnectionResetError  # one request per connection: the fake's loop ends here

    async def _fault(
        self,
        kind: str,
        writer: asyncio.StreamWriter,
        data: bytes,
        ctype: str,
        anthropic: bool,
        stream: bool,
        model: str,
        wire: str = "",  # "", "responses" or "gemini": the API of the request being answered
    ) -> None:
        headers = {**self._ok_headers(anthropic), "content-type": ctype}
        half = data[: len(data) // 2 + 3]
        if kind == "close-before-headers":
            return
        if kind == "gzip-bomb":
            bomb = _bomb(stream)
            await self._raw(writer, 200, {**headers, "content-encoding": "gzip"}, bomb)
            return
        if kind == "long-line":
            head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            writer.write(head.encode())
            piece = b"x" * 65536
            writer.write(b"%x\r\ndata: \r\n" % 6)
            for _ in range(50 * 16):
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return
        if kind.startswith("mutant-"):
            from tests.fuzz.cases import mutated_message, mutated_stream

            rng = random.Random(kind)
            mutant = (mutated_stream if stream else mutated_message)(rng, anthropic, model, wire)
            await self._chunked(writer, headers, split_odd(mutant, [rng.randint(1, 97)]))
            return
        if kind == "odd-usage":
            message = json.loads(data) if not stream else None
            if message is not None:
                message["usage"] = 5
                await self._raw(writer, 200, headers, json.dumps(message).encode())
                return
            await self._chunked(writer, headers, [data.replace(b'"usage": {', b'"usage": 5, "x": {')])
            return
        if kind == "endless":
            event = b'data: {"choices": [{"index": 0, "delta": {"content": "' + b"z" * 16000 + b'"}}]}\n\n'
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            )
            while True:
                writer.write(b"%x\r\n%s\r\n" % (len(event), event))
                await writer.drain()
        if kind == "stall-headers":
            await asyncio.sleep(self.stall_seconds)
            return
        if kind == "html-5xx":
            await self._raw(writer, 503, {"content-type": "text/html"}, HTML)
            return
        if kind == "bad-json":
            bad = b'data: {"type": "message_start", "mess\n\n' if stream else b'{"id": "x", "content": ['
            await self._raw(writer, 200, headers, bad)
            return
        if kind == "wrong-shape":
            wrong = (
                b'event: surprise\ndata: {"unexpected": true}\n\n' if stream else b'{"unexpected": [1, 2]}'
            )
            await self._raw(writer, 200, headers, wrong)
            return
        if kind == "short-length":
            await self._raw(writer, 200, headers, data, length=len(data) // 2)
            return
        if kind == "gzip":
            await self._raw(writer, 200, {**headers, "content-encoding": "gzip"}, gzip.compress(data))
            return
        if kind in ("chunked", "trailers"):
            await self._chunked(writer, headers, split_odd(data), trailers=kind == "trailers")
            return
        # The body begins: close-after-headers, mid-body, stall-body.
        sent = b"" if kind == "close-after-headers" else half
        if stream:
            await self._chunked(writer, headers, split_odd(sent), end=False)
        else:
            await self._raw(writer, 200, headers, sent, length=len(data))
        if kind == "stall-body":
            await asyncio.sleep(self.stall_seconds)

    async def _raw(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        headers: dict[str, str],
        body: bytes,
        *,
        length: int | None = None,
    ) -> None:
        reason = {200: "OK", 503: "Service Unavailable"}[status]
        head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"content-length: {len(body) if length is None else length}\r\nconnection: close\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()

    async def _chunked(
        self,
        writer: asyncio.StreamWriter,
        headers: dict[str, str],
        pieces: list[bytes],
        *,
        end: bool = True,
        trailers: bool = False,
    ) -> None:
        head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write((head + "transfer-encoding: chunked\r\nconnection: close\r\n\r\n").encode())
        for piece in pieces:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.001)
        if end:
            writer.write(b"0\r\nx-checksum: 1\r\nx-served-by: fake\r\n\r\n" if trailers else b"0\r\n\r\n")
        await writer.drain()

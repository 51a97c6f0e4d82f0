"""A fake Anthropic / OpenAI upstream that speaks the real wire format.

A raw asyncio HTTP/1.1 server in its own thread, so tests control every byte: SSE is
sent with chunked encoding split at odd boundaries with pauses in between (separate TCP
reads), responses carry the providers' rate-limit and request-id headers, and errors
use the providers' real error bodies. The requested model picks the behaviour:

    *-error-429 / *-error-400 / *-error-500   that error, in the backend's dialect
    *-slow                                    wait ``slow_seconds`` before answering
    *-chunks-N                                stream N text pieces instead of 20
    *scripted*                                a tool-using conversation (tests/fakes/scripted.py)
    anything else                             a normal answer echoing the model
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

SPLITS = (7, 13, 1, 29, 3, 64, 2, 17)  # odd chunk sizes, cycled


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived

    def json(self) -> Any:
        return json.loads(self.body)


def split_odd(data: bytes, sizes: tuple[int, ...] | list[int] = SPLITS) -> list[bytes]:
    """``data`` cut into pieces of ``sizes``, cycled (odd ones by default)."""
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        out.append(data[i : i + n])
        i, k = i + n, k + 1
    return out


def sse(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "").encode() + f"data: {payload}\n\n".encode()


def anthropic_stream(model: str, text_parts: list[str]) -> bytes:
    events = [
        sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_fake1",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 11, "output_tokens": 1},
                },
            },
        )
    ]
    events.append(
        sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
    )
    events.append(sse("ping", {"type": "ping"}))
    for part in text_parts:
        events.append(
            sse(
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": part}},
            )
        )
    events.append(sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
    events.append(
        sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(text_parts)},
            },
        )
    )
    events.append(sse("message_stop", {"type": "message_stop"}))
    return b"".join(events)


def openai_stream(model: str, text_parts: list[str], usage: bool = True) -> bytes:
    base = {"id": "chatcmpl-fake1", "object": "chat.completion.chunk", "created": 1, "model": model}
    chunks = [
        sse(
            None,
            {
                **base,
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                ],
            },
        )
    ]
    for part in text_parts:
        chunks.append(
            sse(None, {**base, "choices": [{"index": 0, "delta": {"content": part}, "finish_reason": None}]})
        )
    chunks.append(sse(None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    if usage:
        chunks.append(
            sse(
                None,
                {
                    **base,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": 9,
                        "completion_tokens": len(text_parts),
                        "total_tokens": 9 + len(text_parts),
                    },
                },
            )
        )
    chunks.append(b"data: [DONE]\n\n")
    return b"".join(chunks)


def anthropic_message(model: str) -> dict[str, Any]:
    return {
        "id": "msg_fake1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": f"hello from {model}"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 4},
    }


def openai_completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": f"hello from {model}"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    }


ANTHROPIC_ERRORS = {429: "rate_limit_error", 400: "invalid_request_error", 500: "api_error"}
OPENAI_ERRORS = {
    429: ("requests", "rate_limit_exceeded"),
    400: ("invalid_request_error", None),
    500: ("server_error", None),
}


@dataclass
class KeyProgram:
    """How the fake treats requests made with one key: a programmable rate limit."""

    remaining: int = 1000
    limit: int = 1000
    reset: str = "20s"  # x-ratelimit-reset-requests (OpenAI) / seconds for Anthropic's RFC 3339 reset
    status: int | None = None  # answer every request with this error status
    retry_after: str | None = None
    message: str | None = None  # the error message (e.g. a context-length complaint)


@dataclass
class FakeUpstream:
    """Start with ``with FakeUpstream() as up:``; ``up.url`` is its base URL."""

    slow_seconds: float = 5.0
    odd_splits: bool = True  # False: one write per SSE event, as providers flush (benchmarks)
    stream_parts: int = 20
    chunk_pause: float = 0.002
    requests: list[Recorded] = field(default_factory=list)
    models: tuple[str, ...] = ("local-model-a", "local-model-b")
    port: int = 0
    programs: dict[str, KeyProgram] = field(default_factory=dict)  # by the key the request carries
    # Impersonations of local servers' context-window reports (None/empty: not offered):
    n_ctx: int | None = None  # llama.cpp: GET /props
    list_windows: dict[str, int] = field(default_factory=dict)  # vLLM: max_model_len in /v1/models
    ollama_windows: dict[str, int] = field(default_factory=dict)  # Ollama: POST /api/show
    stream_usage: bool = True  # False: like llama.cpp, ignore stream_options.include_usage
    # Model lists as each API pages them (Anthropic's has_more/last_id, Gemini's pageToken):
    list_page: int = 1000  # models per page
    list_status: int = 200  # another status: the list refused (with the provider's error body)
    ollama_only: bool = False  # an Ollama without /v1/models: only GET /api/tags lists
    _current_program: KeyProgram | None = None

    def __enter__(self) -> FakeUpstream:
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def main() -> None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.port, backlog=4096
            )  # 0: any
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            async with self._server:
                await self._server.serve_forever()

        self._thread = threading.Thread(target=lambda: self._run(main), daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def _run(self, main: Any) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(main())

    def __exit__(self, *exc: object) -> None:
        def stop() -> None:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()

        self._loop.call_soon_threadsafe(stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def last(self) -> Recorded:
        """The last model request (POST): the proxy's own reads of model lists and server
        facts (GETs, in the background with discovery on) may land after it."""
        return next(r for r in reversed(self.requests) if r.method != "GET")

    # -- HTTP/1.1 plumbing -------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = b""
                if "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                elif headers.get("transfer-encoding", "").lower() == "chunked":
                    while True:
                        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                        chunk = await reader.readexactly(size + 2)
                        if size == 0:
                            break
                        body += chunk[:-2]
                rec = Recorded(method, target, headers, body)
                self.requests.append(rec)
                await self._respond(rec, writer)
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            asyncio.LimitOverrunError,
            asyncio.CancelledError,
        ):
            pass
        finally:
            writer.close()

    async def _send(
        self, writer: asyncio.StreamWriter, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        reason = {
            200: "OK",
            400: "Bad Request",
            404: "Not Found",
            429: "Too Many Requests",
            500: "Internal Server Error",
        }.get(status, "X")
        head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(head.encode() + f"content-length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()

    async def _send_sse(self, writer: asyncio.StreamWriter, headers: dict[str, str], data: bytes) -> None:
        head = "HTTP/1.1 200 OK\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items() if k != "content-type"
        )
        writer.write(
            (
                head + "content-type: text/event-stream\r\ncache-control: no-cache\r\n"
                "transfer-encoding: chunked\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        sep = b"\r\n\r\n" if b"\r\n\r\n" in data[:4096] else b"\n\n"  # Gemini frames with CRLF
        pieces = split_odd(data) if self.odd_splits else [e + sep for e in data.split(sep) if e]
        for piece in pieces:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(self.chunk_pause)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    # -- behaviour -------------------------------------------------------------------------
    async def _respond(self, rec: Recorded, writer: asyncio.StreamWriter) -> None:
        path = rec.path.split("?")[0]
        if path in ("/props", "/api/show"):
            return await self._local_server_facts(writer, path, rec)
        if rec.method == "GET" and (path.endswith("/models") or path == "/api/tags"):
            if (listing := self._model_list(rec, path)) is not None:
                status, shaped = listing
                return await self._send(
                    writer, status, {"content-type": "application/json"}, json.dumps(shaped).encode()
                )
            data = {
                "object": "list",
                "data": [
                    {
                        "id": m,
                        "object": "model",
                        "owned_by": "fake",
                        **({"max_model_len": self.list_windows[m]} if m in self.list_windows else {}),
                    }
                    for m in self.models
                ],
            }
            return await self._send(
                writer, 200, {"content-type": "application/json"}, json.dumps(data).encode()
            )
        body = json.loads(rec.body or b"{}")
        model = str(body.get("model", ""))
        anthropic = path.endswith("/messages") or path.endswith("/count_tokens")
        wire = "responses" if path.endswith("/responses") else "gemini" if ":" in path else None
        if wire == "gemini":  # Gemini names the model and the stream in the path
            model = path.rsplit("/models/", 1)[-1].split(":")[0]
            body["stream"] = ":streamGenerateContent" in path
        program = self._current_program = self.program_for(rec)
        if program is not None:
            program.remaining = max(program.remaining - 1, 0)
            if program.status:
                return await self._error(writer, program.status, anthropic, program)
        if model.endswith("-slow"):
            await asyncio.sleep(self.slow_seconds)
        if "-error-" in model:
            return await self._error(writer, int(model.rsplit("-", 1)[1]), anthropic, gemini=wire == "gemini")
        if wire is not None:
            return await self._other_wire(writer, wire, model, body)
        if "scripted" in model:
            return await self._scripted(writer, body, anthropic)
        if path.endswith("/messages/count_tokens"):
            return await self._send(
                writer, 200, {"content-type": "application/json"}, b'{"input_tokens": 42}'
            )
        if path.endswith("/embeddings"):
            data = {
                "object": "list",
                "model": model,
                "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 0.125]}],
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            }
            return await self._send(writer, 200, self._ok_headers(False), json.dumps(data).encode())
        chunks = re.search(r"-chunks-(\d+)$", model)  # e.g. gpt-4o-chunks-2000 for benchmarks
        parts = [f"w{i} " for i in range(int(chunks.group(1)) if chunks else self.stream_parts)]
        if anthropic:
            if body.get("stream"):
                return await self._send_sse(writer, self._ok_headers(True), anthropic_stream(model, parts))
            msg = anthropic_message(model)
            return await self._send(writer, 200, self._ok_headers(True), json.dumps(msg).encode())
        if body.get("stream"):
            data = openai_stream(model, parts, usage=self.stream_usage)
            return await self._send_sse(writer, self._ok_headers(False), data)
        resp = openai_completion(model)
        return await self._send(writer, 200, self._ok_headers(False), json.dumps(resp).encode())

    def _model_list(self, rec: Recorded, path: str) -> tuple[int, Any] | None:
        """The list in the asking API's shape, paged; None: the OpenAI shape (below)."""
        if self.list_status != 200:
            return self.list_status, {"error": {"message": "Invalid API key", "type": "authentication_error"}}
        query = dict(p.split("=", 1) for p in rec.path.partition("?")[2].split("&") if "=" in p)
        if path == "/api/tags":
            return 200, {"models": [{"name": m, "model": m, "size": 1} for m in self.models]}
        if self.ollama_only:
            return 404, {"error": "404 page not found"}
        if path.endswith("/v1beta/models"):
            start = int(query.get("pageToken", "0"))
            page = self.models[start : start + self.list_page]
            shaped: dict[str, Any] = {
                "models": [
                    {"name": f"models/{m}", "supportedGenerationMethods": ["generateContent", "countTokens"]}
                    for m in page
                ]
                + [{"name": "models/text-embedding-004", "supportedGenerationMethods": ["embedContent"]}]
            }
            if start + self.list_page < len(self.models):
                shaped["nextPageToken"] = str(start + self.list_page)
            return 200, shaped
        if "anthropic-version" in rec.headers:
            after = query.get("after_id")
            start = self.models.index(after) + 1 if after in self.models else 0
            page = self.models[start : start + self.list_page]
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in page
            ]
            more = start + self.list_page < len(self.models)
            return 200, {
                "data": data,
                "has_more": more,
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            }
        return None

    async def _local_server_facts(self, writer: asyncio.StreamWriter, path: str, rec: Recorded) -> None:
        json_type = {"content-type": "application/json"}
        if path == "/props" and self.n_ctx:
            props = {
                "default_generation_settings": {"n_ctx": self.n_ctx, "model": "smollm2"},
                "total_slots": 1,
            }
            return await self._send(writer, 200, json_type, json.dumps(props).encode())
        model = json.loads(rec.body or b"{}").get("model") if path == "/api/show" else None
        if model in self.ollama_windows:
            shown = {
                "parameters": "stop <|im_end|>",
                "model_info": {
                    "general.architecture": "llama",
                    "llama.context_length": self.ollama_windows[model],
                },
            }
            return await self._send(writer, 200, json_type, json.dumps(shown).encode())
        return await self._send(writer, 404, json_type, b'{"error": "not found"}')

    async def _scripted(self, writer: asyncio.StreamWriter, body: dict[str, Any], anthropic: bool) -> None:
        from tests.fakes.scripted import scripted_scenario
        from tests.golden import scenarios as gen

        scenario = scripted_scenario(body)
        headers = self._ok_headers(anthropic)
        if body.get("stream"):
            data = gen.anthropic_stream(scenario) if anthropic else gen.openai_stream(scenario)
            return await self._send_sse(writer, headers, data)
        whole = gen.anthropic_message(scenario) if anthropic else gen.openai_completion(scenario)
        return await self._send(writer, 200, headers, json.dumps(whole).encode())

    async def _other_wire(
        self, writer: asyncio.StreamWriter, wire: str, model: str, body: dict[str, Any]
    ) -> None:
        """A Responses-only or a Gemini backend, answering as those APIs frame answers."""
        from tests.fakes.scripted import scripted_scenario
        from tests.golden import upstreams
        from tests.golden.scenarios import Scenario

        chunks = re.search(r"-chunks-(\d+)$", model)  # e.g. bench-chunks-2000 for benchmarks
        parts = int(chunks.group(1)) if chunks else self.stream_parts
        if "scripted" in model:
            scenario = scripted_scenario(body)
        elif body.get("stream"):
            scenario = Scenario("fake", text=[f"w{i} " for i in range(parts)], usage=(5, parts, 0))
        else:
            scenario = Scenario("fake", text=[f"hello from {model}"], usage=(5, 4, 0))
        headers = self._ok_headers(False)
        if body.get("stream"):
            data = (
                upstreams.responses_stream(scenario)
                if wire == "responses"
                else upstreams.gemini_stream(scenario)
            )
            return await self._send_sse(writer, headers, data)
        whole = (
            upstreams.responses_response(scenario)
            if wire == "responses"
            else upstreams.gemini_response(scenario)
        )
        return await self._send(writer, 200, headers, json.dumps(whole).encode())

    def program_for(self, rec: Recorded) -> KeyProgram | None:
        key = rec.headers.get("x-api-key") or rec.headers.get("authorization", "").removeprefix("Bearer ")
        return self.programs.get(key)

    def _limit_headers(self, anthropic: bool, program: KeyProgram) -> dict[str, str]:
        if anthropic:
            reset = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + float(program.reset.rstrip("s")))
            )
            return {
                "anthropic-ratelimit-requests-limit": str(program.limit),
                "anthropic-ratelimit-requests-remaining": str(program.remaining),
                "anthropic-ratelimit-requests-reset": reset,
            }
        return {
            "x-ratelimit-limit-requests": str(program.limit),
            "x-ratelimit-remaining-requests": str(program.remaining),
            "x-ratelimit-reset-requests": program.reset,
        }

    def _ok_headers(self, anthropic: bool) -> dict[str, str]:
        program = self._current_program
        if program is not None:
            return {"content-type": "application/json", **self._limit_headers(anthropic, program)}
        if anthropic:
            reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
            return {
                "content-type": "application/json",
                "request-id": "req_fake123",
                "anthropic-ratelimit-requests-limit": "1000",
                "anthropic-ratelimit-requests-remaining": "999",
                "anthropic-ratelimit-requests-reset": reset,
                "anthropic-ratelimit-tokens-limit": "80000",
                "anthropic-ratelimit-tokens-remaining": "79000",
                "anthropic-ratelimit-tokens-reset": reset,
            }
        return {
            "content-type": "application/json",
            "x-request-id": "req_fake456",
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-tokens": "29000",
            "x-ratelimit-reset-tokens": "6m0s",
        }

    async def _error(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        anthropic: bool,
        program: KeyProgram | None = None,
        *,
        gemini: bool = False,
    ) -> None:
        headers = {"content-type": "application/json"}
        if status == 429:
            headers["retry-after"] = program.retry_after if program and program.retry_after else "7"
        if program is not None:
            headers.update(self._limit_headers(anthropic, program))
        message = program.message if program and program.message else f"fake {status}"
        if gemini:
            state = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED"}.get(status, "INTERNAL")
            body = {"error": {"code": status, "message": message, "status": state}}
        elif anthropic:
            kind = ANTHROPIC_ERRORS.get(status, "api_error" if status >= 500 else "invalid_request_error")
            body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fakeerr"}
            headers["request-id"] = "req_fakeerr"
        else:
            kind, code = OPENAI_ERRORS.get(
                status, ("server_error" if status >= 500 else "invalid_request_error", None)
            )
            body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
            headers["x-request-id"] = "req_fakeerr"
        await self._send(writer, status, headers, json.dumps(body).encode())


def main() -> None:
    """``python -m tests.fakes.upstream [--events] [--parts N] [--pause S]``: serve until
    stdin closes; prints the port.

    ``--events`` writes one SSE event per write, as providers flush, instead of odd splits;
    ``--parts`` is how many text deltas a stream has (20); ``--pause`` the seconds between
    them (0: as fast as it can)."""
    import sys

    parts = int(sys.argv[sys.argv.index("--parts") + 1]) if "--parts" in sys.argv else 20
    pause = float(sys.argv[sys.argv.index("--pause") + 1]) if "--pause" in sys.argv else 0.0
    with FakeUpstream(chunk_pause=pause, odd_splits="--events" not in sys.argv, stream_parts=parts) as up:
        print(up.port, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()

"""A translation through the hub: the client's dialect read in, the backend's written out,
and the answer's way back. ``translate.py`` sends every translated request here.

Client dialects (by endpoint): Anthropic Messages (``messages``), Chat Completions
(``chat``), Responses (``responses``) and Gemini (``gemini``, ``gemini_stream``).
Backend APIs (``Backend.wire``): the same four.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from turnout.core.dialects.context import Context
from turnout.core.errors import BadRequest
from turnout.core.hub import chat_upstream, gemini_upstream, messages_upstream, responses_upstream
from turnout.core.hub.answer import Answer
from turnout.core.hub.chat_answer import ChatWriter
from turnout.core.hub.chat_answer import write_answer as chat_answer
from turnout.core.hub.chat_request import read_request as read_chat
from turnout.core.hub.chat_request import write_request as chat_request
from turnout.core.hub.chat_upstream import ChatReader
from turnout.core.hub.conversation import Request
from turnout.core.hub.gemini_answer import GeminiWriter
from turnout.core.hub.gemini_answer import write_answer as gemini_answer
from turnout.core.hub.gemini_request import read_request as read_gemini
from turnout.core.hub.gemini_request import write_request as gemini_request
from turnout.core.hub.messages_answer import MessagesWriter
from turnout.core.hub.messages_answer import write_answer as messages_answer
from turnout.core.hub.messages_request import read_request as read_messages
from turnout.core.hub.messages_request import write_request as messages_request
from turnout.core.hub.messages_upstream import MessagesReader
from turnout.core.hub.responses_answer import write_answer as responses_answer
from turnout.core.hub.responses_request import read_request as read_responses
from turnout.core.hub.responses_request import write_request as responses_request
from turnout.core.hub.responses_stream import ResponsesWriter
from turnout.core.hub.stream import HubStream, Reader, Writer
from turnout.core.hub.tools import ToolNames
from turnout.core.models import Backend, Dialect
from turnout.core.recall import ResponseMemory

__all__ = [
    "HUB_ENDPOINTS",
    "answer_through_hub",
    "backend_wire",
    "client_wire",
    "request_through_hub",
    "stream_through_hub",
]

_READERS: dict[str, Callable[[dict[str, Any], str], Request]] = {
    "messages": lambda body, seed: read_messages(body),
    "chat": read_chat,  # the seed: ids for calls a history left without one
    "responses": lambda body, seed: read_responses(body),
    "gemini": lambda body, seed: read_gemini(body),
    "gemini_stream": lambda body, seed: read_gemini(body),
}
HUB_ENDPOINTS = frozenset(_READERS)
_CLIENTS: dict[str, Dialect] = {
    "messages": "anthropic",
    "chat": "openai",
    "responses": "openai",
    "gemini": "gemini",
    "gemini_stream": "gemini",
}
_ANSWER_READERS: dict[str, Callable[[dict[str, Any]], Answer]] = {
    "chat": chat_upstream.read_answer,
    "messages": messages_upstream.read_answer,
    "responses": responses_upstream.read_answer,
    "gemini": gemini_upstream.read_answer,
}
_STREAM_READERS: dict[str, Callable[[], Reader]] = {
    "chat": ChatReader,
    "messages": MessagesReader,
    "responses": responses_upstream.ResponsesReader,
    "gemini": gemini_upstream.GeminiReader,
}
_ANSWER_WRITERS: dict[str, Callable[[Answer, Context], dict[str, Any]]] = {
    "messages": messages_answer,
    "chat": chat_answer,
    "responses": responses_answer,
    "gemini": gemini_answer,
}
_STREAM_WRITERS: dict[str, Callable[[Context], Writer]] = {
    "messages": MessagesWriter,
    "chat": ChatWriter,
    "responses": ResponsesWriter,
    "gemini": GeminiWriter,
}
_WIRES: dict[str, str] = {"anthropic": "messages", "openai": "chat", "gemini": "gemini"}


def client_wire(ctx: Context) -> str:
    """The client's API: its dialect's, or the one it named where a dialect has several."""
    return ctx.api or _WIRES[ctx.client]


def backend_wire(ctx: Context) -> str:
    return ctx.backend_api or _WIRES[ctx.backend]


def _write(
    request: Request, backend: Backend, model: str, window: int | None
) -> tuple[dict[str, Any], ToolNames, dict[str, str]]:
    quirks = backend.quirks
    if backend.wire == "chat":
        return chat_request(request, model=model, quirks=quirks, window=window)
    if backend.wire == "responses":
        return responses_request(request, model=model, quirks=quirks)
    if backend.wire == "gemini":
        return gemini_request(request, model=model, quirks=quirks)
    return messages_request(request, model=model, quirks=quirks)


def _remembered(body: dict[str, Any], memory: ResponseMemory | None) -> list[dict[str, Any]] | None:
    """The items a ``previous_response_id`` stands for (a 400 when turnout kept none)."""
    previous = body.get("previous_response_id")
    if not isinstance(previous, str) or not previous:
        return None
    history = memory.get(previous) if memory is not None else None
    if history is None:
        raise BadRequest(
            f"previous_response_id: {previous[:80]!r} is not a response turnout kept (unknown, expired after "
            "an hour, or stored with store: false); send the whole conversation as input instead."
        )
    return history


def request_through_hub(
    body: dict[str, Any],
    *,
    endpoint: str,
    backend: Backend,
    model: str,
    requested: str,
    window: int | None,
    memory: ResponseMemory | None = None,
) -> tuple[dict[str, Any], Context]:
    history = _remembered(body, memory) if endpoint == "responses" else None
    request = read_responses(body, history) if history is not None else _READERS[endpoint](body, requested)
    if endpoint == "gemini_stream":
        request.stream = True  # the path asks for it, not the body
    out, names, adjusted = _write(request, backend, model, window)
    options = body.get("stream_options") if endpoint == "chat" else None
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    ctx = Context(
        _CLIENTS[endpoint],
        backend.dialect,
        requested,
        request.stream,
        include_usage=include_usage,
        tool_names=names.upstream,
        adjusted=adjusted,
        api="responses" if endpoint == "responses" else "",
        custom_tools=names.custom,
        namespaces=names.namespaces,
        backend_api="responses" if backend.wire == "responses" else "",
    )
    if endpoint == "responses" and memory is not None and body.get("store") is not False:
        raw = body.get("input")
        items = (
            [{"type": "message", "role": "user", "content": raw}] if isinstance(raw, str) else list(raw or [])
        )
        ctx.memory, ctx.kept_input = memory, [*(history or []), *items]
    return out, ctx


def answer_through_hub(data: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """A whole backend answer, already checked against its dialect, in the client's."""
    return _ANSWER_WRITERS[client_wire(ctx)](_ANSWER_READERS[backend_wire(ctx)](data), ctx)


def stream_through_hub(ctx: Context, prompt_tokens: Callable[[], int] | None) -> HubStream:
    reader, writer = _STREAM_READERS[backend_wire(ctx)](), _STREAM_WRITERS[client_wire(ctx)](ctx)
    return HubStream(reader, writer, prompt_tokens)

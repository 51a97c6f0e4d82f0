"""A translation through the hub: the client's dialect read in, the backend's written out,
and the answer's way back. ``translate.py`` sends here every direction the hub serves.

Client dialects (by endpoint): Responses (``responses``) and Gemini (``gemini``,
``gemini_stream``). Backend dialects: Chat Completions and Anthropic Messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from turnout.core.dialects.context import Context
from turnout.core.hub.answer import Answer
from turnout.core.hub.chat_request import write_request as chat_request
from turnout.core.hub.chat_stream import ChatReader
from turnout.core.hub.conversation import Request
from turnout.core.hub.gemini_answer import GeminiWriter
from turnout.core.hub.gemini_answer import write_answer as gemini_answer
from turnout.core.hub.gemini_request import read_request as read_gemini
from turnout.core.hub.messages_request import write_request as messages_request
from turnout.core.hub.messages_stream import MessagesReader
from turnout.core.hub.responses_answer import write_answer as responses_answer
from turnout.core.hub.responses_request import read_request as read_responses
from turnout.core.hub.responses_stream import ResponsesWriter
from turnout.core.hub.stream import HubStream, Reader, Writer
from turnout.core.hub.whole_answers import read_chat_answer, read_messages_answer
from turnout.core.models import Backend

__all__ = ["HUB_ENDPOINTS", "answer_through_hub", "request_through_hub", "stream_through_hub"]

_READERS: dict[str, Callable[[dict[str, Any]], Request]] = {
    "responses": read_responses,
    "gemini": read_gemini,
    "gemini_stream": read_gemini,
}
HUB_ENDPOINTS = frozenset(_READERS)
_ANSWER_READERS: dict[str, Callable[[dict[str, Any]], Answer]] = {
    "openai": read_chat_answer,
    "anthropic": read_messages_answer,
}
_STREAM_READERS: dict[str, Callable[[], Reader]] = {"openai": ChatReader, "anthropic": MessagesReader}
_ANSWER_WRITERS: dict[str, Callable[[Answer, Context], dict[str, Any]]] = {
    "responses": responses_answer,
    "gemini": gemini_answer,
}
_STREAM_WRITERS: dict[str, Callable[[Context], Writer]] = {
    "responses": ResponsesWriter,
    "gemini": GeminiWriter,
}


def _wire(ctx: Context) -> str:
    """The client's wire format: its API where its dialect has several."""
    return ctx.api or ctx.client


def request_through_hub(
    body: dict[str, Any], *, endpoint: str, backend: Backend, model: str, requested: str, window: int | None
) -> tuple[dict[str, Any], Context]:
    request = _READERS[endpoint](body)
    if endpoint == "gemini_stream":
        request.stream = True  # the path asks for it, not the body
    if backend.dialect == "openai":
        out, names, adjusted = chat_request(request, model=model, quirks=backend.quirks, window=window)
    else:
        out, names, adjusted = messages_request(request, model=model, quirks=backend.quirks)
    ctx = Context(
        "openai" if endpoint == "responses" else "gemini",
        backend.dialect,
        requested,
        request.stream,
        tool_names=names.upstream,
        adjusted=adjusted,
        api="responses" if endpoint == "responses" else "",
        custom_tools=names.custom,
        namespaces=names.namespaces,
    )
    return out, ctx


def answer_through_hub(data: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    """A whole backend answer in the client's dialect; None when the hub does not serve
    this pair (the pairwise translators do)."""
    writer = _ANSWER_WRITERS.get(_wire(ctx))
    if writer is None:
        return None
    return writer(_ANSWER_READERS[ctx.backend](data), ctx)


def stream_through_hub(ctx: Context, prompt_tokens: Callable[[], int] | None) -> HubStream | None:
    writer = _STREAM_WRITERS.get(_wire(ctx))
    if writer is None:
        return None
    return HubStream(_STREAM_READERS[ctx.backend](), writer(ctx), prompt_tokens)

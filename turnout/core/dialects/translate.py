"""The one entry point the proxy uses: requests, responses and streams between dialects."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from turnout.core.codec import DecodeError, StreamDecoder
from turnout.core.dialects.context import Context
from turnout.core.dialects.errors import translate_error
from turnout.core.dialects.responses import to_anthropic_message, to_openai_completion
from turnout.core.dialects.sse import EventTooLarge
from turnout.core.dialects.stream_to_anthropic import ToAnthropicStream
from turnout.core.dialects.stream_to_openai import ToOpenAIStream
from turnout.core.dialects.to_anthropic_request import openai_to_anthropic
from turnout.core.dialects.to_openai_request import anthropic_to_openai
from turnout.core.dialects.validate import check_request, check_response
from turnout.core.errors import BadRequest, BadUpstreamResponse, brief, short_traceback
from turnout.core.hub.stream import HubStream
from turnout.core.hub.through import (
    HUB_ENDPOINTS,
    answer_through_hub,
    request_through_hub,
    stream_through_hub,
)
from turnout.core.models import Backend, Dialect
from turnout.core.prices import Usage
from turnout.core.usage import usage_of

__all__ = [
    "BACKEND_PATHS",
    "StreamAdapter",
    "answer_object",
    "readable_error",
    "serves_responses",
    "translate_request",
    "translate_response",
    "translated",
]

logger = logging.getLogger(__name__)

BACKEND_PATHS: dict[Dialect, str] = {"anthropic": "/v1/messages", "openai": "/v1/chat/completions"}
_TRANSLATABLE = {"messages", "chat"}


def translate_request(
    body: dict[str, Any],
    *,
    endpoint: str,
    backend: Backend,
    model: str,
    requested: str,
    window: int | None = None,
) -> tuple[bytes, Context]:
    """A request body for ``backend`` in its dialect, and the context for the response side."""
    if endpoint in HUB_ENDPOINTS:
        out, ctx = request_through_hub(
            body, endpoint=endpoint, backend=backend, model=model, requested=requested, window=window
        )
        return _dumps(out), ctx
    if endpoint not in _TRANSLATABLE:
        raise BadRequest(
            f"{endpoint} requests cannot be translated for {backend.name}, a {backend.kind} backend; "
            "route this model to a backend of the same API."
        )
    client = "anthropic" if backend.dialect == "openai" else "openai"
    check_request(body, client)  # a client's mistake is a 400 naming the field, never forwarded
    if backend.dialect == "openai":
        out, ctx = anthropic_to_openai(
            body, model=model, requested=requested, quirks=backend.quirks, window=window
        )
    else:
        out, ctx = openai_to_anthropic(body, model=model, requested=requested, quirks=backend.quirks)
    return _dumps(out), ctx


def serves_responses(backend: Backend) -> bool:
    """The backend takes ``/v1/responses`` itself (OpenAI does; a compatible server only
    when its quirk says so): Responses requests pass through, else they are translated."""
    if backend.quirks.responses_api is not None:
        return backend.quirks.responses_api
    return backend.kind == "openai"


def translated(endpoint: str, client: Dialect, backend: Backend) -> bool:
    """Whether a request to ``endpoint`` must be translated for ``backend``."""
    if endpoint == "responses":
        return not serves_responses(backend)
    return client != backend.dialect  # Gemini's endpoints too: only a Gemini backend takes them


def _dumps(out: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(out)
    except orjson.JSONEncodeError:  # past orjson's 254 levels of nesting: a client's absurdity
        raise BadRequest("The request is nested too deeply to translate.") from None


def translate_response(body: bytes, status: int, ctx: Context) -> tuple[int, bytes]:
    """A whole (non-streamed) response, success or error, in the client's dialect: its
    status and body. A success the translator cannot read (not JSON, not the shape the
    backend's dialect promises) is the backend's failure: ``BadUpstreamResponse``, a 502."""
    if status >= 400:
        return status, translate_error(body, status, ctx.client)
    try:
        data = orjson.loads(body)
        check_response(data, ctx.backend)
        if (through := answer_through_hub(data, ctx)) is not None:
            return status, orjson.dumps(through)
        if ctx.client == "anthropic":
            return status, orjson.dumps(to_anthropic_message(data, ctx))
        return status, orjson.dumps(to_openai_completion(data, ctx))
    except (orjson.JSONDecodeError, TypeError, AttributeError, KeyError, IndexError, ValueError) as e:
        raise BadUpstreamResponse(
            f"The backend's answer could not be read ({type(e).__name__}: {str(e)[:160]})."
        ) from None


def answer_object(body: bytes) -> dict[str, Any]:
    """A same-dialect success, parsed: it must be a JSON object, else it is the backend's
    failure (``BadUpstreamResponse``, a 502), never a 200 the client's SDK chokes on. The
    provider's own JSON passes whatever its shape: same-dialect answers are relayed, not
    second-guessed."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise BadUpstreamResponse(
            f"The backend's answer could not be read (not JSON: {str(e)[:160]})."
        ) from None
    if not isinstance(data, dict):
        raise BadUpstreamResponse("The backend's answer could not be read (not a JSON object).")
    return data


def readable_error(body: bytes, status: int, dialect: Dialect) -> bytes | None:
    """A same-dialect error the client's SDK could not read (a load balancer's HTML 503),
    as an error in ``dialect`` with the same status; None when it is JSON already."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return translate_error(body, status, dialect)
    return None


class _Translator(Protocol):
    @property
    def completed(self) -> bool: ...
    @property
    def failure(self) -> str | None: ...

    def feed(self, data: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def fail(self, message: str) -> bytes: ...


class StreamAdapter:
    """mitmproxy's ``response.stream`` callable: each read in, translated bytes out.

    Called with ``b""`` once at the end (the flush). Returns a list: ``[]`` when a read
    completed no event, because an empty chunk would end an HTTP/1 chunked body. Never
    raises: mitmproxy would drop the chunk silently and carry on with a corrupted stream,
    so an internal failure becomes an error event in the client's dialect instead.
    """

    def __init__(
        self,
        ctx: Context,
        prompt_tokens: Callable[[], int] | None = None,
        decoder: StreamDecoder | None = None,
    ) -> None:
        self.ctx = ctx
        self.decoder = decoder  # a backend that compressed its stream although asked not to
        self.translator: _Translator
        if (through := stream_through_hub(ctx, prompt_tokens)) is not None:
            self.translator = through
        elif ctx.client == "anthropic":
            self.translator = ToAnthropicStream(ctx, prompt_tokens)
        else:
            self.translator = ToOpenAIStream(ctx)

    @property
    def usage(self) -> Usage | None:
        """The usage the upstream reported (or turnout estimated)."""
        if isinstance(self.translator, HubStream):
            return self.translator.usage
        raw = getattr(self.translator, "_usage", None)
        return usage_of(self.ctx.backend, raw) if raw else None

    @property
    def complete(self) -> bool:
        """The answer's own end went to the client (a hang-up after it abandons nothing)."""
        return self.translator.completed

    @property
    def failure(self) -> str | None:
        """The message of the error event that ended the stream, if one did."""
        return self.translator.failure

    @property
    def usage_estimated(self) -> bool:
        return bool(getattr(self.translator, "estimated", False))

    def __call__(self, data: bytes) -> list[bytes]:
        try:
            if data and self.decoder is not None:
                data = self.decoder(data)
                if not data:
                    return []
            out = self.translator.feed(data) if data else self.translator.finish()
        except EventTooLarge as e:  # the upstream's misbehaviour, not turnout's: no traceback
            out = self.translator.fail(str(e))
        except DecodeError as e:
            out = self.translator.fail(f"The backend's stream is unreadable: {e}.")
        except Exception as e:  # the outermost boundary of a stream: report, never raise
            logger.error("stream translation failed (%s)\n%s", brief(str(e)), short_traceback(e))
            try:
                out = self.translator.fail(f"turnout could not translate the stream ({type(e).__name__})")
            except Exception:
                out = b""
        return [out] if out else []

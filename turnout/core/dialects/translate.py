"""The one entry point the proxy uses: requests, responses and streams between dialects."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

from turnout.core.codec import DecodeError, StreamDecoder
from turnout.core.dialects.context import Context
from turnout.core.dialects.errors import translate_error
from turnout.core.dialects.sse import EventTooLarge
from turnout.core.dialects.validate import check_response
from turnout.core.endpoints import API_OF_ENDPOINT
from turnout.core.errors import BadRequest, BadUpstreamResponse, brief, short_traceback
from turnout.core.hub.gemini_upstream import gemini_path
from turnout.core.hub.through import (
    HUB_ENDPOINTS,
    answer_through_hub,
    backend_wire,
    request_through_hub,
    stream_through_hub,
)
from turnout.core.models import Backend, Dialect
from turnout.core.prices import Usage
from turnout.core.recall import ResponseMemory
from turnout.core.restore import StreamRestorer

__all__ = [
    "BACKEND_PATHS",
    "StreamAdapter",
    "answer_object",
    "backend_path",
    "readable_error",
    "serves_responses",
    "translate_request",
    "translate_response",
    "translated",
]

logger = logging.getLogger(__name__)

BACKEND_PATHS: dict[str, str] = {
    "messages": "/v1/messages",
    "chat": "/v1/chat/completions",
    "responses": "/v1/responses",
}


def translate_request(
    body: dict[str, Any],
    *,
    endpoint: str,
    backend: Backend,
    model: str,
    requested: str,
    window: int | None = None,
    memory: ResponseMemory | None = None,
) -> tuple[bytes, Context]:
    """A request body for ``backend`` in its dialect, and the context for the response side.
    Every translation goes through the hub (``core/hub``): the client's dialect read in, the
    backend's written out; a client's mistake is a 400 naming the field, never forwarded."""
    if endpoint not in HUB_ENDPOINTS:
        raise BadRequest(
            f"{endpoint} requests cannot be translated for {backend.name} (kind {backend.kind}); "
            "route this model to a backend of the same API."
        )
    out, ctx = request_through_hub(
        body,
        endpoint=endpoint,
        backend=backend,
        model=model,
        requested=requested,
        window=window,
        memory=memory,
    )
    return _dumps(out), ctx


def serves_responses(backend: Backend) -> bool:
    """The backend takes ``/v1/responses`` itself (OpenAI does; a compatible server only
    when its quirk says so): Responses requests pass through, else they are translated."""
    if backend.quirks.responses_api is not None:
        return backend.quirks.responses_api
    return backend.kind == "openai"


def translated(endpoint: str, backend: Backend) -> bool:
    """Whether a request to ``endpoint`` must be translated for ``backend``: its API is not
    the backend's (a Responses request to OpenAI itself passes, as OpenAI serves both)."""
    if endpoint == "responses" and serves_responses(backend):
        return False
    return API_OF_ENDPOINT.get(endpoint, "") != backend.wire


def backend_path(backend: Backend, model: str, stream: bool) -> str:
    """Where a translated request goes, under the backend's base URL."""
    if backend.wire == "gemini":
        return gemini_path(model, stream)
    return BACKEND_PATHS[backend.wire]


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
        check_response(data, backend_wire(ctx))
        return status, orjson.dumps(answer_through_hub(data, ctx))
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
        self.translator = stream_through_hub(ctx, prompt_tokens)
        self.restorer: StreamRestorer | None = None  # secrets put back (scrub.py), when any went out

    @property
    def usage(self) -> Usage | None:
        """The usage the upstream reported (or turnout estimated)."""
        return self.translator.usage

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
        return self.translator.estimated

    def __call__(self, data: bytes) -> list[bytes]:
        try:
            if data and self.decoder is not None:
                data = self.decoder(data)
                if not data:
                    return []
            out = self.translator.feed(data) if data else self.translator.finish()
            if self.restorer is not None:
                out = self.restorer(out) if data else self.restorer(out) + self.restorer.end()
        except EventTooLarge as e:  # the upstream's misbehaviour, not turnout's: no traceback
            out = self.fail(str(e))
        except DecodeError as e:
            out = self.fail(f"The backend's stream is unreadable: {e}.")
        except Exception as e:  # the outermost boundary of a stream: report, never raise
            logger.error("stream translation failed (%s)\n%s", brief(str(e)), short_traceback(e))
            try:
                out = self.translator.fail(f"turnout could not translate the stream ({type(e).__name__})")
            except Exception:
                out = b""
        return [out] if out else []

    def fail(self, message: str) -> bytes:
        """The connection broke: the stream's end, in the client's dialect."""
        held = self.restorer.end() if self.restorer is not None else b""
        return held + self.translator.fail(message)

"""Helpers every addon uses: answering a flow with an error, and failing closed.

mitmproxy fails OPEN: an exception in a ``request`` hook still sends the request
upstream and skips later addons. ``fail_closed`` wraps each hook so an internal error
becomes a 500 in the client's dialect and the request is never forwarded.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any, cast

from mitmproxy import http
from mitmproxy.connection import ConnectionState

from turnout.core.endpoints import client_dialect
from turnout.core.errors import TurnoutError, error_body
from turnout.core.headers import rewrite
from turnout.core.models import Dialect

logger = logging.getLogger("turnout")

__all__ = [
    "META",
    "Meta",
    "answer",
    "answer_error",
    "client_gone",
    "dialect_of",
    "drop_headers",
    "fail_closed",
]

META = "turnout."  # prefix of every flow.metadata key turnout sets (plain values only)


class Meta:
    """The ``flow.metadata`` keys turnout sets, in one place (and each string built once:
    these are read several times per request)."""

    dialect = META + "dialect"  # the client's dialect, from the endpoint
    endpoint = META + "endpoint"  # messages, chat, embeddings, count_tokens, ...
    local = META + "local"  # answered by turnout itself (/health, /status, /v1/models)
    requested = META + "requested"  # the model name the client asked for
    rule = META + "rule"  # the routing rule that matched
    stream = META + "stream"  # the client asked for a stream
    backend = META + "backend"  # where the request went
    key = META + "key"  # the alias of the key it used (never the key)
    model = META + "model"  # the model name the backend was asked for
    governed = META + "governed"  # the backend whose rate governor counted this request
    translation = META + "translation"  # the dialect Context of a translated flow
    observed = META + "observed"  # rate-limit headers already taken into the pool
    attempts = META + "attempts"  # how many backends/keys were tried (failover)
    timed_out = META + "timed_out"  # the backend timeout closed the upstream connection
    error = META + "error"  # the TurnoutError class name of a refused or failed request
    ttfb_ms = META + "ttfb_ms"  # time to the response headers
    recorded = META + "recorded"  # its analytics row is written


JSON = {"content-type": "application/json"}


def dialect_of(flow: http.HTTPFlow) -> Dialect:
    recorded = flow.metadata.get(Meta.dialect)
    if recorded == "anthropic" or recorded == "openai":
        return cast(Dialect, recorded)
    return client_dialect(flow.request.path, "anthropic-version" in flow.request.headers)


def client_gone(flow: http.HTTPFlow) -> bool:
    """The client has closed its connection (Esc in Claude Code, a timeout, a load tool
    stopping): whatever fails next is the client's abort, never the backend's failure."""
    return not (flow.client_conn.state & ConnectionState.CAN_READ)


def drop_headers(headers: http.Headers, names: frozenset[bytes]) -> None:
    """Remove every header in ``names`` (lowercase bytes) in one pass (see core/headers.py)."""
    fields = headers.fields
    if (kept := rewrite(fields, names)) is not fields:
        headers.fields = kept


def answer(flow: http.HTTPFlow, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    flow.response = http.Response.make(status, body, {**JSON, **(headers or {})})


def answer_error(flow: http.HTTPFlow, error: TurnoutError) -> None:
    flow.metadata[Meta.error] = type(error).__name__
    headers = {"retry-after": str(math.ceil(error.retry_after))} if error.retry_after is not None else None
    answer(flow, error.status, error_body(dialect_of(flow), error.status, error.message), headers)


def _internal_error(flow: http.HTTPFlow, where: str, e: Exception) -> None:
    logger.error(
        "turnout: %s failed (%s: %s); answered 500, request not forwarded", where, type(e).__name__, e
    )
    flow.metadata[Meta.error] = "InternalError"
    body = error_body(
        dialect_of(flow),
        500,
        f"turnout failed inside {where} ({type(e).__name__}); see the proxy log.",
    )
    answer(flow, 500, body)


def fail_closed[F: Callable[..., Any]](hook: F) -> F:
    """Wrap a hook: a turnout error answers in the client's dialect, anything else 500.

    A hook may return an awaitable when it has to wait (for a key, say); the wrapper then
    returns one too, guarded the same way, and mitmproxy awaits it.
    """
    where = f"its {{}} addon's {hook.__name__} hook"

    async def guarded(self: Any, flow: http.HTTPFlow, pending: Awaitable[Any]) -> None:
        try:
            await pending
        except TurnoutError as e:
            answer_error(flow, e)
        except Exception as e:
            _internal_error(flow, where.format(type(self).__name__), e)

    @functools.wraps(hook)
    def wrapper(self: Any, flow: http.HTTPFlow) -> Any:
        try:
            result = hook(self, flow)
        except TurnoutError as e:
            answer_error(flow, e)
        except Exception as e:  # the outermost boundary: log and convert, never forward
            _internal_error(flow, where.format(type(self).__name__), e)
        else:
            if result is not None and inspect.isawaitable(result):
                return guarded(self, flow, result)
        return None

    return wrapper  # type: ignore[return-value]

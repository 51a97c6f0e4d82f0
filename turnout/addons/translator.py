"""Translates responses when the client's dialect differs from the backend's.

The request side is built with the upstream request (``core/upstream.py``); here the
response is: an SSE stream through a ``StreamAdapter`` (set in ``responseheaders``, as
later is too late), anything else as a whole body in ``response``.
"""

from __future__ import annotations

import orjson
from mitmproxy import http

from turnout.addons._flows import Exchanges
from turnout.core.dialects.context import Context
from turnout.core.dialects.translate import StreamAdapter, translate_response
from turnout.core.tokens import estimate_input_tokens

__all__ = ["Translator", "prompt_estimate", "translate_whole"]


def prompt_estimate(request: http.Request) -> int:
    """The translated request's prompt, estimated; for streams that report no usage."""
    try:
        body = orjson.loads(request.raw_content or b"{}")
    except orjson.JSONDecodeError:
        return 0
    return estimate_input_tokens(body) if isinstance(body, dict) else 0


def translate_whole(response: http.Response, ctx: Context | None) -> http.Response:
    """A whole (buffered) response in the client's dialect: success, error or garbage."""
    if ctx is not None:
        body = response.get_content(strict=False) or b""
        response.headers.pop("content-encoding", None)  # the new body is written plain
        response.status_code, response.content = translate_response(body, response.status_code, ctx)
        response.headers["content-type"] = "application/json"
    return response


class Translator:
    def __init__(self, exchanges: Exchanges) -> None:
        self.exchanges = exchanges

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        exchange = self.exchanges.get(flow)
        response = flow.response
        if (
            exchange is None
            or exchange.translation is None
            or response is None
            or response.status_code >= 400
        ):
            return
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            return
        request = flow.request
        response.stream = StreamAdapter(exchange.translation, lambda: prompt_estimate(request))
        response.headers.pop("content-length", None)
        response.headers.pop("content-encoding", None)
        if response.http_version.startswith("HTTP/1"):
            response.headers["transfer-encoding"] = "chunked"

    def response(self, flow: http.HTTPFlow) -> None:
        exchange = self.exchanges.get(flow)
        if exchange is None or flow.response is None or flow.response.stream:
            return
        translate_whole(flow.response, exchange.translation)

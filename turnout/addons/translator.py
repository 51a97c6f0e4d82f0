"""Responses in the client's dialect, whole or streamed.

The request side is built with the upstream request (``core/upstream.py``); here the
response is: an SSE stream through a ``StreamAdapter`` (set in ``responseheaders``, as
later is too late), anything else as a whole body in ``response``. A whole body is
first decoded (with the size cap: ``core/codec.py``) and goes to the client plain; a
same-dialect one passes untouched unless the client could not read it
(``translate.answer_object``, ``readable_error``: a success that is not JSON, an HTML
error page).
"""

from __future__ import annotations

import orjson
from mitmproxy import http

from turnout.addons._flows import Exchanges
from turnout.core.codec import DecodeError, decode
from turnout.core.dialects.translate import StreamAdapter, answer_object, readable_error, translate_response
from turnout.core.errors import BadUpstreamResponse, error_body
from turnout.core.exchange import Exchange
from turnout.core.headers import header_value, is_sse
from turnout.core.passthrough import PassThrough
from turnout.core.restore import StreamRestorer, restore_body
from turnout.core.runtime import Runtime
from turnout.core.tokens import estimate_input_tokens

__all__ = ["Translator", "in_dialect", "prompt_estimate"]


def prompt_estimate(request: http.Request) -> int:
    """The translated request's prompt, estimated; for streams that report no usage."""
    try:
        body = orjson.loads(request.raw_content or b"{}")
    except orjson.JSONDecodeError:
        return 0
    return estimate_input_tokens(body) if isinstance(body, dict) else 0


class Translator:
    def __init__(self, runtime: Runtime, exchanges: Exchanges) -> None:
        self.runtime = runtime
        self.exchanges = exchanges

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        exchange = self.exchanges.get(flow)
        response = flow.response
        if (
            exchange is None
            or exchange.placement is None
            or response is None
            or response.status_code >= 400
            or response.stream is not True  # only SSE is streamed (relay.py)
        ):
            return
        stream: StreamAdapter | PassThrough
        if exchange.translation is not None:
            request = flow.request
            stream = StreamAdapter(exchange.translation, lambda: prompt_estimate(request), exchange.decoder)
        elif exchange.restore:  # the same dialect, relayed, with the secrets put back
            backend = exchange.placement.backend
            stream = PassThrough(backend.dialect, exchange.decoder, exchange.endpoint.name)
        else:
            return  # passed through as it comes (analytics.py reads its usage)
        if exchange.restore:
            stream.restorer = StreamRestorer(exchange.endpoint.name, exchange.restore)
        response.stream = stream

    def response(self, flow: http.HTTPFlow) -> None:
        exchange = self.exchanges.get(flow)
        response = flow.response
        if exchange is None or exchange.placement is None or response is None or response.stream:
            return
        in_dialect(response, exchange, self.runtime.config.limits.max_body_bytes)


def in_dialect(response: http.Response, exchange: Exchange, limit: int) -> http.Response:
    """A whole backend response as the client must get it: decoded (within ``limit``; a
    compressed body goes on plain, loopback costs nothing), then translated, or, in the
    same dialect, made readable if the client's SDK could not read it; and the secrets
    its request went out without put back (``core/restore.py``)."""
    response = _in_dialect(response, exchange, limit)
    if exchange.restore and 200 <= response.status_code < 300 and not is_sse(response.headers.fields):
        body = response.raw_content or b""
        if (restored := restore_body(body, exchange.restore)) is not body:
            response.content = restored
    return response


def _in_dialect(response: http.Response, exchange: Exchange, limit: int) -> http.Response:
    fields = response.headers.fields
    if is_sse(fields):
        return response  # events, whole only if turnout did not stream them (not its answer)
    body = response.raw_content or b""
    status = response.status_code
    try:
        if (encoding := header_value(fields, b"content-encoding")) is not None:
            del response.headers["content-encoding"]
            try:
                body = decode(body, encoding.decode("latin-1"), limit)
            except DecodeError as e:
                raise BadUpstreamResponse(f"The backend's answer could not be decoded ({e}).") from None
        if exchange.translation is not None:
            status, body = translate_response(body, status, exchange.translation)
        elif 200 <= status < 300:
            exchange.answer = answer_object(body)  # parsed once: analytics reads its usage
            if body is response.raw_content:
                return response  # as the backend sent it
        elif status >= 400 and (readable := readable_error(body, status, exchange.dialect)) is not None:
            body = readable
        elif body is response.raw_content:
            return response
    except BadUpstreamResponse as e:
        exchange.error = e
        status, body = e.status, error_body(exchange.dialect, e.status, e.message, e.code)
    response.status_code, response.content = status, body
    response.headers["content-type"] = "application/json"
    return response

"""Translates responses when the client's dialect differs from the backend's.

The request side is translated by the router (it has the parsed body); here the
response is: an SSE stream through a ``StreamAdapter`` (set in ``responseheaders``, as
later is too late), anything else as a whole body in ``response``.
"""

from __future__ import annotations

import orjson
from mitmproxy import http

from turnout.addons._flows import Meta, fail_closed
from turnout.core.dialects.context import Context
from turnout.core.dialects.translate import StreamAdapter, translate_response
from turnout.core.tokens import estimate_input_tokens


def prompt_estimate(request: http.Request) -> int:
    """The translated request's prompt, estimated; for streams that report no usage."""
    try:
        body = orjson.loads(request.raw_content or b"{}")
    except orjson.JSONDecodeError:
        return 0
    return estimate_input_tokens(body) if isinstance(body, dict) else 0


class Translator:
    @fail_closed
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        data = flow.metadata.get(Meta.translation)
        response = flow.response
        if data is None or response is None or response.status_code >= 400:
            return
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            return
        request = flow.request
        response.stream = StreamAdapter(Context.from_metadata(data), lambda: prompt_estimate(request))
        response.headers.pop("content-length", None)
        response.headers.pop("content-encoding", None)
        if response.http_version.startswith("HTTP/1"):
            response.headers["transfer-encoding"] = "chunked"

    @fail_closed
    def response(self, flow: http.HTTPFlow) -> None:
        data = flow.metadata.get(Meta.translation)
        response = flow.response
        if data is None or response is None or response.stream:
            return
        body = response.get_content(strict=False) or b""
        response.content = translate_response(body, response.status_code, Context.from_metadata(data))
        response.headers["content-type"] = "application/json"

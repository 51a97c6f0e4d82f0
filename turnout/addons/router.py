"""Routes each request: parse the body once, resolve model → backend, rewrite the URL.

The decision is recorded three ways: ``flow.metadata`` (plain values), the mitmweb
flow comment (``model → backend (rule)``), and, on the response, ``x-turnout-backend``.
"""

from __future__ import annotations

import logging

import orjson
from mitmproxy import http

from turnout.addons._flows import META, TRANSLATION, answer, fail_closed
from turnout.core.body import parse_json_object, replace_model, requested_model
from turnout.core.dialects.translate import BACKEND_PATHS, translate_request
from turnout.core.endpoints import classify
from turnout.core.errors import BadRequest, BodyTooLarge, NotFound
from turnout.core.runtime import Runtime
from turnout.core.tokens import estimate_input_tokens

logger = logging.getLogger("turnout")


class Router:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @fail_closed
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        limit = self.runtime.config.limits.max_body_bytes
        length = flow.request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise BodyTooLarge(_too_large(int(length), limit))

    @fail_closed
    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        endpoint = classify(flow.request.path)
        if endpoint is None:
            raise NotFound(
                f"turnout has no endpoint {flow.request.method} {flow.request.path.split('?')[0]}."
            )
        flow.metadata[META + "dialect"] = endpoint.dialect
        if flow.request.method != "POST":
            raise BadRequest(f"{endpoint.path} takes POST (got {flow.request.method}).")
        try:
            raw = flow.request.get_content() or b""
        except ValueError as e:
            raise BadRequest(f"Cannot decode the request body: {e}") from None
        limit = self.runtime.config.limits.max_body_bytes
        if len(raw) > limit:
            raise BodyTooLarge(_too_large(len(raw), limit))
        body = parse_json_object(raw)
        decision = self.runtime.router.resolve(requested_model(body))
        backend = decision.backend
        self.runtime.requests += 1
        flow.metadata.update(
            {
                META + "endpoint": endpoint.name,
                META + "backend": backend.name,
                META + "requested": decision.requested,
                META + "model": decision.model,
                META + "rule": decision.rule,
                META + "stream": body.get("stream") is True,
            }
        )
        flow.comment = decision.describe()
        if endpoint.name == "count_tokens" and backend.kind != "anthropic":
            tokens = estimate_input_tokens(body)
            answer(flow, 200, orjson.dumps({"input_tokens": tokens}), {"x-turnout-estimate": "chars/4"})
            return
        path = endpoint.path
        if endpoint.dialect != backend.dialect:
            content, ctx = translate_request(
                body,
                endpoint=endpoint.name,
                backend=backend,
                model=decision.model,
                requested=decision.requested,
            )
            flow.request.content = content
            flow.request.headers["content-type"] = "application/json"
            flow.request.anticomp()  # the stream translator reads plain bytes
            flow.metadata[TRANSLATION] = ctx.to_metadata()
            flow.comment += f" [{endpoint.dialect} → {backend.dialect}]"
            path = BACKEND_PATHS[backend.dialect]
        elif decision.rewritten:
            flow.request.content = replace_model(raw, body, decision.model)
        target = self.runtime.router.targets[backend.name]
        request = flow.request
        # Fields, not `request.url`: parsing a URL per request costs ~0.1 ms.
        request.scheme, request.data.host, request.data.port = target.scheme, target.host, target.port
        request.host_header = target.authority
        request.path = target.path(path)


def _too_large(size: int, limit: int) -> str:
    return (
        f"The request body is {size:,} bytes, over turnout's limit of {limit:,} bytes "
        "(limits.max_body_mb in the config)."
    )

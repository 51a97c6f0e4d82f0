"""Relays the backend's response: SSE streamed chunk by chunk, the route named in a header.

Without ``stream`` mitmproxy would buffer an SSE response to its end, so every
``text/event-stream`` response is streamed. Same-dialect bodies pass through untouched.
"""

from __future__ import annotations

from mitmproxy import http

from turnout.addons._flows import META, fail_closed


class Relay:
    @fail_closed
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        backend = flow.metadata.get(META + "backend")
        if backend is None or flow.response is None or flow.metadata.get(META + "local"):
            return
        flow.response.headers["x-turnout-backend"] = backend
        if flow.response.headers.get("content-type", "").startswith("text/event-stream"):
            flow.response.stream = True

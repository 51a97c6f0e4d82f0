"""Local access control, and the client's own credentials stripped before anything else.

When ``TURNOUT_API_KEY`` is set, every route but ``/health`` requires it, sent as
``x-api-key`` or ``Authorization: Bearer`` and compared in constant time. Whatever key
the client sent (often a placeholder) is removed here, so it can never reach a backend.
"""

from __future__ import annotations

import hmac
import os

from mitmproxy import ctx, http
from mitmproxy.addonmanager import Loader

from turnout.addons._flows import drop_headers
from turnout.core.errors import Unauthorized

CLIENT_CREDENTIAL_HEADERS = frozenset(
    {b"authorization", b"x-api-key", b"api-key", b"openai-organization", b"openai-project"}
)
OPEN_PATHS = ("/health",)


def presented_key(headers: http.Headers) -> str | None:
    if key := headers.get("x-api-key"):
        return key
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class Gate:
    def __init__(self) -> None:
        self.api_key: bytes = b""
        self._read = False

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "turnout_api_key",
            str,
            os.environ.get("TURNOUT_API_KEY", ""),
            "Key clients must send (x-api-key or Authorization: Bearer) on every route but /health. "
            "Defaults to $TURNOUT_API_KEY; empty: no local access control (loopback only).",
        )

    def configure(self, updated: set[str]) -> None:
        # Read on the first configure whatever it updated: the option's default comes from
        # the environment, and a host that never sets it must still be gated by it.
        if "turnout_api_key" in updated or not self._read:
            self.api_key = ctx.options.turnout_api_key.encode()
            self._read = True

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        if self.api_key and flow.request.path.split("?", 1)[0] not in OPEN_PATHS:
            sent = (presented_key(flow.request.headers) or "").encode()
            if not hmac.compare_digest(sent, self.api_key):
                raise Unauthorized(
                    "This turnout requires its API key (TURNOUT_API_KEY): send it as x-api-key "
                    "or Authorization: Bearer."
                )
        drop_headers(flow.request.headers, CLIENT_CREDENTIAL_HEADERS)

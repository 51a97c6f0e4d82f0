"""The addon chain, in order. ``turnout proxy`` and ``addons/router.py`` both use this list."""

from __future__ import annotations

from typing import Any

from turnout.addons.config import ConfigLoader
from turnout.addons.credentials import Credentials
from turnout.addons.endpoints import Endpoints
from turnout.addons.gate import Gate
from turnout.addons.relay import Relay
from turnout.addons.requestlog import RequestLog
from turnout.addons.router import Router
from turnout.addons.upstream_errors import UpstreamErrors
from turnout.core.runtime import Runtime


def build_chain(runtime: Runtime | None = None) -> list[Any]:
    runtime = runtime or Runtime()
    return [
        ConfigLoader(runtime),  # the config in effect, into the shared runtime
        Gate(),  # TURNOUT_API_KEY; client credentials stripped
        Endpoints(runtime),  # /health, /status, /v1/models answered in place
        Router(runtime),  # body parsed once; model → backend; URL rewritten
        Credentials(runtime),  # the backend's key and required headers
        Relay(),  # SSE streamed; x-turnout-backend on every response
        UpstreamErrors(runtime),  # unreachable → 502, timeout → 504, as JSON
        RequestLog(),  # --verbose: one line per request
    ]

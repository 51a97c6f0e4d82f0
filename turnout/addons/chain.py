"""The addon chain, in order. ``turnout proxy`` and ``addons/router.py`` both use it.

mitmproxy pays for every addon object on every event (it walks each addon and looks up
the hook by name, ~4 µs each), whether or not the addon has that hook. Eight concern
classes would cost ~0.25 ms per request before any of them did work. So the concerns
stay small classes, one per file, in one flat list here, and ``Chain`` presents them to
mitmproxy as a single addon: for each hook it calls, in order, only the concerns that
implement it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from mitmproxy import hooks

from turnout.addons.analytics import Analytics
from turnout.addons.catalog import Catalog
from turnout.addons.config import ConfigLoader
from turnout.addons.credentials import Credentials
from turnout.addons.endpoints import Endpoints
from turnout.addons.failover import Failover
from turnout.addons.gate import Gate
from turnout.addons.ratelimits import RateLimits
from turnout.addons.relay import Relay
from turnout.addons.requestlog import RequestLog
from turnout.addons.router import Router
from turnout.addons.translator import Translator
from turnout.addons.upstream_errors import UpstreamErrors
from turnout.core.runtime import Runtime

__all__ = ["Chain", "build_chain", "concerns"]


def concerns(runtime: Runtime) -> list[Any]:
    router, credentials = Router(runtime), Credentials(runtime)
    return [
        ConfigLoader(runtime),  # the config in effect, into the shared runtime
        Catalog(runtime),  # what local servers can serve (context windows), learned in the background
        Gate(),  # TURNOUT_API_KEY; client credentials stripped
        Endpoints(runtime),  # /health, /status, /v1/models answered in place
        router,  # body parsed once; model → backend → key (or wait); URL rewritten
        credentials,  # the key's credential and the backend's required headers
        Relay(),  # SSE streamed; x-turnout-backend on every response
        RateLimits(runtime),  # rate-limit headers into the pool; 429/401 cool or fail keys
        Failover(runtime, router, credentials),  # buffered requests retried on other keys, then fallbacks
        Translator(),  # responses and streams into the client's dialect
        UpstreamErrors(runtime),  # unreachable → 502, timeout → 504, as JSON
        Analytics(runtime),  # one record per request into the analytics store
        RequestLog(),  # --verbose: one line per request
    ]


def _dispatcher(handlers: list[Callable[..., Any]]) -> Callable[..., Any]:
    """Call ``handlers`` in order. A handler may return an awaitable when it must wait
    (for a key, a retry); the rest then run after it, in a coroutine mitmproxy awaits.
    Requests that need no waiting never pay for a coroutine."""
    if len(handlers) == 1:
        return handlers[0]

    async def resume(pending: Awaitable[Any], rest: list[Callable[..., Any]], args: tuple[Any, ...]) -> None:
        await pending
        for handler in rest:
            result = handler(*args)
            if result is not None and inspect.isawaitable(result):
                await result

    def run(*args: Any) -> Any:
        for i, handler in enumerate(handlers):
            result = handler(*args)
            if result is not None and inspect.isawaitable(result):
                return resume(result, handlers[i + 1 :], args)
        return None

    return run


class Chain:
    """turnout's concerns, in order, as one mitmproxy addon."""

    name = "turnout"

    def __init__(self, members: list[Any]) -> None:
        self.members = members
        for hook in hooks.all_hooks:
            handlers = [getattr(m, hook) for m in members if callable(getattr(m, hook, None))]
            if handlers:
                setattr(self, hook, _dispatcher(handlers))


def build_chain(runtime: Runtime | None = None) -> Chain:
    return Chain(concerns(runtime or Runtime()))

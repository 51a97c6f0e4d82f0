"""The addon chain, in order. ``turnout proxy`` and ``addons/router.py`` both use it.

mitmproxy pays for every addon object on every event (it walks each addon and looks up
the hook by name, ~4 µs each), whether or not the addon has that hook. So the concerns
stay small classes, one per file, in one flat list here, and ``Chain`` presents them to
mitmproxy as a single addon: for each hook it calls, in order, only the concerns that
implement it.

Being one addon, the chain is also the error boundary mitmproxy would otherwise draw
around it (and draw badly: mitmproxy fails OPEN, forwarding a request whose hook
raised, and skips every later addon). Each concern is isolated: when one raises, the
error is logged with the concern's name, the flow is answered honestly, and the other
concerns still run, so analytics still records the request:

- a ``TurnoutError`` is a refusal: the client gets it, in its dialect;
- anything else in ``requestheaders``/``request`` fails closed: a JSON 500 in the
  client's dialect, and nothing is forwarded;
- in ``responseheaders``/``response``, a status never contradicts its body: the
  response passes untouched (if it is already on its way) or is replaced whole;
- in ``error``, the failure is logged.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mitmproxy import hooks, http

from turnout.addons import _mitm
from turnout.addons._flows import Exchanges, dialect_of, error_response, replace_whole
from turnout.addons.analytics import Analytics
from turnout.addons.catalog import Catalog
from turnout.addons.client_timeouts import ClientTimeouts
from turnout.addons.config import ConfigLoader
from turnout.addons.drain import Drain
from turnout.addons.endpoints import Endpoints
from turnout.addons.failover import Failover
from turnout.addons.gate import Gate
from turnout.addons.intake import Intake
from turnout.addons.interception import Interception
from turnout.addons.mitmweb import ClientCopy, WebUpdates
from turnout.addons.ratelimits import RateLimits
from turnout.addons.relay import Relay
from turnout.addons.requestlog import RequestLog
from turnout.addons.router import Router
from turnout.addons.secrecy import Secrecy
from turnout.addons.sharing import Sharing
from turnout.addons.translator import Translator
from turnout.addons.upstream_errors import UpstreamErrors
from turnout.core.errors import InternalError, TurnoutError, brief, short_traceback
from turnout.core.runtime import Runtime

__all__ = ["Chain", "build_chain", "concerns"]

logger = logging.getLogger(__name__)

FLOW_HOOKS = frozenset({"requestheaders", "request", "responseheaders", "response", "error"})
Handler = tuple[str, Callable[..., Any]]


def concerns(runtime: Runtime, exchanges: Exchanges, *, web: bool | None = None) -> list[Any]:
    """The chain; ``web=False`` leaves out what only a flow shown or saved needs (``turnout
    proxy`` without ``--web``: the flow lives in memory for the request only, so the key
    need not be kept out of it), ``None`` keeps it (the script: mitmweb, or mitmdump that
    may save flows)."""
    replies, wire, interception = _mitm.Replies(), _mitm.WireHeaders(), Interception()
    chain = [
        ConfigLoader(runtime),  # the config in effect, into the shared runtime
        Drain(runtime),  # requests in flight counted: asked to stop, they get a grace period
        Sharing(runtime),  # key counts and headroom to the other workers or instances, batched
        Catalog(runtime),  # what local servers can serve (context windows), learned in the background
        ClientTimeouts(runtime),  # idle, slow and non-reading clients let go; at most max_clients
        Secrecy(runtime, wire),  # backend keys on the wire only, masked in flows; mitmweb replays
        Intake(exchanges),  # every request but a local endpoint's read gets its exchange (and a row)
        interception,  # --intercept: the proxy's door (Proxy-Authorization on CONNECT)
        Gate(
            runtime, exchanges, interception
        ),  # TURNOUT_API_KEY, web pages, loops; client credentials stripped
        Endpoints(runtime),  # /health, /status, /v1/models answered in place
        ClientCopy(),  # --web: the client's request kept beside the one sent, for mitmweb
        Router(
            runtime, exchanges, None if web is False else wire
        ),  # body parsed once; model → backend → key (or wait); first try
        WebUpdates(),  # --web: a routed flow shown where it went, at once
        Relay(exchanges),  # SSE streamed; x-turnout-backend on every response
        RateLimits(runtime, exchanges),  # rate-limit headers into the pool; 429/401 cool or fail keys
        Failover(runtime, exchanges, replies),  # buffered requests retried on other keys, then fallbacks
        Translator(runtime, exchanges),  # responses and streams into the client's dialect
        UpstreamErrors(runtime, exchanges, replies),  # deadlines; unreachable → 502, timeout → 504, as JSON
        Analytics(runtime, exchanges),  # one record per request into the analytics store
        RequestLog(exchanges),  # --verbose: one line per request
    ]
    if web is False:
        chain = [c for c in chain if not isinstance(c, ClientCopy | WebUpdates | Secrecy)]
    return chain


class Chain:
    """turnout's concerns, in order, as one mitmproxy addon."""

    name = "turnout"

    def __init__(self, members: list[Any], exchanges: Exchanges) -> None:
        self.members = members
        self.exchanges = exchanges
        for hook in hooks.all_hooks:
            handlers = [
                (type(m).__name__, getattr(m, hook)) for m in members if callable(getattr(m, hook, None))
            ]
            if not handlers:
                continue
            if hook in FLOW_HOOKS:
                setattr(self, hook, self._isolated(hook, handlers))
            else:
                setattr(self, hook, _in_order([h for _, h in handlers]))

    def _isolated(self, hook: str, handlers: list[Handler]) -> Callable[[http.HTTPFlow], Any]:
        """Call ``handlers`` in order; a handler may return an awaitable when it must wait
        (for a key, a retry), and the rest then run after it, in a coroutine mitmproxy
        awaits. Requests that need no waiting never pay for a coroutine."""
        failed = self._failed

        async def resume(
            pending: Awaitable[Any], name: str, rest: list[Handler], flow: http.HTTPFlow
        ) -> None:
            try:
                await pending
            except Exception as e:
                failed(hook, name, flow, e)
            for name, handler in rest:
                try:
                    result = handler(flow)
                    if result is not None and inspect.isawaitable(result):
                        await result
                except Exception as e:
                    failed(hook, name, flow, e)

        def run(flow: http.HTTPFlow) -> Any:
            for i, (name, handler) in enumerate(handlers):
                try:
                    result = handler(flow)
                except Exception as e:
                    failed(hook, name, flow, e)
                    continue
                if result is not None and inspect.isawaitable(result):
                    return resume(result, name, handlers[i + 1 :], flow)
            return None

        return run

    def _failed(self, hook: str, concern: str, flow: http.HTTPFlow, e: Exception) -> None:
        exchange = self.exchanges.get(flow)
        if isinstance(e, TurnoutError) and hook in ("requestheaders", "request"):
            error: TurnoutError = e  # a refusal, said in the client's dialect
        else:
            logger.error(
                "%s failed in its %s hook (%s: %s)\n%s",
                concern,
                hook,
                type(e).__name__,
                brief(str(e)),
                short_traceback(e),
            )
            error = InternalError(
                f"turnout failed inside its {concern} concern ({type(e).__name__}); see the proxy log."
            )
        if hook == "error":
            return
        if exchange is not None and (exchange.error is None or isinstance(error, InternalError)):
            exchange.error = error
        reply = error_response(dialect_of(flow, exchange), error)
        if hook in ("requestheaders", "request"):
            if flow.response is None:
                flow.response = reply  # fail closed: nothing is forwarded
        elif hook == "responseheaders" and flow.response is not None:
            replace_whole(flow.response, reply)
        elif hook == "response" and flow.response is not None and not flow.response.stream:
            flow.response = reply


def _in_order(handlers: list[Callable[..., Any]]) -> Callable[..., Any]:
    """Lifecycle hooks (load, configure, running, done): in order, awaiting those that wait;
    their errors are mitmproxy's to report (a bad option must stop the start)."""

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


def build_chain(runtime: Runtime | None = None, *, web: bool | None = None) -> Chain:
    _mitm.check()
    exchanges = Exchanges()
    return Chain(concerns(runtime or Runtime(), exchanges, web=web), exchanges)

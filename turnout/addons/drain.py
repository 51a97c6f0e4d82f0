"""Stopping without cutting anyone off: requests in flight get a grace period.

Asked to stop (Ctrl-C, SIGTERM from ``systemctl stop`` or ``launchctl``), turnout stops
listening at once, so a client gets "connection refused" and can go elsewhere, and lets
the requests already in flight finish (a Claude Code answer streaming) for up to
``turnout_grace`` seconds before it exits. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import time

from mitmproxy import ctx, http, master
from mitmproxy.addonmanager import Loader

from turnout.core.runtime import Runtime

__all__ = ["Drain", "drain_then_stop"]

logger = logging.getLogger(__name__)


class Drain:
    """Counts the requests in flight (every flow, from its headers to its end)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._live: set[str] = set()  # flow ids: a flow ends once, even if replayed later

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "turnout_grace",
            float,
            30.0,
            "Seconds the requests in flight get to finish when turnout is asked to stop (a second "
            "Ctrl-C stops at once).",
        )

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._live.add(flow.id)
        self.runtime.in_flight = len(self._live)

    def response(self, flow: http.HTTPFlow) -> None:
        self._over(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._over(flow)

    def _over(self, flow: http.HTTPFlow) -> None:
        self._live.discard(flow.id)
        self.runtime.in_flight = len(self._live)


async def drain_then_stop(m: master.Master, runtime: Runtime) -> None:
    """Stop listening, wait for the requests in flight (up to the grace), then shut down."""
    if runtime.stopping:
        m.shutdown()  # asked twice: now
        return
    runtime.stopping = True
    grace = ctx.options.turnout_grace
    if runtime.in_flight:
        logger.warning(
            "stopping: no new connections; %d request(s) in flight get up to %.0f s (Ctrl-C again: now)",
            runtime.in_flight,
            grace,
        )
    m.options.update(server=False)  # every listener closes; open connections carry on
    deadline = time.monotonic() + grace
    while runtime.in_flight > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if runtime.in_flight:
        logger.warning("stopping with %d request(s) still in flight (the grace is over)", runtime.in_flight)
    m.shutdown()

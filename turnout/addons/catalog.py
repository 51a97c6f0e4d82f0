"""Learns what local model servers can serve (models, context windows), off the event loop.

Probed at start, after each config reload and every ``turnout_probe_interval`` seconds,
unless discovery is off (``--no-discover``). Only backends on loopback (llama.cpp,
Ollama, vLLM, LM Studio): their limits are small enough to matter, and they answer in
milliseconds. What is learned caps ``max_tokens``
in translated requests (see ``core/probe.py``). A server that does not answer is simply
not known; nothing here can delay or fail a request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from urllib.parse import urlsplit

from mitmproxy import ctx
from mitmproxy.addonmanager import Loader

from turnout.core.models import Backend
from turnout.core.probe import ServerFacts, probe_server
from turnout.core.runtime import Runtime

logger = logging.getLogger(__name__)


def is_local(backend: Backend) -> bool:
    host = urlsplit(backend.base_url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Catalog:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "turnout_probe_interval",
            float,
            60.0,
            "Seconds between reads of local servers' models and context windows; 0: only at start.",
        )

    def running(self) -> None:
        if self._task is None and ctx.options.turnout_discover:
            self._task = asyncio.get_running_loop().create_task(self._watch())

    def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _watch(self) -> None:
        seen, waited = -1, 0.0
        while True:
            interval = ctx.options.turnout_probe_interval
            if self.runtime.generation != seen or (interval > 0 and waited >= interval):
                seen, waited = self.runtime.generation, 0.0
                await self.refresh()
            await asyncio.sleep(1.0)
            waited += 1.0

    async def refresh(self) -> None:
        local = [b for b in self.runtime.config.backends.values() if is_local(b)]
        found = await asyncio.gather(*(asyncio.to_thread(probe_server, b.base_url, key=b.key) for b in local))
        facts: dict[str, ServerFacts] = {}
        for backend, learned in zip(local, found, strict=True):
            facts[backend.name] = learned
            window = learned.window or max(learned.windows.values(), default=0)
            if window and self.runtime.facts.get(backend.name) != learned:
                logger.info("%s: context window %s tokens", backend.name, f"{window:,}")
        self.runtime.facts = facts

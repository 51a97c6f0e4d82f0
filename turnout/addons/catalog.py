"""Learns what the backends serve (model lists, local servers' context windows), off the
event loop.

Every backend's own model list (``core/listing.py``) is read at start, after each config
reload and then periodically: local servers every ``turnout_probe_interval`` seconds,
remote providers every ``turnout_list_interval``. A bare model name a list holds is
routed to that backend (``routing.Resolver``), and ``GET /v1/models`` shows it. A list
that cannot be read is logged once (and again when it can be read), never retried in
a loop, and nothing here can delay or fail a request, with one exception a client
wants: a model no backend serves makes the request wait (at most ``MISS_WAIT`` seconds)
while local servers are looked for and lists read again, at most once every
``MISS_EVERY`` seconds, so a server started or a model pulled after the proxy routes
within seconds.

Local servers (llama.cpp, Ollama, vLLM, LM Studio) are also asked for their context
windows, which cap ``max_tokens`` in translated requests (``core/probe.py``). All of it
runs only with discovery on (``--no-discover`` turns it off).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time

from mitmproxy import ctx
from mitmproxy.addonmanager import Loader

from turnout.core.listing import ListingError, read_model_list
from turnout.core.models import Backend
from turnout.core.probe import ServerFacts, probe_server
from turnout.core.runtime import Runtime

logger = logging.getLogger(__name__)


class Catalog:
    MISS_EVERY = 3.0  # seconds: a model nobody serves sends turnout looking again at most this often
    MISS_WAIT = 4.0  # seconds a request for such a model waits for the look

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None
        self._listed_at: dict[str, float] = {}
        self._failing: dict[str, str] = {}  # backend → what was said about its list
        self._last_miss = -math.inf
        self._looking: asyncio.Future[None] | None = None

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "turnout_probe_interval",
            float,
            60.0,
            "Seconds between reads of local servers' models and context windows; 0: only at start.",
        )
        loader.add_option(
            "turnout_list_interval",
            float,
            600.0,
            "Seconds between reads of remote backends' model lists; 0: only at start and on reload.",
        )

    def running(self) -> None:
        if self._task is None and ctx.options.turnout_discover:
            self._task = asyncio.get_running_loop().create_task(self._watch())
            self.runtime.relist = self.look_again

    def done(self) -> None:
        self.runtime.relist = None
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _watch(self) -> None:
        seen, waited = -1, 0.0
        while True:
            interval = ctx.options.turnout_probe_interval
            if self.runtime.generation != seen or (interval > 0 and waited >= interval):
                seen, waited = self.runtime.generation, 0.0
                try:
                    await self.refresh(reloaded=True)
                except Exception:  # a bug here must not stop the next reads (nor any request)
                    logger.exception("reading the backends' model lists failed")
            await asyncio.sleep(1.0)
            waited += 1.0

    async def look_again(self) -> bool:
        """A model nobody serves: look for servers and read lists again, if not done just
        now; True if it was done (the caller resolves the model again)."""
        if self._looking is None:
            if time.monotonic() - self._last_miss < self.MISS_EVERY:
                return False
            self._last_miss = time.monotonic()
            self._looking = asyncio.ensure_future(self._look())
            self._looking.add_done_callback(self._looked)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._looking), self.MISS_WAIT)
            return True
        return False

    def _looked(self, done: asyncio.Future[None]) -> None:
        self._looking = None
        if not done.cancelled() and (e := done.exception()) is not None:
            logger.warning("looking for a missing model failed: %s", e)

    async def _look(self) -> None:
        if self.runtime.rediscover is not None:
            await self.runtime.rediscover()
        await self.refresh(reloaded=False)

    async def refresh(self, *, reloaded: bool) -> None:
        """Local servers' facts and lists; remote lists too once they are due (or after a reload)."""
        backends = list(self.runtime.config.backends.values())
        local = [b for b in backends if b.local]
        now, every = time.monotonic(), ctx.options.turnout_list_interval
        due = [
            b
            for b in backends
            if b.local
            or b.name not in self._listed_at
            or (reloaded and b.name in self._failing)
            or (every > 0 and now - self._listed_at[b.name] >= every)
        ]
        facts_found, lists = await asyncio.gather(
            asyncio.gather(*(asyncio.to_thread(probe_server, b.base_url, key=b.key) for b in local)),
            asyncio.gather(*(asyncio.to_thread(_read, b) for b in due)),
        )
        facts: dict[str, ServerFacts] = {}
        for backend, learned in zip(local, facts_found, strict=True):
            facts[backend.name] = learned
            window = learned.window or max(learned.windows.values(), default=0)
            if window and self.runtime.facts.get(backend.name) != learned:
                logger.info("%s: context window %s tokens", backend.name, f"{window:,}")
        self.runtime.facts = facts
        learned_lists: dict[str, tuple[str, ...]] = {}
        for backend, result in zip(due, lists, strict=True):
            self._listed_at[backend.name] = now
            if isinstance(result, ListingError):
                if self._failing.get(backend.name) != str(result):
                    self._failing[backend.name] = str(result)
                    logger.warning(
                        "%s: %s; only its configured models route until it answers", backend.name, result
                    )
                continue
            if self._failing.pop(backend.name, None) is not None:
                logger.warning("%s: its model list reads again (%d models)", backend.name, len(result))
            learned_lists[backend.name] = result
        if self.runtime.learn_models(learned_lists):
            logger.info("model lists: %s", ", ".join(f"{n} {len(m)}" for n, m in learned_lists.items()))


def _read(backend: Backend) -> tuple[str, ...] | ListingError:
    try:
        return read_model_list(backend, timeout=2.0 if backend.local else 5.0)
    except ListingError as e:
        return e

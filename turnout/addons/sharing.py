"""Keeps this process's share of the board current (``core/shared.py``): every
``turnout_share_interval`` it sends the counts and headroom batched since the last time,
its own request counts, and (workers sharing one analytics store) reads the rows the
other workers wrote. Cooldowns and failures do not wait for this: they go at once."""

from __future__ import annotations

import asyncio
import logging
import time

from mitmproxy import ctx
from mitmproxy.addonmanager import Loader

from turnout.core.runtime import Runtime

logger = logging.getLogger(__name__)


class Sharing:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "turnout_share_interval",
            float,
            0.05,
            "Seconds between sends of batched key counts and headroom to the other workers or "
            "instances (cooldowns and failures go at once).",
        )

    def running(self) -> None:
        if self.runtime.board is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._share(ctx.options.turnout_share_interval)
            )

    async def _share(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self.share()
            except Exception:  # a background task: log, keep sharing
                logger.exception("could not share key state with the other workers")

    def share(self) -> None:
        runtime, now = self.runtime, time.time()
        if runtime.board is None:
            return
        if runtime.pool is not None:
            runtime.pool.flush(now)
        runtime.board.tally(runtime.requests, runtime.in_flight, runtime.waiting)
        if runtime.store is not None and runtime.store.shared:
            runtime.store.flush()  # also reads the other workers' rows

    def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.runtime.close_board()

"""One record per request, on response and on error, into the analytics store.

Time to first byte is taken when the response headers arrive. Tokens come from the
response body, or from the stream: pass-through streams get a ``PassThrough`` (which
reads the usage on the side), translated streams report what their translator saw. A finished
flow's row is built at once, while the flow is still in the CPU's caches (building it
later from a cold flow costs twice as much), and written with the others of the last
``LINGER`` seconds, in one batch on the event loop (see ``core/store.py`` for why that
is cheaper than a writer thread and never waits on the disk). Checkpoints, which do
wait on it, run in a worker thread. Written rows are also counted in the running
totals (``/metrics``) and the live last hour (``/analytics``, ``core/live.py``), which a
restarted proxy seeds from the store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from mitmproxy import ctx, http
from mitmproxy.addonmanager import Loader

from turnout.addons._flows import Exchanges, client_gone
from turnout.core.analytics import HOUR
from turnout.core.dialects.translate import StreamAdapter
from turnout.core.errors import BackendUnreachable
from turnout.core.exchange import Exchange
from turnout.core.passthrough import PassThrough
from turnout.core.paths import analytics_path
from turnout.core.prices import Usage
from turnout.core.runtime import Runtime
from turnout.core.store import Record, Store, StoreError, read_records
from turnout.core.usage import usage_from_body, usage_in, usage_of

logger = logging.getLogger(__name__)

ABORTED = 499  # the client gave up (nginx's status for it)


PASSED = "(passed through)"  # the backend column of an unrouted request sent to its own host


class Analytics:
    LINGER = 0.05  # seconds a finished request waits for its row to be written with others
    SEED = 100_000  # rows of the last hour a restarted proxy's live window starts from, at most

    def __init__(self, runtime: Runtime, exchanges: Exchanges) -> None:
        self.runtime = runtime
        self.exchanges = exchanges
        self._flush_at: asyncio.TimerHandle | None = None
        self._checkpointing: asyncio.Future[None] | None = None
        self._seeding: asyncio.Future[None] | None = None

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "turnout_analytics",
            bool,
            True,
            "Record every request in the analytics store (`analytics:` in the config: path, retention).",
        )

    def running(self) -> None:
        settings = self.runtime.config.analytics
        if not (ctx.options.turnout_analytics and settings.enabled) or self.runtime.store is not None:
            return
        try:
            self.runtime.store = Store(
                analytics_path(settings.path),
                retention_days=settings.retention_days,
                on_rows=self._count,
                shared=self.runtime.workers > 1,
            )
        except StoreError as e:
            logger.warning("analytics off: %s", e.message)
            return
        self._seeding = asyncio.ensure_future(self._seed(self.runtime.store.path))

    async def _seed(self, path: Path) -> None:
        """The live window starts with the last hour a previous run recorded (its newest
        ``SEED`` rows), added a thousand at a time so that requests are served meanwhile."""
        runtime = self.runtime
        try:
            store = runtime.store
            through = store.opened_at if store is not None and store.shared else None
            records = await asyncio.to_thread(
                read_records, path, time.time() - HOUR, runtime.started, self.SEED, through_id=through
            )
        except StoreError as e:
            logger.warning("the live analytics start empty: %s", e.message)
            return
        for i, record in enumerate(records):
            runtime.window.add(record)
            if i % 1000 == 999:
                await asyncio.sleep(0)

    async def done(self) -> None:
        self.runtime.close_memory()
        if self._seeding is not None:
            self._seeding.cancel()
        for flow, exchange in self.exchanges.live():  # still in flight at shutdown: recorded as aborted
            if not exchange.recorded and flow.response is None:
                self._record(flow, exchange, aborted="shutdown")
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        if self._checkpointing is not None:
            await self._checkpointing
        if self.runtime.store is not None:
            self.runtime.store.close()
            self.runtime.store = None

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        exchange = self.exchanges.get(flow)
        if exchange is None or flow.response is None:
            return
        exchange.ttfb_ms = round((time.time() - flow.request.timestamp_start) * 1000, 2)
        if flow.response.stream is True and exchange.placement is not None:
            flow.response.stream = PassThrough(
                exchange.placement.backend.dialect, exchange.decoder, exchange.endpoint.name
            )

    def response(self, flow: http.HTTPFlow) -> None:
        if exchange := self.exchanges.get(flow):
            self._record(flow, exchange)

    def error(self, flow: http.HTTPFlow) -> None:
        if exchange := self.exchanges.get(flow):
            self._record(flow, exchange)

    def _record(self, flow: http.HTTPFlow, exchange: Exchange, aborted: str | None = None) -> None:
        """The flow's row, to the store's pending list; written at the next flush."""
        store = self.runtime.store
        if store is None or exchange.recorded:
            return
        exchange.recorded = True
        try:
            row = self._row(flow, exchange, aborted, time.time())
        except Exception:  # a bookkeeping failure must not disturb the answer already made
            logger.exception("could not build the analytics row of %s", flow.request.path[:200])
            return
        store.record(row)
        if self._flush_at is None:
            self._flush_at = asyncio.get_running_loop().call_later(self.LINGER, self._flush)

    def _flush(self) -> None:
        self._flush_at = None
        store = self.runtime.store
        if store is None:
            return
        try:
            store.flush()
        except Exception:  # a timer callback: log, never let it take the loop down
            logger.exception("analytics flush failed")
        if store.pending:  # the database was locked: try again later
            self._flush_at = asyncio.get_running_loop().call_later(1.0, self._flush)
        if store.checkpoint_due and self._checkpointing is None:
            self._checkpointing = asyncio.ensure_future(self._checkpoint(store))

    async def _checkpoint(self, store: Store) -> None:
        try:
            await asyncio.to_thread(store.checkpoint)
        finally:
            self._checkpointing = None

    def _count(self, rows: list[Record]) -> None:
        for row in rows:
            self.runtime.counters.add(row)
            self.runtime.window.add(row)

    def _status(self, flow: http.HTTPFlow, exchange: Exchange, aborted: str | None) -> tuple[int, str | None]:
        """What the client got (or would have got), and the error to note, if any."""
        error = exchange.error
        note = type(error).__name__ if error is not None else (flow.error.msg[:200] if flow.error else None)
        response = flow.response
        stream = response.stream if response is not None else None
        relayed = stream if isinstance(stream, PassThrough | StreamAdapter) else None
        if note is None and response is not None:
            if relayed is not None and relayed.failure:
                note = relayed.failure[:200]  # the stream ended with an error event
            elif response.status_code >= 400:
                note = f"upstream HTTP {response.status_code}"
        if aborted is not None or (flow.error is not None and client_gone(flow)):
            if response is not None and relayed is not None and relayed.complete:
                return response.status_code, None  # hung up after the last event: all was said
            return ABORTED, aborted or note
        if exchange.answered is not None:  # a reply turnout made after a failure (or failover's)
            return exchange.answered, note
        if flow.response is not None:
            return flow.response.status_code, note
        error = error or BackendUnreachable(flow.error.msg if flow.error else "no answer")
        return error.status, type(error).__name__

    def _row(self, flow: http.HTTPFlow, exchange: Exchange, aborted: str | None, end: float) -> Record:
        decision, placement = exchange.decision, exchange.placement
        response = flow.response
        stream = response.stream if response is not None else None
        estimated = isinstance(stream, StreamAdapter) and stream.usage_estimated
        if estimated and placement is not None:
            name = placement.backend.name
            self.runtime.say_once(
                (name, "usage"),
                f"{name} reports no usage in streams; turnout estimates it (chars/4), "
                "marked `estimated` in analytics",
            )
        usage = self._usage(flow, exchange) or Usage()
        model = placement.model if placement else decision.model if decision else exchange.asked
        backend = placement.backend.name if placement else decision.backend.name if decision else ""
        if exchange.passed:
            backend = PASSED  # no backend of turnout's: the host the client meant, its own key
        status, error = self._status(flow, exchange, aborted)
        prices = self.runtime.prices
        return Record(
            ts=flow.request.timestamp_start,
            dialect=exchange.dialect,
            model_asked=exchange.asked,
            route=decision.rule if decision else "",
            backend=backend,
            key_alias=placement.state.alias if placement is not None else "",
            model_served=model,
            stream=int(exchange.stream),
            status=status,
            attempts=max(len(exchange.attempts), 1),
            latency_ms=round((end - flow.request.timestamp_start) * 1000, 2),
            ttfb_ms=exchange.ttfb_ms,
            tokens_in=usage.input,
            tokens_out=usage.output,
            cache_read=usage.cache_read,
            cache_write=usage.cache_write,
            reasoning=usage.reasoning,
            cost=prices.cost(model, usage) if prices and (usage.input or usage.output) else None,
            error=error,
            aborted=int(status == ABORTED),
            estimated=int(estimated),
            entry=exchange.entry,
            scrubbed=exchange.withheld,
        )

    def _usage(self, flow: http.HTTPFlow, exchange: Exchange) -> Usage | None:
        response = flow.response
        if response is None:
            return None
        stream = response.stream
        if isinstance(stream, PassThrough):
            return stream.usage
        if isinstance(stream, StreamAdapter):
            return stream.usage
        if stream or not response.raw_content:
            return None
        if exchange.answer is not None:  # parsed by translator.py
            return usage_of(exchange.dialect, usage_in(exchange.answer))
        # Decoded by translator.py, and already in the client's dialect.
        return usage_from_body(exchange.dialect, response.raw_content)

"""One record per request, on response and on error, into the analytics store.

Time to first byte is taken when the response headers arrive. Tokens come from the
response body, or from the stream: pass-through streams get a ``UsageSniffer`` (reads
pass unchanged), translated streams report what their translator saw. A finished
flow's row is built at once, while the flow is still in the CPU's caches (building it
later from a cold flow costs twice as much), and written with the others of the last
``LINGER`` seconds, in one batch on the event loop (see ``core/store.py`` for why that
is cheaper than a writer thread and never waits on the disk). Checkpoints, which do
wait on it, run in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import time

from mitmproxy import ctx, http
from mitmproxy.addonmanager import Loader

from turnout.addons._flows import Meta, client_gone, dialect_of
from turnout.core.dialects.translate import StreamAdapter
from turnout.core.headers import header_value
from turnout.core.models import DIALECT_OF_KIND
from turnout.core.paths import analytics_path
from turnout.core.prices import Usage
from turnout.core.runtime import Runtime
from turnout.core.store import Record, Store, StoreError
from turnout.core.usage import UsageSniffer, usage_from_body, usage_of

logger = logging.getLogger("turnout")

_ERROR_STATUS = {"BackendTimeout": 504, "BackendUnreachable": 502}


class Analytics:
    LINGER = 0.05  # seconds a finished request waits for its row to be written with others

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._live: dict[str, http.HTTPFlow] = {}  # routed flows not yet recorded
        self._flush_at: asyncio.TimerHandle | None = None
        self._checkpointing: asyncio.Future[None] | None = None

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
                analytics_path(settings.path), retention_days=settings.retention_days, on_rows=self._count
            )
        except StoreError as e:
            logger.warning("turnout: analytics off: %s", e.message)

    async def done(self) -> None:
        for flow in list(self._live.values()):  # still in flight at shutdown: recorded as aborted
            flow.metadata[Meta.error] = "shutdown"
            self._record(flow, aborted=True)
        if self._flush_at is not None:
            self._flush_at.cancel()
            self._flush_at = None
        if self._checkpointing is not None:
            await self._checkpointing
        if self.runtime.store is not None:
            self.runtime.store.close()
            self.runtime.store = None

    def request(self, flow: http.HTTPFlow) -> None:
        if self.runtime.store is not None and Meta.requested in flow.metadata and flow.response is None:
            self._live[flow.id] = flow

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if Meta.requested not in flow.metadata or flow.response is None:
            return
        flow.metadata[Meta.ttfb_ms] = round((time.time() - flow.request.timestamp_start) * 1000, 2)
        if flow.response.stream is True and (name := flow.metadata.get(Meta.backend)):
            kind = self.runtime.config.backends[name].kind
            flow.response.stream = UsageSniffer(DIALECT_OF_KIND[kind])

    def response(self, flow: http.HTTPFlow) -> None:
        self._record(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._record(flow)

    def _record(self, flow: http.HTTPFlow, aborted: bool = False) -> None:
        """The flow's row, to the store's pending list; written at the next flush."""
        self._live.pop(flow.id, None)
        store = self.runtime.store
        if store is None or Meta.requested not in flow.metadata or flow.metadata.get(Meta.recorded):
            return
        flow.metadata[Meta.recorded] = True
        try:
            row = self._row(flow, aborted, time.time())
        except Exception:  # a bookkeeping failure must not disturb the answer already made
            logger.exception("turnout: could not build the analytics row of %s", flow.request.path)
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
            logger.exception("turnout: analytics flush failed")
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

    def _row(self, flow: http.HTTPFlow, aborted: bool, end: float) -> Record:
        meta, response = flow.metadata, flow.response
        usage = self._usage(flow) or Usage()
        stream = response.stream if response is not None else None
        estimated = isinstance(stream, StreamAdapter) and stream.usage_estimated
        if estimated:
            self.runtime.say_once(
                (meta.get(Meta.backend, ""), "usage"),
                f"turnout: {meta.get(Meta.backend)} reports no usage in streams; turnout estimates it "
                "(chars/4), marked `estimated` in analytics",
            )
        model = meta.get(Meta.model) or meta.get(Meta.requested, "")
        aborted = aborted or bool(
            flow.error and (client_gone(flow) or "disconnect" in flow.error.msg.lower())
        )
        if response is not None and not aborted:
            status = response.status_code
        else:
            status = 499 if aborted else _ERROR_STATUS.get(meta.get(Meta.error, ""), 502)
        prices = self.runtime.prices
        return Record(
            ts=flow.request.timestamp_start,
            dialect=dialect_of(flow),
            model_asked=meta.get(Meta.requested, ""),
            route=meta.get(Meta.rule, ""),
            backend=meta.get(Meta.backend, ""),
            key_alias=meta.get(Meta.key, ""),
            model_served=model,
            stream=int(bool(meta.get(Meta.stream))),
            status=status,
            attempts=meta.get(Meta.attempts, 1),
            latency_ms=round((end - flow.request.timestamp_start) * 1000, 2),
            ttfb_ms=meta.get(Meta.ttfb_ms),
            tokens_in=usage.input,
            tokens_out=usage.output,
            cache_read=usage.cache_read,
            cache_write=usage.cache_write,
            reasoning=usage.reasoning,
            cost=prices.cost(model, usage) if prices and (usage.input or usage.output) else None,
            error=meta.get(Meta.error) or (flow.error.msg[:200] if flow.error else None),
            aborted=int(aborted),
            estimated=int(estimated),
        )

    def _usage(self, flow: http.HTTPFlow) -> Usage | None:
        response = flow.response
        if response is None:
            return None
        stream = response.stream
        backend = self.runtime.config.backends.get(flow.metadata.get(Meta.backend, ""))
        if isinstance(stream, UsageSniffer):
            return stream.usage
        if isinstance(stream, StreamAdapter):
            raw = stream.upstream_usage
            return usage_of(stream.ctx.backend, raw) if raw else None
        if stream or not response.raw_content:
            return None
        dialect = (
            dialect_of(flow) if Meta.translation in flow.metadata or backend is None else backend.dialect
        )
        encoded = header_value(response.headers.fields, b"content-encoding") is not None
        body = response.get_content(strict=False) if encoded else response.raw_content
        return usage_from_body(dialect, body or b"")

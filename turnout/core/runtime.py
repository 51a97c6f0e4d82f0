"""The state the addons share while a proxy runs: the config in effect and counters.

One ``Runtime`` is made per proxy and handed to every addon in the chain; nothing is
module-global. A reload swaps ``config`` and ``resolver`` together in one assignment.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from turnout.core.access import new_instance
from turnout.core.analytics import Counters, Names
from turnout.core.errors import ConfigError
from turnout.core.exchange import Exchange
from turnout.core.governor import Governor
from turnout.core.interception import intercepted_hosts
from turnout.core.live import Window
from turnout.core.models import Backend, Config
from turnout.core.placement import Placement, Placer
from turnout.core.pool import Pool
from turnout.core.prices import PriceTable
from turnout.core.probe import ServerFacts, window_of
from turnout.core.recall import BATCH, ResponseMemory
from turnout.core.routing import Resolver
from turnout.core.scrub import Scrubbed, SecretsFound, SeenBodies, Vaults, scrub
from turnout.core.secrets import Scanner, UserPattern
from turnout.core.shared import Board
from turnout.core.store import Store
from turnout.core.upstream import UpstreamRequest, build_upstream

__all__ = ["Runtime"]

logger = logging.getLogger(__name__)


@dataclass
class _Loaded:
    config: Config
    resolver: Resolver


@dataclass
class Runtime:
    started: float = field(default_factory=time.time)
    instance: str = field(default_factory=new_instance)  # this process's name in Via hops
    requests: int = 0
    pool: Pool | None = None
    placer: Placer | None = None  # made with the pool; lives as long as it (its wait count too)
    governors: dict[str, Governor] = field(default_factory=dict)
    board: Board | None = None  # shared with other workers or instances (core/shared.py)
    workers: int = 1  # processes serving the port together (turnout proxy --workers)
    store: Store | None = None  # the analytics store, while it is open
    names: Names = field(default_factory=Names)  # model names as labels: bounded
    counters: Counters = field(init=False)  # totals since start, for /metrics
    window: Window = field(init=False)  # the last hour, for /analytics
    prices: PriceTable | None = None
    facts: dict[str, ServerFacts] = field(default_factory=dict)  # learned from local servers, by backend
    listed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # each backend's own model list
    relist: Callable[[], Awaitable[bool]] | None = None  # read the lists again now (rate-limited)
    rediscover: Callable[[], Awaitable[None]] | None = None  # look for local servers again now
    generation: int = 0  # counts config installs, so watchers notice a reload
    in_flight: int = 0  # requests between their headers and their end
    stopping: bool = False  # asked to stop: draining the requests in flight
    _said: set[object] = field(default_factory=set)
    _loaded: _Loaded | None = None
    _intercepted: tuple[int, frozenset[str]] | None = None
    _scanner: tuple[int, Scanner] | None = None
    vaults: Vaults = field(default_factory=Vaults)  # secrets replaced, by conversation (core/scrub.py)
    seen: SeenBodies = field(default_factory=SeenBodies)  # bodies searched, and their findings
    _memory: ResponseMemory | None = None

    def __post_init__(self) -> None:
        self.counters = Counters(self.names)
        self.window = Window(self.names)

    def upstream_for(self, exchange: Exchange, placement: Placement) -> UpstreamRequest:
        """The request ``placement`` gets. One the client got wrong (a 400 from the
        translator) is never an attempt: its governor slot goes back and the key is
        neither counted nor cooled, so a bad request cannot take a key out for everyone."""
        window = window_of(self.facts.get(placement.backend.name), placement.model)
        try:
            scrubbed = self._scrubbed(exchange, placement.backend)
            upstream = build_upstream(
                exchange, placement, hop=self.instance, window=window, memory=self.memory, scrubbed=scrubbed
            )
        except BaseException:
            if placement.governor is not None:
                placement.governor.finish()
            raise
        if scrubbed is not None:  # kept for every later attempt: whichever answer stands is restored
            exchange.restore = scrubbed.vault.values
        return upstream

    def _scrubbed(self, exchange: Exchange, backend: Backend) -> Scrubbed | None:
        """The request's secrets replaced, if ``backend``'s policy says so (searched once)."""
        policy = backend.scrub_policy
        if policy == "off" or exchange.body is None:
            return None
        if not exchange.scanned:
            exchange.scanned = True
            exchange.scrubbed = scrub(
                exchange.endpoint.name,
                exchange.body,
                exchange.raw,
                exchange.fields,
                self.scanner,
                self.vaults,
                self.seen,
            )
        found = exchange.scrubbed
        if found is not None:
            exchange.withheld = found.count
        if found is not None and policy == "block":
            raise SecretsFound(
                f"This request holds secrets ({', '.join(sorted(found.kinds))}) and backend {backend.name} "
                "is set to scrub: block, so turnout did not send it. Take them out of the conversation, "
                "or set scrub: redact on the backend (they are then replaced by placeholders)."
            )
        return found

    @property
    def scanner(self) -> Scanner:
        """The secret detectors with the config's own patterns and allowlist."""
        if self._scanner is None or self._scanner[0] != self.generation:
            settings = self.config.scrub
            patterns = (UserPattern(kind, re.compile(regex.encode())) for kind, regex in settings.patterns)
            self._scanner = (self.generation, Scanner(patterns, settings.allow))
            self.seen = SeenBodies()  # searched with the old patterns and allowlist, not these
        return self._scanner[1]

    @property
    def memory(self) -> ResponseMemory:
        """Responses kept for ``previous_response_id``: beside the analytics database when
        there is one, else in memory."""
        if self._memory is None:
            path = self.store.path.parent / "responses.sqlite3" if self.store is not None else None
            self._memory = ResponseMemory(path, batch=1 if self.workers > 1 else BATCH)
        return self._memory

    def close_memory(self) -> None:
        if self._memory is not None:
            self._memory.close()
            self._memory = None

    def count_request(self) -> None:
        """One more request routed; every worker's count is on the board at once."""
        self.requests += 1
        if self.board is not None:
            self.board.tally(self.requests, self.in_flight, self.waiting)

    def say_once(self, key: object, message: str) -> None:
        """Log ``message`` at warning level the first time ``key`` comes up (bounded); with
        workers, the first time on any of them (one log, one line)."""
        if key not in self._said and len(self._said) < 1024:
            self._said.add(key)
            if self.board is None or self.board.first(repr(key)):
                logger.warning(message)

    def install(self, config: Config) -> None:
        """Swap in a (re)loaded config; key states and governors carry over."""
        if self.board is None and config.state.redis:
            self.board = _redis_board(config, self.instance)
        elif self._loaded is not None and config.state != self.config.state:
            self.say_once(
                ("state", config.state), "the state: section changed: restart turnout for it to take effect"
            )
        if self.pool is None:
            self.pool = Pool(config, self.board)
        else:
            self.pool.install(config)
        for name, b in config.backends.items():
            governor = self.governors.get(name)
            if governor is None:
                governor = self.board.governor(name) if self.board is not None else Governor()
                self.governors[name] = governor
            governor.max_concurrent, governor.min_interval = b.max_concurrent, b.min_interval
        if self.placer is None:
            self.placer = Placer(self.pool, self.governors, config.pool, config.backends)
        else:
            self.placer.settings, self.placer.backends = config.pool, config.backends
        self.prices = PriceTable(config.prices)
        self.listed = {name: models for name, models in self.listed.items() if name in config.backends}
        self._loaded = _Loaded(config, Resolver(config, self.listed))
        self.generation += 1

    def learn_models(self, lists: Mapping[str, tuple[str, ...]]) -> bool:
        """Backends' model lists as read from them; routing follows when one changed."""
        merged = {**self.listed, **{n: m for n, m in lists.items() if n in self.config.backends}}
        if merged == self.listed:
            return False
        self.listed = merged
        self._loaded = _Loaded(self.config, Resolver(self.config, merged))
        return True

    def close_board(self) -> None:
        """Send what is batched and let the board go (the proxy is stopping)."""
        if self.board is not None:
            if self.pool is not None:
                self.pool.flush(time.time())
                self.pool.board = None
            self.board.close()
            self.board = None

    @property
    def intercepted(self) -> frozenset[str]:
        """The hosts the interception listener decrypts (``core/interception.py``), for the
        config in effect."""
        if self._intercepted is None or self._intercepted[0] != self.generation:
            self._intercepted = (self.generation, intercepted_hosts(self.config))
        return self._intercepted[1]

    @property
    def ready(self) -> bool:
        return self._loaded is not None

    @property
    def config(self) -> Config:
        if self._loaded is None:
            raise RuntimeError(
                "turnout's config is not loaded yet (the turnout_config option was never applied)"
            )
        return self._loaded.config

    @property
    def waiting(self) -> int:
        """Requests waiting for a key or a governor slot."""
        return self.placer.waiting if self.placer is not None else 0

    @property
    def resolver(self) -> Resolver:
        if self._loaded is None:
            raise RuntimeError(
                "turnout's config is not loaded yet (the turnout_config option was never applied)"
            )
        return self._loaded.resolver


def _redis_board(config: Config, instance: str) -> Board:
    try:
        from turnout.core.redis_board import RedisBoard  # only when asked: needs `redis`
    except ImportError:
        raise ConfigError(
            "state.redis needs the Redis client: pip install 'turnout[redis]' (or leave state.redis out)"
        ) from None
    assert config.state.redis is not None
    return RedisBoard(config.state.redis, instance=instance, prefix=config.state.prefix)

"""Loads the config into the shared runtime at start, when an option changes, and when
the config file or the stored keys change on disk (``turnout keys add`` and
``turnout backend add`` take effect in a running proxy without a restart)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from mitmproxy import ctx, exceptions
from mitmproxy.addonmanager import Loader

from turnout.core.config import load_user_config
from turnout.core.errors import ConfigError
from turnout.core.interception import allow_patterns, intercepted_hosts
from turnout.core.models import Config
from turnout.core.paths import credentials_dir, user_config_path
from turnout.core.runtime import Runtime
from turnout.settings import PLACEHOLDER

logger = logging.getLogger(__name__)


class ConfigLoader:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._watch: asyncio.Task[None] | None = None
        self._seen: tuple[float, ...] = ()

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "turnout_config",
            str,
            "",
            "Path to turnout's YAML config. Empty: $TURNOUT_CONFIG, else ~/.config/turnout/config.yaml; "
            "with no file, backends come from the environment.",
        )
        loader.add_option(
            "turnout_reload_interval",
            float,
            1.0,
            "Seconds between checks of the config file and stored keys for changes; 0 turns live reload off.",
        )
        loader.add_option(
            "turnout_discover",
            bool,
            True,
            "Probe loopback for local OpenAI-compatible servers (Ollama :11434, LM Studio :1234, "
            "llama.cpp :8080, vLLM :8000) when the config does not turn autodetect.local off.",
        )

    def configure(self, updated: set[str]) -> None:
        if not {"turnout_config", "turnout_discover"} & updated and self.runtime.ready:
            return
        self._seen = self._signature()
        try:
            config = self._load()
        except ConfigError as e:
            raise exceptions.OptionsError(f"turnout_config: {e}") from e
        self._install(config)
        logger.debug("loaded %d backends from %s", len(config.backends), config.source)

    def _install(self, config: Config) -> None:
        """Put ``config`` in effect, and mitmproxy's options that follow from it: the body
        limit (a body over ``limits.max_body_mb`` is refused as it arrives, never buffered
        whole first; ``UpstreamErrors`` has the 413) and, with ``--intercept``, the hosts
        whose CONNECTs are decrypted (``core/interception.py``)."""
        self.runtime.install(config)
        limit = str(config.limits.max_body_bytes)
        if ctx.options.body_size_limit != limit:
            ctx.options.update(body_size_limit=limit)
        if ctx.options.turnout_intercept:  # which CONNECTs are decrypted; the rest are tunnelled
            allow = allow_patterns(intercepted_hosts(config), [PLACEHOLDER])
            if list(ctx.options.allow_hosts) != allow:
                ctx.options.update(allow_hosts=allow)

    def _load(self) -> Config:
        return load_user_config(
            ctx.options.turnout_config or None,
            discover=ctx.options.turnout_discover,
            exclude_urls=tuple(self_urls(ctx.options.mode)),
        )

    async def rediscover(self) -> None:
        """Local servers are looked for again (a model nobody serves was asked for): the
        config is reloaded if what answers changed."""
        try:
            config = await asyncio.to_thread(self._load)
        except ConfigError:
            return  # the file watcher says why
        if config.backends != self.runtime.config.backends:
            self._install(config)
            logger.warning("local servers changed: now %d backends", len(config.backends))

    def running(self) -> None:
        if ctx.options.turnout_discover:
            self.runtime.rediscover = self.rediscover
        interval = ctx.options.turnout_reload_interval
        if interval > 0 and self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(self._watch_files(interval))

    def done(self) -> None:
        self.runtime.rediscover = None
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def _empty_file(self) -> bool:
        path = user_config_path(ctx.options.turnout_config or None)
        try:
            return path.exists() and not path.read_bytes().strip()
        except OSError:
            return False

    def _signature(self) -> tuple[float, ...]:
        """Modification times of the config file and every stored key file."""
        paths = [user_config_path(ctx.options.turnout_config or None)]
        store = credentials_dir()
        if store.is_dir():
            paths += [store, *store.rglob("*")]
        times = []
        for path in paths:
            try:
                times.append(path.stat().st_mtime)
            except OSError:
                times.append(0.0)
        return tuple(times)

    async def _watch_files(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            signature = await asyncio.to_thread(self._signature)
            if signature == self._seen:
                continue
            self._seen = signature
            try:
                config = await asyncio.to_thread(self._load)
            except ConfigError as e:
                logger.warning("config change not applied, the old config stays in effect: %s", e.message)
                continue
            self._install(config)
            logger.warning("reloaded the config (%d backends)", len(config.backends))


def self_urls(modes: Sequence[str]) -> list[str]:
    """Base URLs that would point at this proxy itself (a loop), from its listen modes."""
    urls = []
    for mode in modes:
        _, _, listen = mode.rpartition("@")
        if ":" in listen and listen.rsplit(":", 1)[1].isdigit():
            host, port = listen.rsplit(":", 1)
            for h in {host, "127.0.0.1", "localhost"}:
                urls.append(f"http://{h}:{port}")
    return urls

"""Loads the config into the shared runtime when the proxy starts or an option changes."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mitmproxy import ctx, exceptions
from mitmproxy.addonmanager import Loader

from turnout.core.config import load_user_config
from turnout.core.errors import ConfigError
from turnout.core.runtime import Runtime

logger = logging.getLogger("turnout")


class ConfigLoader:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "turnout_config",
            str,
            "",
            "Path to turnout's YAML config. Empty: $TURNOUT_CONFIG, else ~/.config/turnout/config.yaml; "
            "with no file, backends come from the environment.",
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
        try:
            config = load_user_config(
                ctx.options.turnout_config or None,
                discover=ctx.options.turnout_discover,
                exclude_urls=tuple(self_urls(ctx.options.mode)),
            )
        except ConfigError as e:
            raise exceptions.OptionsError(f"turnout_config: {e}") from e
        self.runtime.install(config)
        logger.debug("turnout: loaded %d backends from %s", len(config.backends), config.source)


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

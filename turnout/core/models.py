"""The plain data every other module passes around: backends, routes, config, decisions.

These are frozen dataclasses so a loaded config can be shared between the event loop
and the CLI without anyone mutating it behind another's back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "BACKEND_KINDS",
    "BASE_URL",
    "DIALECT_OF_KIND",
    "NAME",
    "AnalyticsSettings",
    "Backend",
    "BackendKind",
    "Config",
    "Decision",
    "Dialect",
    "KeySpec",
    "Limits",
    "PoolSettings",
    "Quirks",
    "Route",
]

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # backend names, key aliases, stored files
BASE_URL = re.compile(r"^https?://[^/\s]+")  # what a base_url must start with

Dialect = Literal["anthropic", "openai"]
BackendKind = Literal["anthropic", "openai", "openai-compat"]
BACKEND_KINDS: tuple[BackendKind, ...] = ("anthropic", "openai", "openai-compat")
DIALECT_OF_KIND: dict[str, Dialect] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "openai-compat": "openai",
}


@dataclass(frozen=True)
class Quirks:
    """How one backend differs from the spec of its dialect; used when translating.

    Defaults come from the provider (``providers.default_quirks``); a backend's
    ``quirks:`` mapping in the config overrides any of them.
    """

    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    max_tokens_cap: int | None = None  # clamp max_tokens sent to this backend
    context_window: int | None = None  # tokens of context; learned from local servers when unset
    reasoning_effort: bool | None = None  # send reasoning_effort; None: only to models known to take it
    default_max_tokens: int = 8192  # for Anthropic backends when an OpenAI client sends none
    reasoning_field: Literal["reasoning_content", "reasoning"] | None = "reasoning_content"
    cache_control: bool = False  # pass Anthropic cache_control through (Claude behind OpenRouter)
    clean_schema: bool = False  # strip JSON-schema keywords Gemini rejects
    stream_usage: bool = True  # ask for stream_options.include_usage
    forward_user_id: bool = (
        False  # pass the client's user id (Claude Code's device/session id) across dialects
    )


@dataclass(frozen=True)
class KeySpec:
    """One member of a backend's pool: a key, or a deployment with its own base URL."""

    alias: str
    key: str | None = field(default=None, repr=False)
    base_url: str | None = None  # None: the backend's
    source: str = "config"


@dataclass(frozen=True)
class Backend:
    """One place requests can go. ``key`` is a secret: never log it, never put it in repr."""

    name: str
    kind: BackendKind
    base_url: str
    key: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    models: tuple[str, ...] = ()
    timeout: float = 600.0
    source: str = "config"
    quirks: Quirks = field(default_factory=Quirks)
    pool: tuple[KeySpec, ...] = ()  # extra keys / deployments; see ``members``
    max_concurrent: int | None = None  # rate governor: requests in flight at once
    min_interval: float = 0.0  # rate governor: seconds between request starts

    @property
    def members(self) -> tuple[KeySpec, ...]:
        """Every key of this backend; a single ``key`` is the pool member ``default``."""
        if self.pool:
            return self.pool
        return (KeySpec("default", self.key, None, self.source),)

    @property
    def dialect(self) -> Dialect:
        return DIALECT_OF_KIND[self.kind]


@dataclass(frozen=True)
class Route:
    """One ordered rule: a model-name pattern sends requests to ``backend``."""

    pattern: str
    backend: str
    regex: re.Pattern[str]
    model: str | None = None
    kind: Literal["glob", "regex"] = "glob"
    fallbacks: tuple[tuple[str, str | None], ...] = ()  # (backend, model or None for the same model)

    def describe(self) -> str:
        return f"{self.kind} {self.pattern}"


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True)
class PoolSettings:
    """How requests wait for and move between keys (``pool:`` in the config)."""

    queue_timeout: float = 60.0  # seconds a request waits when every key is cooling
    queue_max: int = 128  # requests allowed to wait at once; more get a 429 at once
    attempts: int = 3  # upstream attempts per buffered request, failovers included
    error_cooldown: float = 5.0  # seconds a key rests after a 5xx or a refused connection


@dataclass(frozen=True)
class AnalyticsSettings:
    """The request store (``analytics:`` in the config)."""

    enabled: bool = True
    path: str | None = None  # default: <data dir>/analytics.sqlite3
    retention_days: float = 90.0


@dataclass(frozen=True)
class Config:
    backends: dict[str, Backend]
    routes: tuple[Route, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    source: str = "environment"
    pool: PoolSettings = field(default_factory=PoolSettings)
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)
    prices: tuple[tuple[str, dict[str, float]], ...] = ()  # user price overrides: (model glob, prices)


@dataclass(frozen=True)
class Decision:
    """Where one request goes and why; ``rule`` is shown to the user verbatim."""

    backend: Backend
    model: str
    requested: str
    rule: str
    fallbacks: tuple[tuple[str, str | None], ...] = ()

    @property
    def rewritten(self) -> bool:
        return self.model != self.requested

    def describe(self) -> str:
        served = f" as {self.model}" if self.rewritten else ""
        return f"{self.requested} → {self.backend.name}{served} ({self.rule})"

"""The plain data every other module passes around: backends, routes, config, decisions.

These are frozen dataclasses so a loaded config can be shared between the event loop
and the CLI without anyone mutating it behind another's back.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

__all__ = [
    "BACKEND_KINDS",
    "BASE_URL",
    "DIALECT_OF_KIND",
    "NAME",
    "WIRE_OF_KIND",
    "AnalyticsSettings",
    "Backend",
    "BackendKind",
    "Config",
    "Decision",
    "Dialect",
    "Facts",
    "KeySpec",
    "Limits",
    "PoolSettings",
    "Quirks",
    "Route",
    "When",
    "Wire",
]

DEFAULT_ALIAS = "default"  # the pool name of a backend's own key
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # backend names, key aliases, stored files
BASE_URL = re.compile(r"^https?://[^/\s]+")  # what a base_url must start with

Dialect = Literal["anthropic", "openai", "gemini"]
BackendKind = Literal["anthropic", "openai", "openai-compat", "openai-responses", "gemini"]
ScrubPolicy = Literal["redact", "block", "off"]
SCRUB_POLICIES: tuple[ScrubPolicy, ...] = ("redact", "block", "off")
BACKEND_KINDS: tuple[BackendKind, ...] = (
    "anthropic",
    "openai",
    "openai-compat",
    "openai-responses",
    "gemini",
)
DIALECT_OF_KIND: dict[str, Dialect] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "openai-compat": "openai",
    "openai-responses": "openai",
    "gemini": "gemini",
}
Wire = Literal["messages", "chat", "responses", "gemini"]  # the API a backend's requests go to
WIRE_OF_KIND: dict[str, Wire] = {
    "anthropic": "messages",
    "openai": "chat",
    "openai-compat": "chat",
    "openai-responses": "responses",  # a model served only by the Responses API
    "gemini": "gemini",  # Gemini's native API (thought signatures survive tool loops)
}


@dataclass(frozen=True)
class Range:
    """The values a numeric setting takes: the config loader reads it from field metadata."""

    lo: float
    hi: float
    unit: str = ""
    integer: bool = False
    above: bool = False  # the lower bound itself is excluded

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        unit = f" of {self.unit}" if self.unit else ""
        low = f"more than {self.lo:g} up to" if self.above else f"from {self.lo:g} to"
        return f"{kind}{unit} {low} {self.hi:g}"


def _ranged(
    default: float | None, lo: float, hi: float, unit: str = "", *, integer: bool = False, above: bool = False
) -> Any:
    return field(default=default, metadata={"range": Range(lo, hi, unit, integer, above)})


@dataclass(frozen=True)
class Quirks:
    """How one backend differs from the spec of its dialect; used when translating.

    Defaults come from the provider (``providers.default_quirks``); a backend's
    ``quirks:`` mapping in the config overrides any of them.
    """

    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    max_tokens_cap: int | None = _ranged(None, 1, 10**8, "tokens", integer=True)  # clamp max_tokens sent
    context_window: int | None = _ranged(None, 1, 10**8, "tokens", integer=True)  # learned when unset
    reasoning_effort: bool | None = None  # send reasoning_effort; None: only to models known to take it
    default_max_tokens: int = _ranged(
        8192, 1, 10**8, "tokens", integer=True
    )  # when an OpenAI client sends none
    reasoning_field: Literal["reasoning_content", "reasoning"] | None = "reasoning_content"
    cache_control: bool = False  # pass Anthropic cache_control through (Claude behind OpenRouter)
    clean_schema: bool = False  # strip JSON-schema keywords Gemini rejects
    stream_usage: bool = True  # ask for stream_options.include_usage
    forward_user_id: bool = (
        False  # pass the client's user id (Claude Code's device/session id) across dialects
    )
    responses_api: bool | None = None  # serves /v1/responses itself; None: only kind openai does
    sampling: bool | None = None  # takes temperature/top_p/top_k; None: all but the newest Claude models


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
    timeout: float = 600.0  # seconds to the response headers
    read_timeout: float = 300.0  # seconds of silence allowed once the response has begun
    source: str = "config"
    quirks: Quirks = field(default_factory=Quirks)
    pool: tuple[KeySpec, ...] = ()  # extra keys / deployments; see ``members``
    max_concurrent: int | None = None  # rate governor: requests in flight at once
    min_interval: float = 0.0  # rate governor: seconds between request starts
    scrub: ScrubPolicy | None = None  # secrets in requests; None: redact if remote, off if local

    @property
    def local(self) -> bool:
        """On this machine (a loopback address or ``localhost``)."""
        host = urlsplit(self.base_url).hostname or ""
        try:
            return host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @functools.cached_property
    def scrub_policy(self) -> ScrubPolicy:
        """What happens to secrets in requests for it: a local model may see local secrets."""
        return self.scrub or ("off" if self.local else "redact")

    @property
    def members(self) -> tuple[KeySpec, ...]:
        """Every key of this backend; a single ``key`` is the pool member ``default``."""
        if self.pool:
            return self.pool
        return (KeySpec(DEFAULT_ALIAS, self.key, None, self.source),)

    @property
    def dialect(self) -> Dialect:
        """The family of its error bodies, credentials and usage fields."""
        return DIALECT_OF_KIND[self.kind]

    @property
    def wire(self) -> Wire:
        """The API translated requests are written in for it."""
        return WIRE_OF_KIND[self.kind]


@dataclass(frozen=True)
class Facts:
    """What a request is, besides its model name: what ``when:`` rules match on."""

    api: str = ""  # the client's API: messages, chat, responses, gemini
    request_class: str = ""  # Claude Code's x-claude-code-request-class: main, subagent, compaction…
    agent_type: str = ""  # Claude Code's x-claude-code-agent-type
    tokens: int = 0  # the prompt, estimated (chars/4 of the body)
    thinking: bool = False  # the client asked for thinking or a reasoning effort
    tools: bool = False  # the request offers tools


@dataclass(frozen=True)
class When:
    """A rule's conditions on a request's facts; unset ones always hold."""

    api: str | None = None
    request_class: str | None = None
    agent_type: str | None = None
    tokens_over: int | None = None
    thinking: bool | None = None
    tools: bool | None = None

    def holds(self, facts: Facts) -> bool:
        return (
            (self.api is None or facts.api == self.api)
            and (self.request_class is None or facts.request_class == self.request_class)
            and (self.agent_type is None or facts.agent_type == self.agent_type)
            and (self.tokens_over is None or facts.tokens > self.tokens_over)
            and (self.thinking is None or facts.thinking == self.thinking)
            and (self.tools is None or facts.tools == self.tools)
        )

    def describe(self) -> str:
        said = [f"{k}: {v}" for k, v in dataclasses.asdict(self).items() if v is not None]
        return "when " + ", ".join(said)


@dataclass(frozen=True)
class Route:
    """One ordered rule: a model-name pattern (and the request's facts, ``when``) sends
    requests to ``backend``."""

    pattern: str
    backend: str
    regex: re.Pattern[str]
    model: str | None = None
    kind: Literal["glob", "regex"] = "glob"
    fallbacks: tuple[tuple[str, str | None], ...] = ()  # (backend, model or None for the same model)
    when: When | None = None

    def describe(self) -> str:
        said = f"{self.kind} {self.pattern}"
        return f"{said} {self.when.describe()}" if self.when is not None else said


@dataclass(frozen=True)
class Limits:
    """What one client may cost (``limits:`` in the config)."""

    max_body_mb: float = _ranged(32.0, 0, 4096, "MB", above=True)  # a request, or a buffered response
    client_timeout: float = _ranged(60.0, 0, 86400, "seconds", above=True)  # to send a whole request
    max_clients: int = _ranged(1000, 1, 10**6, "connections", integer=True)  # more: the idlest go

    @functools.cached_property
    def max_body_bytes(self) -> int:  # read on every request: computed once
        return int(self.max_body_mb * 1024 * 1024)


@dataclass(frozen=True)
class PoolSettings:
    """How requests wait for and move between keys (``pool:`` in the config)."""

    queue_timeout: float = _ranged(60.0, 0, 86400, "seconds")  # a request waits when every key rests
    queue_max: int = _ranged(128, 0, 10**6, "requests", integer=True)  # waiting at once; more get a 429
    attempts: int = _ranged(3, 1, 10, "attempts", integer=True)  # per buffered request, failovers included
    error_cooldown: float = _ranged(5.0, 0, 86400, "seconds")  # a key rests after a 5xx or a refusal


@dataclass(frozen=True)
class AnalyticsSettings:
    """The request store (``analytics:`` in the config)."""

    enabled: bool = True
    path: str | None = None  # default: <data dir>/analytics.sqlite3
    retention_days: float = _ranged(90.0, 0, 36500, "days", above=True)


@dataclass(frozen=True)
class InterceptSettings:
    """The interception listener (``intercept:`` in the config, or ``--intercept``).

    ``enabled``: listen on ``port`` as an HTTPS proxy; ``hosts``: more hosts to decrypt and
    handle, beside the known providers' and the backends' (every other host is tunnelled,
    never decrypted); ``passthrough_unrouted``: a request for a decrypted host that no route
    serves goes on to that host with the client's own credentials, instead of a 404.
    """

    enabled: bool = False
    port: int = _ranged(3457, 1, 65535, "port", integer=True)
    hosts: tuple[str, ...] = ()
    passthrough_unrouted: bool = False


@dataclass(frozen=True)
class StateSettings:
    """Where turnout shares key state with other instances (``state:`` in the config).

    ``redis``: a Redis URL (``redis://``, ``rediss://`` or ``unix://``); several turnout
    instances with the same URL and ``prefix`` share cooldowns, headroom and governors.
    """

    redis: str | None = None
    prefix: str = "turnout"


@dataclass(frozen=True)
class AccessSettings:
    """Who may talk to turnout besides loopback clients (``access:`` in the config).

    Browsers send ``Host`` and ``Origin``; a web page on another origin must never spend
    the user's keys (CSRF), nor read answers through a name it points at 127.0.0.1 (DNS
    rebinding). ``hosts`` adds names the proxy answers to; ``origins`` the pages allowed
    to call it (exact, e.g. ``http://localhost:5173``)."""

    hosts: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScrubSettings:
    """The secret scrubber's own kinds and exceptions (``scrub:`` in the config); which
    backends it guards is each backend's ``scrub:`` (``redact``, ``block``, ``off``).

    ``patterns``: (kind, regular expression) pairs, searched in every string of a request;
    ``allow``: values never redacted, literal, or a regular expression between slashes.
    """

    patterns: tuple[tuple[str, str], ...] = ()
    allow: tuple[str, ...] = ()


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
    access: AccessSettings = field(default_factory=AccessSettings)
    state: StateSettings = field(default_factory=StateSettings)
    intercept: InterceptSettings = field(default_factory=InterceptSettings)
    scrub: ScrubSettings = field(default_factory=ScrubSettings)


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

"""Which backend serves a model: aliases, provider prefixes, rules, then defaults.

Resolution order for a requested model name:
1. an alias (``sonnet``) is replaced by its target, which may carry a prefix;
2. a provider prefix naming a backend (``groq:llama-3.3-70b``) forces that backend and
   is stripped; a colon that does not name a backend is part of the model (``llama3:8b``);
3. the configured rules, in order (glob or regex; optional model rewrite);
4. the defaults: ``claude-*`` → the anthropic backend; ``gpt-*``, ``o<digit>*``,
   ``chatgpt-*``, ``text-embedding-*`` → the openai backend; otherwise the first backend
   whose config lists the model (openai-compat first), then the first whose own model
   list (read from it while the proxy runs, ``listed``) has it; otherwise ``NoRouteError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from turnout.core.errors import NoRouteError
from turnout.core.models import Backend, Config, Decision, Facts

__all__ = ["Resolver", "Target", "upstream_url"]

_OPENAI_MODEL = re.compile(r"^(gpt-|o\d|chatgpt-|text-embedding-)")


@dataclass(frozen=True)
class Target:
    """A backend's base URL taken apart once, so each request sets fields, not a URL."""

    scheme: str
    host: str
    port: int
    prefix: str  # replaces the client's leading "/v1"
    authority: str  # the Host header: host, with the port only when it is not the default

    @cached_property
    def host_header(self) -> bytes:
        return self.authority.encode()

    @classmethod
    def of(cls, backend: Backend) -> Target:
        parts = urlsplit(backend.base_url)
        scheme = parts.scheme or "http"
        port = parts.port or (443 if scheme == "https" else 80)
        path = parts.path.rstrip("/")
        host = parts.hostname or ""
        default = port == (443 if scheme == "https" else 80)
        authority = host if default else f"{host}:{port}"
        return cls(scheme, host, port, path if path else "/v1", authority)

    def path(self, client_path: str) -> str:
        """The upstream path for a client's ``/v1/...`` path.

        A base URL with a path (``https://api.groq.com/openai/v1``) stands for ``/v1``, as
        in the SDKs; a bare origin (``https://api.anthropic.com``) keeps the client's ``/v1``.
        """
        return self.prefix + client_path[3:] if client_path.startswith("/v1") else self.prefix + client_path


def upstream_url(backend: Backend, path: str) -> str:
    """``backend.base_url`` joined with the client's ``/v1/...`` path (see ``Target.path``)."""
    parts = urlsplit(backend.base_url)
    return f"{parts.scheme}://{parts.netloc}" + Target.of(backend).path(path)


class Resolver:
    """Decisions depend only on the config, which a Resolver never outlives (a reload builds
    a new one), so each requested name is resolved once and remembered."""

    CACHE_SIZE = 4096  # distinct model names remembered; past that the memory starts over

    def __init__(self, config: Config, listed: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.config = config
        self._listing = sorted(config.backends.values(), key=lambda b: b.kind != "openai-compat")
        listed = listed or {}
        self.listed: dict[str, Backend] = {}  # a model a backend lists → the first such backend
        for b in self._listing:
            for m in listed.get(b.name, ()):
                self.listed.setdefault(m, b)
        self._decisions: dict[object, Decision | None] = {}
        self._conditional = [(i, r.when) for i, r in enumerate(config.routes) if r.when is not None]
        self._first_of_kind: dict[str, Backend] = {}
        for b in config.backends.values():
            self._first_of_kind.setdefault(b.kind, b)
        self.targets = {name: Target.of(b) for name, b in config.backends.items()}

    def resolve(self, requested: str, facts: Facts | None = None) -> Decision:
        """The decision for ``requested`` (and the request's ``facts``, for ``when:``
        rules); raises ``NoRouteError`` naming routable models."""
        if decision := self.decide(requested, facts):
            return decision
        model = self.config.aliases.get(requested, requested)
        raise NoRouteError(self._no_route_message(requested, model))

    def decide(self, requested: str, facts: Facts | None = None) -> Decision | None:
        """Remembered per name, and per which ``when:`` rules hold, when there are any."""
        holding: frozenset[int] = frozenset()
        key: object = requested
        if self._conditional:
            facts = facts or Facts()
            holding = frozenset(i for i, when in self._conditional if when.holds(facts))
            key = (requested, holding)
        try:
            return self._decisions[key]
        except KeyError:
            pass
        if len(self._decisions) >= self.CACHE_SIZE:
            self._decisions.clear()
        decision = self._decisions[key] = self._decide(requested, holding)
        return decision

    def _decide(self, requested: str, holding: frozenset[int] = frozenset()) -> Decision | None:
        model, via = requested, ""
        if requested in self.config.aliases:
            model, via = self.config.aliases[requested], f"alias {requested}, "
        prefix, sep, rest = model.partition(":")
        if sep and prefix in self.config.backends:
            backend = self.config.backends[prefix]
            return Decision(backend, rest, requested, f"{via}prefix {prefix}:")
        for i, route in enumerate(self.config.routes):
            if route.when is not None and i not in holding:
                continue
            if route.regex.fullmatch(model):
                backend = self.config.backends[route.backend]
                rule = f"{via}rule {route.describe()}"
                return Decision(backend, route.model or model, requested, rule, route.fallbacks)
        return self._default(model, requested, via)

    def _default(self, model: str, requested: str, via: str) -> Decision | None:
        if model.startswith("claude-") and (b := self._first_of_kind.get("anthropic")):
            return Decision(b, model, requested, f"{via}default claude-*")
        if _OPENAI_MODEL.match(model) and (b := self._first_of_kind.get("openai")):
            return Decision(b, model, requested, f"{via}default openai models")
        for b in self._listing:
            if model in b.models:
                return Decision(b, model, requested, f"{via}listed by {b.name}")
        if b := self.listed.get(model):
            return Decision(b, model, requested, f"{via}in {b.name}'s model list")
        return None

    def _no_route_message(self, requested: str, model: str) -> str:
        hint = ""
        if model.startswith("claude-") and "anthropic" not in self._first_of_kind:
            hint = " No anthropic backend is configured: set ANTHROPIC_API_KEY or run `turnout backend add`."
        elif _OPENAI_MODEL.match(model) and "openai" not in self._first_of_kind:
            hint = " No openai backend is configured: set OPENAI_API_KEY or run `turnout backend add`."
        known = self.routable_models()[:8]
        some = f" Routable models include: {', '.join(known)}." if known else " No backend lists any model."
        return (
            f"No backend serves model {requested!r}.{hint}{some} "
            "Use a provider prefix such as 'backend:model' to force one."
        )

    def routable_models(self) -> list[str]:
        """Model ids a client can ask for: listed models, aliases, prefixes-free."""
        return list(self.model_owners())

    def model_owners(self) -> dict[str, str]:
        """Each model id a client can ask for → the backend it goes to: the models the
        config lists, then those the backends' own lists hold, then the aliases."""
        owners: dict[str, str] = {}
        for b in self.config.backends.values():
            for m in b.models:
                owners.setdefault(m, b.name)
        for m, b in self.listed.items():
            owners.setdefault(m, b.name)
        for alias in self.config.aliases:
            if decision := self.decide(alias):
                owners.setdefault(alias, decision.backend.name)
        return owners

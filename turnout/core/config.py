"""Load and validate turnout's config: a YAML file, the environment, stored keys.

Precedence for backends: the config file, then the environment (well-known key
variables), then local servers that answer on their usual ports. A name defined
earlier wins. Every error names the file, the key path and what is wrong, e.g.
``config.yaml: backends.groq.kind: must be one of anthropic, openai, openai-compat, …``.

Every value goes through one ``config_reader.Reader`` (numbers in range, secrets without
control characters and never echoed, URLs checked whole and masked, ``${VAR}``); routes
are read by ``config_routes``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from turnout.core.config_file import read_config_file
from turnout.core.config_reader import Reader, kind_of
from turnout.core.config_routes import read_route
from turnout.core.config_scrub import read_scrub, scrub_policy
from turnout.core.credentials import CredentialStore
from turnout.core.discovery import probe_local_servers
from turnout.core.errors import ConfigError
from turnout.core.models import (
    BACKEND_KINDS,
    DEFAULT_ALIAS,
    NAME,
    AccessSettings,
    AnalyticsSettings,
    Backend,
    Config,
    InterceptSettings,
    KeySpec,
    Limits,
    PoolSettings,
    Quirks,
    Range,
    StateSettings,
)
from turnout.core.paths import credentials_dir, default_config_path, user_config_path
from turnout.core.providers import DEFAULT_ALIASES, KNOWN_PROVIDERS, default_quirks

__all__ = [
    "backends_from_env",
    "build_config",
    "load_config",
    "load_user_config",
]

_DEFAULT_BASE = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com/v1",
    "openai-responses": "https://api.openai.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
}
_TOP = (
    "backends",
    "routes",
    "aliases",
    "limits",
    "autodetect",
    "pool",
    "analytics",
    "prices",
    "access",
    "state",
    "intercept",
    "scrub",
)
_BACKEND_KEYS = (
    "kind", "base_url", "key", "keys", "headers", "models", "timeout", "read_timeout", "quirks",
    "max_concurrent", "min_interval_ms", "scrub",
)  # fmt: skip
_SECONDS = Range(0, 86400, "seconds", above=True)


def _backend(name: str, raw: Any, read: Reader, store: CredentialStore | None) -> Backend:
    path = f"backends.{name}"
    if not NAME.match(name):
        raise read.error(path, "backend names use letters, digits, '-', '_' or '.'")
    raw = read.mapping(raw, path, "a mapping with kind:, base_url:, key:")
    read.only(raw, _BACKEND_KEYS, path)
    kind = raw.get("kind")
    if kind not in BACKEND_KINDS:
        shown = repr(kind) if isinstance(kind, str | None) else kind_of(kind)
        raise read.error(f"{path}.kind", f"must be one of {', '.join(BACKEND_KINDS)} (got {shown})")
    if not raw.get("base_url") and kind not in _DEFAULT_BASE:
        raise read.error(
            f"{path}.base_url", "required for openai-compat backends (e.g. http://127.0.0.1:11434/v1)"
        )
    base_url = read.url(raw.get("base_url") or _DEFAULT_BASE[kind], f"{path}.base_url")
    key = read.secret(raw["key"], f"{path}.key") or None if raw.get("key") is not None else None
    if raw.get("key") is None and store is not None:
        key = store.key_for(name, base_url)
    headers = read.mapping(raw.get("headers"), f"{path}.headers", "a mapping of header names to values")
    models = read.expect(raw.get("models") or [], list, f"{path}.models", "a list of model ids")
    governor = Range(1, 100000, "requests", integer=True)
    return Backend(
        name=name,
        kind=kind,
        base_url=base_url,
        key=key,
        headers=tuple(
            (_header_name(read, str(k), f"{path}.headers"), read.secret(v, f"{path}.headers.{k}"))
            for k, v in headers.items()
        ),
        models=tuple(read.text(m, f"{path}.models[{i}]", "a model id") for i, m in enumerate(models)),
        timeout=read.number(raw.get("timeout", 600), f"{path}.timeout", _SECONDS),
        read_timeout=read.number(raw.get("read_timeout", 300), f"{path}.read_timeout", _SECONDS),
        source="config",
        quirks=_quirks(raw.get("quirks"), default_quirks(name, kind, base_url), read, f"{path}.quirks"),
        pool=_keys(raw.get("keys"), name, base_url, key, read, store, f"{path}.keys"),
        max_concurrent=(
            int(read.number(raw["max_concurrent"], f"{path}.max_concurrent", governor))
            if raw.get("max_concurrent") is not None
            else None
        ),
        min_interval=read.number(
            raw.get("min_interval_ms", 0), f"{path}.min_interval_ms", Range(0, 3.6e6, "ms")
        )
        / 1000,
        scrub=scrub_policy(raw.get("scrub"), read, f"{path}.scrub"),
    )


def _header_name(read: Reader, name: str, path: str) -> str:
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        raise read.error(f"{path}.{name[:40]}", "not a valid HTTP header name")
    return name


def _keys(
    raw: Any,
    backend: str,
    base_url: str,
    key: str | None,
    read: Reader,
    store: CredentialStore | None,
    path: str,
) -> tuple[KeySpec, ...]:
    """A backend's pool: ``keys:`` in the file plus keys stored by ``turnout keys add``."""
    specs: list[KeySpec] = []
    for i, item in enumerate(read.expect(raw or [], list, path, "a list of {alias, key, base_url}")):
        where = f"{path}[{i}]"
        item = read.mapping(item, where, "a mapping {alias, key, base_url}")
        read.only(item, ("alias", "key", "base_url"), where)
        alias = read.text(item.get("alias"), f"{where}.alias", "a name")
        if not NAME.match(alias) or any(s.alias == alias for s in specs):
            raise read.error(
                f"{where}.alias",
                f"aliases are unique names of letters, digits, '-', '_' (got {alias[:40]!r})",
            )
        value = read.secret(item["key"], f"{where}.key") if item.get("key") is not None else None
        url = read.url(item["base_url"], f"{where}.base_url") if item.get("base_url") is not None else None
        specs.append(KeySpec(alias, value or key, url))
    if store is not None:
        for alias, value in store.pool(backend, base_url):
            if not any(s.alias == alias for s in specs):
                specs.append(KeySpec(alias, value, None, "stored"))
    if specs and key and not raw:
        specs.insert(0, KeySpec(DEFAULT_ALIAS, key))
    return tuple(specs)


def _quirks(raw: Any, defaults: Quirks, read: Reader, path: str) -> Quirks:
    if raw is None:
        return defaults
    given = read.settings(Quirks, raw, path)
    return dataclasses.replace(defaults, **{k: getattr(given, k) for k in read.mapping(raw, path)})


def _prices(raw: Any, read: Reader) -> tuple[tuple[str, dict[str, float]], ...]:
    out = []
    dollars = Range(0, 10**6, "dollars per million tokens")
    for model, prices in read.mapping(raw, "prices", "a mapping of model glob → prices").items():
        where = f"prices.{model}"
        prices = read.mapping(prices, where, "a mapping {input, output, cache_read, cache_write}")
        read.only(prices, ("input", "output", "cache_read", "cache_write"), where)
        out.append((str(model), {k: read.number(v, f"{where}.{k}", dollars) for k, v in prices.items()}))
    return tuple(out)


def _points_at(url: str, prefixes: tuple[str, ...]) -> bool:
    return any(url == p or url.startswith(p + "/") for p in prefixes)


def backends_from_env(env: Mapping[str, str]) -> list[Backend]:
    """Backends for every well-known provider whose key variable is set in ``env``.

    Only the environment: a stored key belongs to the config backend it was stored for
    and never reappears here under a provider's default URL."""
    found = []
    read = Reader("environment", env)
    for p in KNOWN_PROVIDERS:
        key = env.get(p.key_env)
        if not key:
            continue
        base_url = read.url(env.get(p.base_url_env) or p.base_url, p.base_url_env)
        quirks = default_quirks(p.name, p.kind, base_url)
        found.append(
            Backend(
                p.name,
                p.kind,
                base_url,
                read.secret(key, p.key_env),
                source=f"env {p.key_env}",
                quirks=quirks,
            )
        )
    return found


def load_config(
    path: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    store: CredentialStore | None = None,
    discover: Callable[[], list[Backend]] | None = None,
    exclude_urls: tuple[str, ...] = (),
) -> Config:
    """Build the config in effect from the file at ``path`` (absent: environment only).

    ``discover`` probes for local servers (skipped when the file says
    ``autodetect: {local: false}``); ``exclude_urls`` drops autodetected backends that
    point at turnout itself (a ``ANTHROPIC_BASE_URL`` set for Claude Code, say).
    """
    raw = read_config_file(path) if path else {}
    source = str(path) if path and path.exists() else "environment"
    return build_config(
        raw, where=str(path) if path else "config", source=source, env=env, store=store,
        discover=discover, exclude_urls=exclude_urls,
    )  # fmt: skip


def build_config(
    raw: Mapping[str, Any],
    *,
    where: str = "config",
    source: str = "environment",
    env: Mapping[str, str] | None = None,
    store: CredentialStore | None = None,
    discover: Callable[[], list[Backend]] | None = None,
    exclude_urls: tuple[str, ...] = (),
) -> Config:
    """A validated ``Config`` from a raw mapping; errors name ``where`` and the key path."""
    read = Reader(where, os.environ if env is None else env)
    read.only(raw, _TOP, "")
    backends: dict[str, Backend] = {}
    for name, spec in read.mapping(raw.get("backends"), "backends").items():
        backends[str(name)] = _backend(str(name), spec, read, store)
    auto = read.mapping(raw.get("autodetect"), "autodetect", "a mapping {environment: bool, local: bool}")
    read.only(auto, ("environment", "local"), "autodetect")
    found: list[Backend] = []
    if read.expect(auto.get("environment", True), bool, "autodetect.environment", "true or false"):
        found += backends_from_env(read.env)
    if (
        read.expect(auto.get("local", True), bool, "autodetect.local", "true or false")
        and discover is not None
    ):
        found += discover()
    for b in found:
        if b.name not in backends and not _points_at(b.base_url, exclude_urls):
            backends[b.name] = b
    routes = tuple(
        read_route(i, r, read, backends)
        for i, r in enumerate(read.expect(raw.get("routes") or [], list, "routes", "a list of rules"))
    )
    aliases = dict(DEFAULT_ALIASES)
    for k, v in read.mapping(raw.get("aliases"), "aliases", "a mapping of alias → model").items():
        aliases[str(k)] = read.text(v, f"aliases.{k}", "a model id")
    return Config(
        backends=backends,
        routes=routes,
        aliases=aliases,
        limits=read.settings(Limits, raw.get("limits"), "limits"),
        source=source,
        pool=read.settings(PoolSettings, raw.get("pool"), "pool"),
        analytics=read.settings(AnalyticsSettings, raw.get("analytics"), "analytics"),
        prices=_prices(raw.get("prices"), read),
        access=read.settings(AccessSettings, raw.get("access"), "access"),
        state=_state(raw.get("state"), read),
        intercept=read.settings(InterceptSettings, raw.get("intercept"), "intercept"),
        scrub=read_scrub(raw.get("scrub"), read),
    )


def _state(raw: Any, read: Reader) -> StateSettings:
    """``state:``; the Redis URL may hold a password, so it is read as a secret (never echoed)."""
    rest = dict(read.mapping(raw, "state"))
    redis = rest.pop("redis", None)
    state = read.settings(StateSettings, rest, "state")
    if redis is None:
        return state
    url = read.secret(redis, "state.redis")
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise read.error("state.redis", "must be a redis://, rediss:// or unix:// URL")
    return dataclasses.replace(state, redis=url)


def load_user_config(
    explicit: str | os.PathLike[str] | None = None,
    *,
    discover: bool = True,
    exclude_urls: tuple[str, ...] = (),
) -> Config:
    """The config the proxy, the CLI and the library all use: the user's file (or
    ``explicit``, or ``$TURNOUT_CONFIG``), stored keys, the environment, local servers.

    Only the default file may be absent: a path the user named must exist."""
    path = user_config_path(explicit)
    from_env = os.environ.get("TURNOUT_CONFIG")
    named = (
        "TURNOUT_CONFIG"
        if from_env and str(explicit or from_env) == from_env
        else "--config"
        if explicit
        else None
    )
    if named and not path.exists():
        raise ConfigError(
            f"{path}: no such config file (given by {named}); create it, fix the path, or leave "
            f"{named} out to use {default_config_path()}"
        )
    return load_config(
        path,
        store=CredentialStore(credentials_dir()),
        discover=probe_local_servers if discover else None,
        exclude_urls=exclude_urls,
    )

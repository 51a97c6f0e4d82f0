"""Load and validate turnout's config: a YAML file, the environment, stored keys.

Precedence for backends: the config file, then the environment (well-known key
variables), then local servers that answer on their usual ports. A name defined
earlier wins. Every validation error names the file, the key path and what is wrong,
e.g. ``config.yaml: backends.groq.kind: must be one of anthropic, openai, openai-compat``.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from turnout.core.config_file import read_config_file
from turnout.core.credentials import CredentialStore
from turnout.core.discovery import probe_local_servers
from turnout.core.errors import ConfigError
from turnout.core.models import (
    BACKEND_KINDS,
    BASE_URL,
    NAME,
    AnalyticsSettings,
    Backend,
    Config,
    KeySpec,
    Limits,
    PoolSettings,
    Quirks,
    Route,
)
from turnout.core.paths import credentials_dir, default_config_path, user_config_path
from turnout.core.providers import DEFAULT_ALIASES, KNOWN_PROVIDERS, default_quirks

__all__ = [
    "backends_from_env",
    "build_config",
    "load_config",
    "load_user_config",
]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DEFAULT_BASE = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}


class _Where:
    """Builds error messages that name the file and the key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, path: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {path}: {problem}")


def _expand(value: str, env: Mapping[str, str], where: _Where, path: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in env:
            raise where.error(path, f"environment variable {m.group(1)} is not set")
        return env[m.group(1)]

    return _ENV_REF.sub(sub, value)


def _expect(value: Any, kind: type | tuple[type, ...], where: _Where, path: str, what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise where.error(path, f"must be {what} (got {value!r})")
    return value


def _backend(
    name: str, raw: Any, ctx: _Where, env: Mapping[str, str], store: CredentialStore | None
) -> Backend:
    path = f"backends.{name}"
    if not NAME.match(name):
        raise ctx.error(path, "backend names use letters, digits, '-', '_' or '.'")
    raw = _expect(raw, dict, ctx, path, "a mapping with kind:, base_url:, key:")
    allowed = {
        "kind",
        "base_url",
        "key",
        "keys",
        "headers",
        "models",
        "timeout",
        "quirks",
        "max_concurrent",
        "min_interval_ms",
    }
    unknown = set(raw) - allowed
    if unknown:
        raise ctx.error(
            f"{path}.{sorted(unknown)[0]}", f"unknown key (expected {', '.join(sorted(allowed))})"
        )
    kind = raw.get("kind")
    if kind not in BACKEND_KINDS:
        raise ctx.error(f"{path}.kind", f"must be one of {', '.join(BACKEND_KINDS)} (got {kind!r})")
    base_url = raw.get("base_url") or _DEFAULT_BASE.get(kind)
    if not base_url:
        raise ctx.error(
            f"{path}.base_url", "required for openai-compat backends (e.g. http://127.0.0.1:11434/v1)"
        )
    base_url = _expand(_expect(base_url, str, ctx, f"{path}.base_url", "a URL"), env, ctx, f"{path}.base_url")
    if not BASE_URL.match(base_url):
        raise ctx.error(f"{path}.base_url", f"must start with http:// or https:// (got {base_url!r})")
    key = raw.get("key")
    if key is not None:
        key = _expand(str(_expect(key, str, ctx, f"{path}.key", "a string")), env, ctx, f"{path}.key") or None
    elif store is not None:
        key = store.key_for(name, base_url)
    headers = raw.get("headers") or {}
    _expect(headers, dict, ctx, f"{path}.headers", "a mapping of header names to values")
    models = raw.get("models") or []
    _expect(models, list, ctx, f"{path}.models", "a list of model ids")
    timeout = raw.get("timeout", 600)
    _expect(timeout, (int, float), ctx, f"{path}.timeout", "a number of seconds")
    if timeout <= 0:
        raise ctx.error(f"{path}.timeout", "must be more than 0 seconds")
    quirks = _quirks(raw.get("quirks"), default_quirks(name, kind, base_url), ctx, f"{path}.quirks")
    pool = _keys(raw.get("keys"), name, base_url, key, ctx, env, store, f"{path}.keys")
    max_concurrent = raw.get("max_concurrent")
    if max_concurrent is not None and (
        _expect(max_concurrent, int, ctx, f"{path}.max_concurrent", "a whole number") < 1
    ):
        raise ctx.error(f"{path}.max_concurrent", "must be at least 1")
    interval = _expect(
        raw.get("min_interval_ms", 0), (int, float), ctx, f"{path}.min_interval_ms", "milliseconds"
    )
    return Backend(
        name=name,
        kind=kind,
        quirks=quirks,
        pool=pool,
        max_concurrent=max_concurrent,
        min_interval=max(float(interval), 0.0) / 1000,
        base_url=base_url.rstrip("/"),
        key=key,
        headers=tuple((str(k), _expand(str(v), env, ctx, f"{path}.headers.{k}")) for k, v in headers.items()),
        models=tuple(str(m) for m in models),
        timeout=float(timeout),
        source="config",
    )


def _keys(
    raw: Any,
    backend: str,
    base_url: str,
    key: str | None,
    ctx: _Where,
    env: Mapping[str, str],
    store: CredentialStore | None,
    path: str,
) -> tuple[KeySpec, ...]:
    """A backend's pool: ``keys:`` in the file plus keys stored by ``turnout keys add``."""
    specs: list[KeySpec] = []
    for i, item in enumerate(_expect(raw or [], list, ctx, path, "a list of {alias, key, base_url}")):
        where = f"{path}[{i}]"
        item = _expect(item, dict, ctx, where, "a mapping {alias, key, base_url}")
        alias = _expect(item.get("alias"), str, ctx, f"{where}.alias", "a name")
        if not NAME.match(alias) or any(s.alias == alias for s in specs):
            raise ctx.error(
                f"{where}.alias", f"aliases are unique names of letters, digits, '-', '_' (got {alias!r})"
            )
        value = item.get("key")
        if value is not None:
            value = _expand(
                str(_expect(value, str, ctx, f"{where}.key", "a string")), env, ctx, f"{where}.key"
            )
        url = item.get("base_url")
        if url is not None:
            url = _expand(
                _expect(url, str, ctx, f"{where}.base_url", "a URL"), env, ctx, f"{where}.base_url"
            ).rstrip("/")
            if not BASE_URL.match(url):
                raise ctx.error(f"{where}.base_url", f"must start with http:// or https:// (got {url!r})")
        specs.append(KeySpec(alias, value or key, url))
    if store is not None:
        for alias, value in store.pool(backend, base_url):
            if not any(s.alias == alias for s in specs):
                specs.append(KeySpec(alias, value, None, "stored"))
    if specs and key and not raw:
        specs.insert(0, KeySpec("default", key))
    return tuple(specs)


_QUIRK_CHOICES: dict[str, tuple[object, ...]] = {
    "max_tokens_param": ("max_tokens", "max_completion_tokens"),
    "reasoning_field": ("reasoning_content", "reasoning", None),
}


def _quirks(raw: Any, defaults: Quirks, ctx: _Where, path: str) -> Quirks:
    if raw is None:
        return defaults
    raw = _expect(raw, dict, ctx, path, "a mapping of quirk → value")
    known = {f.name: f for f in dataclasses.fields(Quirks)}
    for key, value in raw.items():
        if key not in known:
            raise ctx.error(f"{path}.{key}", f"unknown quirk (known: {', '.join(known)})")
        if key in _QUIRK_CHOICES:
            if value not in _QUIRK_CHOICES[key]:
                choices = ", ".join(str(c).replace("None", "null") for c in _QUIRK_CHOICES[key])
                raise ctx.error(f"{path}.{key}", f"must be one of {choices} (got {value!r})")
        elif isinstance(getattr(defaults, key), bool):
            _expect(value, bool, ctx, f"{path}.{key}", "true or false")
        elif key == "reasoning_effort":
            if value is not None:
                _expect(value, bool, ctx, f"{path}.{key}", "true, false or null (by model name)")
        elif value is not None or key not in ("max_tokens_cap", "context_window"):
            _expect(value, int, ctx, f"{path}.{key}", "a whole number")
            if value <= 0:
                raise ctx.error(f"{path}.{key}", "must be more than 0")
    return dataclasses.replace(defaults, **raw)


def _route(i: int, raw: Any, ctx: _Where, backends: Mapping[str, Backend]) -> Route:
    path = f"routes[{i}]"
    raw = _expect(raw, dict, ctx, path, "a mapping like {match: 'claude-*', backend: anthropic}")
    if ("match" in raw) == ("regex" in raw):
        raise ctx.error(path, "give exactly one of match: (a glob) or regex:")
    backend = raw.get("backend")
    if backend not in backends:
        known = ", ".join(backends) or "none"
        raise ctx.error(f"{path}.backend", f"unknown backend {backend!r} (known: {known})")
    model = raw.get("model")
    if model is not None:
        _expect(model, str, ctx, f"{path}.model", "a model id")
    fallbacks = []
    for k, item in enumerate(_expect(raw.get("fallbacks") or [], list, ctx, f"{path}.fallbacks", "a list")):
        spec = _expect(item, str, ctx, f"{path}.fallbacks[{k}]", "'backend' or 'backend/model'")
        name, _, fallback_model = spec.partition("/")
        if name not in backends:
            raise ctx.error(
                f"{path}.fallbacks[{k}]", f"unknown backend {name!r} (known: {', '.join(backends)})"
            )
        fallbacks.append((name, fallback_model or None))
    if "match" in raw:
        glob = _expect(raw["match"], str, ctx, f"{path}.match", "a glob such as 'claude-*'")
        return Route(glob, backend, re.compile(fnmatch.translate(glob)), model, "glob", tuple(fallbacks))
    pattern = _expect(raw["regex"], str, ctx, f"{path}.regex", "a regular expression")
    try:
        return Route(pattern, backend, re.compile(pattern), model, "regex", tuple(fallbacks))
    except re.error as e:
        raise ctx.error(f"{path}.regex", f"invalid regular expression: {e}") from e


def _points_at(url: str, prefixes: tuple[str, ...]) -> bool:
    return any(url == p or url.startswith(p + "/") for p in prefixes)


def backends_from_env(env: Mapping[str, str]) -> list[Backend]:
    """Backends for every well-known provider whose key variable is set in ``env``.

    Only the environment: a stored key belongs to the config backend it was stored for
    and never reappears here under a provider's default URL."""
    found = []
    for p in KNOWN_PROVIDERS:
        key = env.get(p.key_env)
        if not key:
            continue
        base_url = env.get(p.base_url_env) or p.base_url
        quirks = default_quirks(p.name, p.kind, base_url)
        found.append(
            Backend(p.name, p.kind, base_url.rstrip("/"), key, source=f"env {p.key_env}", quirks=quirks)
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
    env = os.environ if env is None else env
    ctx = _Where(where)
    top = {"backends", "routes", "aliases", "limits", "autodetect", "pool", "analytics", "prices"}
    unknown = set(raw) - top
    if unknown:
        raise ctx.error(sorted(unknown)[0], f"unknown key (expected {', '.join(sorted(top))})")

    backends: dict[str, Backend] = {}
    for name, spec in _expect(raw.get("backends") or {}, dict, ctx, "backends", "a mapping").items():
        backends[str(name)] = _backend(str(name), spec, ctx, env, store)

    auto = _expect(
        raw.get("autodetect") or {}, dict, ctx, "autodetect", "a mapping {environment: bool, local: bool}"
    )
    auto_backends: list[Backend] = []
    if auto.get("environment", True):
        auto_backends += backends_from_env(env)
    if auto.get("local", True) and discover is not None:
        auto_backends += discover()
    for b in auto_backends:
        if b.name not in backends and not _points_at(b.base_url, exclude_urls):
            backends[b.name] = b

    routes = tuple(
        _route(i, r, ctx, backends)
        for i, r in enumerate(_expect(raw.get("routes") or [], list, ctx, "routes", "a list of rules"))
    )
    aliases = dict(DEFAULT_ALIASES)
    for k, v in _expect(raw.get("aliases") or {}, dict, ctx, "aliases", "a mapping of alias → model").items():
        aliases[str(k)] = str(_expect(v, str, ctx, f"aliases.{k}", "a model id"))
    limits_raw = _expect(raw.get("limits") or {}, dict, ctx, "limits", "a mapping")
    max_mb = _expect(
        limits_raw.get("max_body_mb", 32), (int, float), ctx, "limits.max_body_mb", "a number of MB"
    )
    if max_mb <= 0:
        raise ctx.error("limits.max_body_mb", "must be more than 0")
    return Config(
        backends=backends,
        routes=routes,
        aliases=aliases,
        limits=Limits(max_body_bytes=int(max_mb * 1024 * 1024)),
        source=source,
        pool=_settings(PoolSettings, raw.get("pool"), ctx, "pool"),
        analytics=_settings(AnalyticsSettings, raw.get("analytics"), ctx, "analytics"),
        prices=_prices(raw.get("prices"), ctx),
    )


def _settings[T](cls: type[T], raw: Any, ctx: _Where, path: str) -> T:
    """A settings dataclass from a mapping, each value checked against its default's type."""
    raw = _expect(raw or {}, dict, ctx, path, "a mapping")
    defaults = cls()
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {}
    for key, value in raw.items():
        if key not in fields:
            raise ctx.error(f"{path}.{key}", f"unknown key (expected {', '.join(sorted(fields))})")
        default = getattr(defaults, key)
        if isinstance(default, bool):
            _expect(value, bool, ctx, f"{path}.{key}", "true or false")
        elif isinstance(default, (int, float)):
            if _expect(value, (int, float), ctx, f"{path}.{key}", "a number") < 0:
                raise ctx.error(f"{path}.{key}", "must not be negative")
        elif value is not None:
            _expect(value, str, ctx, f"{path}.{key}", "a string")
        values[key] = value
    return dataclasses.replace(defaults, **values)  # type: ignore[type-var]


def _prices(raw: Any, ctx: _Where) -> tuple[tuple[str, dict[str, float]], ...]:
    out = []
    for model, prices in _expect(raw or {}, dict, ctx, "prices", "a mapping of model glob → prices").items():
        where = f"prices.{model}"
        prices = _expect(prices, dict, ctx, where, "a mapping {input, output, cache_read, cache_write}")
        for k, v in prices.items():
            if k not in ("input", "output", "cache_read", "cache_write"):
                raise ctx.error(
                    f"{where}.{k}", "unknown price (expected input, output, cache_read, cache_write)"
                )
            _expect(v, (int, float), ctx, f"{where}.{k}", "dollars per million tokens")
        out.append((str(model), {k: float(v) for k, v in prices.items()}))
    return tuple(out)


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

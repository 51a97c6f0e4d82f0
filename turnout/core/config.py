"""Load and validate turnout's config: a YAML file, the environment, stored keys.

Precedence for backends: the config file, then the environment (well-known key
variables), then local servers that answer on their usual ports. A name defined
earlier wins. Every error names the file, the key path and what is wrong, e.g.
``config.yaml: backends.groq.kind: must be one of anthropic, openai, openai-compat``.

Every value goes through one ``_Reader``: numbers are finite and in the range their
dataclass field declares (``models.Range``), so ``timeout: .nan`` or ``port 99999`` is an
error, not a disabled check or a crashed file watcher; secrets (keys, header values)
may hold no control characters (a CR/LF would inject headers upstream) and are never
echoed in an error; URLs are checked whole and shown with any credentials masked.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from turnout.core.config_file import read_config_file
from turnout.core.credentials import CredentialStore, check_secret
from turnout.core.discovery import probe_local_servers
from turnout.core.errors import ConfigError
from turnout.core.models import (
    BACKEND_KINDS,
    BASE_URL,
    NAME,
    AccessSettings,
    AnalyticsSettings,
    Backend,
    Config,
    KeySpec,
    Limits,
    PoolSettings,
    Quirks,
    Range,
    Route,
    When,
)
from turnout.core.paths import credentials_dir, default_config_path, user_config_path
from turnout.core.providers import DEFAULT_ALIASES, KNOWN_PROVIDERS, default_quirks
from turnout.core.urls import display_url

__all__ = [
    "backends_from_env",
    "build_config",
    "load_config",
    "load_user_config",
]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_DEFAULT_BASE = {
    "anthropic": "https://api.anthropic.com",
    "openai": "https://api.openai.com/v1",
    "openai-responses": "https://api.openai.com/v1",
    "gemini": "https://generativelanguage.googleapis.com/v1beta",
}
_TOP = ("backends", "routes", "aliases", "limits", "autodetect", "pool", "analytics", "prices", "access")
_BACKEND_KEYS = (
    "kind", "base_url", "key", "keys", "headers", "models", "timeout", "read_timeout", "quirks",
    "max_concurrent", "min_interval_ms",
)  # fmt: skip
_SECONDS = Range(0, 86400, "seconds", above=True)
_QUIRK_CHOICES: dict[str, tuple[object, ...]] = {
    "max_tokens_param": ("max_tokens", "max_completion_tokens"),
    "reasoning_field": ("reasoning_content", "reasoning", None),
    "reasoning_effort": (True, False, None),
}


def _kind_of(value: Any) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


class _Reader:
    """Reads raw YAML values, each checked; errors name the file and the key path."""

    def __init__(self, where: str, env: Mapping[str, str]) -> None:
        self.where, self.env = where, env

    def error(self, path: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}: {path}: {problem}")

    def expect(self, value: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            shown = repr(value) if isinstance(value, (int, float, bool, type(None))) else _kind_of(value)
            raise self.error(path, f"must be {what} (got {shown[:80]})")
        return value

    def mapping(self, value: Any, path: str, what: str = "a mapping") -> dict[Any, Any]:
        result: dict[Any, Any] = self.expect(value if value is not None else {}, dict, path, what)
        return result

    def only(self, raw: Mapping[Any, Any], allowed: tuple[str, ...], path: str) -> None:
        unknown = sorted(str(k) for k in raw if k not in allowed)
        if unknown:
            where = f"{path}.{unknown[0]}" if path else unknown[0]
            raise self.error(where, f"unknown key (expected {', '.join(sorted(allowed))})")

    def text(self, value: Any, path: str, what: str) -> str:
        """A plain string, ``${VAR}`` expanded (echoed in errors: not a secret)."""
        return self._expand(self.expect(value, str, path, what), path)

    def secret(self, value: Any, path: str) -> str:
        """A key or header value: a string with no control characters, never echoed."""
        if not isinstance(value, str) or isinstance(value, bool):
            raise self.error(path, f"must be a string (got {_kind_of(value)})")
        text = self._expand(value, path)
        try:
            return check_secret(text, "the value")
        except ConfigError as e:
            raise self.error(path, e.message) from None

    def url(self, value: Any, path: str) -> str:
        url = self.text(value, path, "a URL").rstrip("/")
        shown = display_url(url)
        if not BASE_URL.match(url) or any(ord(c) < 0x21 for c in url):
            raise self.error(path, f"must be an http:// or https:// URL (got {shown!r})")
        try:
            urlsplit(url).port  # noqa: B018 - raises on a port out of range
        except ValueError as e:
            raise self.error(path, f"{e} in {shown!r}") from None
        return url

    def number(self, value: Any, path: str, limits: Range) -> float:
        self.expect(value, (int, float), path, limits.describe())
        bad = not math.isfinite(value) or value > limits.hi
        bad = bad or (value <= limits.lo if limits.above else value < limits.lo)
        if bad or (limits.integer and not isinstance(value, int)):
            raise self.error(path, f"must be {limits.describe()} (got {value!r})")
        return float(value)

    def settings[T](self, cls: type[T], raw: Any, path: str) -> T:
        """A settings dataclass from a mapping, each value checked against its field."""
        raw = self.mapping(raw, path)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        self.only(raw, tuple(fields), path)
        values: dict[str, Any] = {}
        for key, value in raw.items():
            field, where = fields[key], f"{path}.{key}"
            limits = field.metadata.get("range")
            if key in _QUIRK_CHOICES:
                if value not in _QUIRK_CHOICES[key] or isinstance(value, float):
                    choices = ", ".join(str(c).replace("None", "null").lower() for c in _QUIRK_CHOICES[key])
                    raise self.error(where, f"must be one of {choices} (got {value!r})")
                values[key] = value
            elif limits is not None:
                if value is None and field.default is None:
                    values[key] = None
                    continue
                number = self.number(value, where, limits)
                values[key] = int(number) if limits.integer else number
            elif isinstance(field.default, bool):
                values[key] = self.expect(value, bool, where, "true or false")
            elif isinstance(field.default, tuple):
                items = self.expect(value if value is not None else [], list, where, "a list")
                values[key] = tuple(self.text(v, f"{where}[{i}]", "a string") for i, v in enumerate(items))
            else:
                values[key] = None if value is None else self.text(value, where, "a string")
        return dataclasses.replace(cls(), **values)  # type: ignore[type-var]

    def _expand(self, value: str, path: str) -> str:
        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in self.env:
                raise self.error(path, f"environment variable {m.group(1)} is not set")
            return self.env[m.group(1)]

        return _ENV_REF.sub(sub, value)


def _backend(name: str, raw: Any, read: _Reader, store: CredentialStore | None) -> Backend:
    path = f"backends.{name}"
    if not NAME.match(name):
        raise read.error(path, "backend names use letters, digits, '-', '_' or '.'")
    raw = read.mapping(raw, path, "a mapping with kind:, base_url:, key:")
    read.only(raw, _BACKEND_KEYS, path)
    kind = raw.get("kind")
    if kind not in BACKEND_KINDS:
        shown = repr(kind) if isinstance(kind, str | None) else _kind_of(kind)
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
    )


def _header_name(read: _Reader, name: str, path: str) -> str:
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
        raise read.error(f"{path}.{name[:40]}", "not a valid HTTP header name")
    return name


def _keys(
    raw: Any,
    backend: str,
    base_url: str,
    key: str | None,
    read: _Reader,
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
        specs.insert(0, KeySpec("default", key))
    return tuple(specs)


def _quirks(raw: Any, defaults: Quirks, read: _Reader, path: str) -> Quirks:
    if raw is None:
        return defaults
    given = read.settings(Quirks, raw, path)
    return dataclasses.replace(defaults, **{k: getattr(given, k) for k in read.mapping(raw, path)})


_APIS = ("messages", "chat", "responses", "gemini")


def _when(raw: Any, path: str, read: _Reader) -> When:
    """A rule's conditions: ``{request_class: subagent}``, ``{tokens_over: 60000}``…"""
    raw = read.mapping(raw, path, "a mapping like {request_class: subagent}")
    read.only(raw, ("api", "request_class", "agent_type", "tokens_over", "thinking", "tools"), path)
    if not raw:
        raise read.error(path, "name at least one condition (api, request_class, agent_type, tokens_over, …)")
    given: dict[str, Any] = {}
    for key in ("api", "request_class", "agent_type"):
        if key in raw:
            given[key] = read.text(raw[key], f"{path}.{key}", "a name")
    if "api" in given and given["api"] not in _APIS:
        raise read.error(f"{path}.api", f"must be one of {', '.join(_APIS)}")
    for key in ("thinking", "tools"):
        if key in raw:
            given[key] = read.expect(raw[key], bool, f"{path}.{key}", "true or false")
    if "tokens_over" in raw:
        value = raw["tokens_over"]
        if type(value) is not int or not 0 <= value <= 10**8:
            raise read.error(f"{path}.tokens_over", "must be a whole number of tokens from 0 to 100000000")
        given["tokens_over"] = value
    return When(**given)


def _route(i: int, raw: Any, read: _Reader, backends: Mapping[str, Backend]) -> Route:
    path = f"routes[{i}]"
    raw = read.mapping(raw, path, "a mapping like {match: 'claude-*', backend: anthropic}")
    read.only(raw, ("match", "regex", "backend", "model", "fallbacks", "when"), path)
    if ("match" in raw and "regex" in raw) or not ({"match", "regex", "when"} & set(raw)):
        raise read.error(path, "give one of match: (a glob) or regex:, or when: (then match: '*' is meant)")
    when = _when(raw["when"], f"{path}.when", read) if "when" in raw else None
    backend = raw.get("backend")
    if backend not in backends:
        known = ", ".join(backends) or "none"
        shown = repr(backend)[:60] if isinstance(backend, str | None) else _kind_of(backend)
        raise read.error(f"{path}.backend", f"unknown backend {shown} (known: {known})")
    model = read.text(raw["model"], f"{path}.model", "a model id") if raw.get("model") is not None else None
    fallbacks = []
    for k, item in enumerate(read.expect(raw.get("fallbacks") or [], list, f"{path}.fallbacks", "a list")):
        spec = read.text(item, f"{path}.fallbacks[{k}]", "'backend' or 'backend/model'")
        name, _, fallback_model = spec.partition("/")
        if name not in backends:
            raise read.error(
                f"{path}.fallbacks[{k}]", f"unknown backend {name[:60]!r} (known: {', '.join(backends)})"
            )
        fallbacks.append((name, fallback_model or None))
    if "regex" not in raw:
        glob = read.text(raw.get("match", "*"), f"{path}.match", "a glob such as 'claude-*'")
        compiled = re.compile(fnmatch.translate(glob))
        return Route(glob, backend, compiled, model, "glob", tuple(fallbacks), when)
    pattern = read.text(raw["regex"], f"{path}.regex", "a regular expression")
    try:
        return Route(pattern, backend, re.compile(pattern), model, "regex", tuple(fallbacks), when)
    except re.error as e:
        raise read.error(f"{path}.regex", f"invalid regular expression: {e}") from e


def _prices(raw: Any, read: _Reader) -> tuple[tuple[str, dict[str, float]], ...]:
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
    read = _Reader("environment", env)
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
    read = _Reader(where, os.environ if env is None else env)
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
        _route(i, r, read, backends)
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
    )


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

"""``turnout models``, ``turnout status`` and ``turnout doctor``: what routes where, and why."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from turnout.cli._console import err, fail, out
from turnout.cli._options import DEFAULT_URL, ConfigOpt, UrlOpt
from turnout.cli._proxy import ProxyClient, ProxyUnavailable
from turnout.core.config import load_user_config
from turnout.core.credentials import mask
from turnout.core.errors import ConfigError
from turnout.core.listing import ListingError, read_model_list
from turnout.core.models import Backend
from turnout.core.routing import Resolver, upstream_url
from turnout.core.upstream import ANTHROPIC_VERSION, credential_headers


def models(
    config: ConfigOpt = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Don't read the backends' own model lists; the config only.")
    ] = False,
) -> None:
    """Show every routable model, the backend it goes to and why (the config, a rule, an
    alias, or the backend's own model list, read now as the proxy reads it)."""
    try:
        cfg = load_user_config(config)
    except ConfigError as e:
        fail(e.message)
    listed: dict[str, tuple[str, ...]] = {}
    if not offline and cfg.backends:
        with ThreadPoolExecutor(max_workers=min(len(cfg.backends), 16)) as pool:
            results = pool.map(_read_list, cfg.backends.values())
            for b, result in zip(cfg.backends.values(), results, strict=True):
                if isinstance(result, ListingError):
                    err.print(f"[dim]{escape(b.name)}: {escape(str(result))}[/]", highlight=False)
                else:
                    listed[b.name] = result
    resolver = Resolver(cfg, listed)
    table = Table(title="Routable models")
    table.add_column("model", no_wrap=True, style="bold")
    table.add_column("backend", no_wrap=True)
    table.add_column("served as")
    table.add_column("why")
    for model in resolver.routable_models():
        d = resolver.resolve(model)
        table.add_row(escape(model), escape(d.backend.name), escape(d.model), escape(d.rule))
    out.print(table)
    for r in cfg.routes:
        out.print(
            f"rule {escape(r.describe())} → {escape(r.backend)}"
            + (f" as {escape(r.model)}" if r.model else ""),
            highlight=False,
        )
    out.print(
        "Also: claude-* → the anthropic backend; gpt-*, o1…, chatgpt-*, text-embedding-* → openai; "
        "'backend:model' forces a backend."
    )


def _read_list(backend: Backend) -> tuple[str, ...] | ListingError:
    try:
        return read_model_list(backend, timeout=3.0)
    except ListingError as e:
        return e


def status(url: UrlOpt = DEFAULT_URL) -> None:
    """Ask the running proxy how it is doing."""
    try:
        with ProxyClient(url) as proxy:
            s = proxy.get("/status")
    except ProxyUnavailable as e:
        fail(str(e))
    out.print(
        f"turnout at [bold]{escape(url)}[/]: up {s['uptime_s']:.0f} s, {s['requests']} requests, "
        + (f"{s['workers']} workers, " if isinstance(s.get("workers"), int) else "")
        + f"config {escape(s['config'])}",
        highlight=False,
    )
    table = Table()
    for col in ("backend", "kind", "key", "models", "source"):
        table.add_column(col, justify="right" if col == "models" else "left")
    for b in s["backends"]:
        table.add_row(escape(b["name"]), b["kind"], b["key"], str(len(b["models"])), escape(b["source"]))
    out.print(table)


def probe(backend: Backend, timeout: float = 5.0) -> tuple[str, str]:
    """(verdict, detail) for one backend: can we reach it, and does it take our key?"""
    _, credential = credential_headers(backend.kind, backend.key, backend.headers)
    headers = [
        *credential,
        *([(b"anthropic-version", ANTHROPIC_VERSION)] if backend.kind == "anthropic" else []),
    ]
    start = time.perf_counter()
    try:
        r = httpx.get(upstream_url(backend, "/v1/models"), headers=headers, timeout=timeout)
    except httpx.HTTPError as e:
        return "unreachable", f"{type(e).__name__}: {e}"[:120]
    ms = (time.perf_counter() - start) * 1000
    if r.status_code in (401, 403):
        return "bad key", f"HTTP {r.status_code} in {ms:.0f} ms"
    if r.status_code >= 400:
        return "error", f"HTTP {r.status_code} in {ms:.0f} ms"
    return "ok", f"{ms:.0f} ms"


def doctor(config: ConfigOpt = None) -> None:
    """Validate the config, then probe every backend and print a table."""
    try:
        cfg = load_user_config(config)
    except ConfigError as e:
        fail(f"config invalid: {e.message}")
    out.print(
        f"config: [green]valid[/] ({escape(cfg.source)}); "
        f"TURNOUT_API_KEY {'set' if os.environ.get('TURNOUT_API_KEY') else 'not set'}",
        highlight=False,
    )
    table = Table(title="Backends")
    for col in ("backend", "kind", "key", "verdict", "detail"):
        table.add_column(col, no_wrap=col in ("backend", "key"))
    worst = 0
    for b in cfg.backends.values():
        verdict, detail = probe(b)
        worst = max(worst, verdict != "ok")
        color = "green" if verdict == "ok" else "red"
        table.add_row(escape(b.name), b.kind, mask(b.key), f"[{color}]{verdict}[/]", escape(detail))
    out.print(table)
    if not cfg.backends:
        fail("no backends configured: set ANTHROPIC_API_KEY / OPENAI_API_KEY or run `turnout backend add`")
    if worst:
        raise typer.Exit(1)

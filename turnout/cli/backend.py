"""``turnout backend add/list/remove``: backends in the user's config, keys in the store."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from turnout.cli._console import fail, out
from turnout.cli._options import ConfigOpt
from turnout.core.config import build_config, load_user_config
from turnout.core.config_file import edit_config_file, put_backend, remove_backend
from turnout.core.credentials import CredentialStore, check_secret, mask
from turnout.core.errors import ConfigError
from turnout.core.models import BACKEND_KINDS, Config
from turnout.core.paths import credentials_dir, user_config_path
from turnout.core.providers import KNOWN_NAMES, known_backend
from turnout.core.urls import display_url

app = typer.Typer(help="Add, list and remove backends.", no_args_is_help=True)


def _validator(where: str, store: CredentialStore, found: list[Config]) -> Any:
    def validate(raw: dict[str, Any]) -> None:
        found.append(build_config(raw, where=where, source=where, env=os.environ, store=store))

    return validate


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Backend name, also usable as a model prefix (name:model).")],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            "-k",
            help=f"One of: {', '.join(BACKEND_KINDS)}. Not needed for a provider turnout knows by name.",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", help="API key; stored mode 0600, never in the YAML. Omit for keyless local servers."
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Base URL as the SDKs take it, e.g. https://api.groq.com/openai/v1."),
    ] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="A model this backend serves (repeatable).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Add (or replace) a backend. A provider turnout knows by name (groq, openrouter, ollama…)
    needs no --kind or --base-url. The whole config is checked before anything is written."""
    known = known_backend(name)
    if kind is None:
        if known is None:
            fail(f"--kind is needed: {name!r} is not a provider turnout knows ({', '.join(KNOWN_NAMES)})")
        kind = known[0]
    if known is not None and kind == known[0] == "openai-compat" and not base_url:
        base_url = known[1]  # the other kinds have their default in the config already
    if kind not in BACKEND_KINDS:
        fail(f"--kind must be one of {', '.join(BACKEND_KINDS)} (got {kind!r})")
    path = user_config_path(config)
    spec: dict[str, object] = {"kind": kind}
    if base_url:
        spec["base_url"] = base_url
    if model:
        spec["models"] = list(model)
    store = CredentialStore(credentials_dir())
    found: list[Config] = []
    try:
        if key:
            check_secret(key, "--key")
        edit_config_file(path, lambda doc: put_backend(doc, name, spec), _validator(str(path), store, found))
        stored = store.set(name, key, base_url=found[0].backends[name].base_url) if key else None
    except ConfigError as e:
        fail(f"{e.message} (nothing was changed)")
    where = f", key {mask(key)} stored in {stored} (mode 0600)" if stored else ""
    out.print(
        f"Added backend [bold]{escape(name)}[/] ({kind}) to {escape(str(path))}{escape(where)}.",
        highlight=False,
    )


@app.command("list")
def list_(
    config: ConfigOpt = None,
    discover: Annotated[bool, typer.Option("--discover/--no-discover", help="Probe local servers.")] = True,
) -> None:
    """List every backend turnout would use, and where each came from."""
    try:
        cfg = load_user_config(config, discover=discover)
    except ConfigError as e:
        fail(e.message)
    table = Table(title=f"Backends ({escape(cfg.source)})")
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("kind")
    table.add_column("base URL", overflow="fold")
    table.add_column("key", no_wrap=True)
    table.add_column("models", justify="right")
    table.add_column("source")
    for b in cfg.backends.values():
        table.add_row(
            escape(b.name),
            b.kind,
            escape(display_url(b.base_url)),
            mask(b.key),
            str(len(b.models)),
            escape(b.source),
        )
    out.print(table)
    if not cfg.backends:
        out.print("No backends: set ANTHROPIC_API_KEY or OPENAI_API_KEY, or run `turnout backend add`.")


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="Backend to remove.")], config: ConfigOpt = None) -> None:
    """Remove a backend from the config and forget its stored keys."""
    path = user_config_path(config)
    store = CredentialStore(credentials_dir())
    removed: list[bool] = []

    def change(doc: Any) -> None:
        removed.append(remove_backend(doc, name))

    try:
        if path.exists():
            edit_config_file(path, change, _validator(str(path), store, []))
    except ConfigError as e:
        fail(f"{e.message} (nothing was changed)")
    forgot = _forget_keys(store, name)
    if not any(removed) and not forgot:
        fail(f"no backend {name!r} in {path}; `turnout backend list` shows what there is")
    keys = f"; {forgot} stored key{'s' if forgot != 1 else ''} deleted" if forgot else ""
    out.print(f"Removed backend [bold]{escape(name)}[/] from {escape(str(path))}{keys}.", highlight=False)


def _forget_keys(store: CredentialStore, name: str) -> int:
    """Delete the backend's stored key and pool keys; a name the store rejects has none."""
    try:
        pool = store.pool_aliases(name)
        count = sum(store.remove_pool_key(name, alias) is not None for alias in pool)
        return count + store.remove(name)
    except ConfigError:
        return 0

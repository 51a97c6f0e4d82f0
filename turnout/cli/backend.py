"""``turnout backend add/list/remove``: backends in the user's config, keys in the store."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from turnout.cli._console import fail, out
from turnout.core.config import load_user_config, read_config_file, write_config_file
from turnout.core.credentials import CredentialStore, mask
from turnout.core.errors import ConfigError
from turnout.core.models import BACKEND_KINDS
from turnout.core.paths import credentials_dir, user_config_path

app = typer.Typer(help="Add, list and remove backends.", no_args_is_help=True)

ConfigOpt = Annotated[
    str | None, typer.Option("--config", "-c", envvar="TURNOUT_CONFIG", help="YAML config file to edit.")
]


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Backend name, also usable as a model prefix (name:model).")],
    kind: Annotated[str, typer.Option("--kind", "-k", help=f"One of: {', '.join(BACKEND_KINDS)}.")],
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
    """Add (or replace) a backend."""
    if kind not in BACKEND_KINDS:
        fail(f"--kind must be one of {', '.join(BACKEND_KINDS)} (got {kind!r})")
    path = user_config_path(config)
    try:
        data = read_config_file(path)
        backends = data.setdefault("backends", {}) or {}
        data["backends"] = backends
        spec: dict[str, object] = {"kind": kind}
        if base_url:
            spec["base_url"] = base_url
        if model:
            spec["models"] = list(model)
        backends[name] = spec
        store = CredentialStore(credentials_dir())
        write_config_file(path, data)
        cfg = load_user_config(config, discover=False)  # validate what we wrote
        if key:
            store.set(name, key, base_url=cfg.backends[name].base_url)
    except ConfigError as e:
        fail(e.message)
    stored = f", key {mask(key)} stored" if key else ""
    out.print(
        f"Added backend [bold]{escape(name)}[/] ({kind}){escape(stored)} in {escape(str(path))}.",
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
            escape(b.name), b.kind, escape(b.base_url), mask(b.key), str(len(b.models)), escape(b.source)
        )
    out.print(table)
    if not cfg.backends:
        out.print("No backends: set ANTHROPIC_API_KEY or OPENAI_API_KEY, or run `turnout backend add`.")


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="Backend to remove.")], config: ConfigOpt = None) -> None:
    """Remove a backend from the config and forget its stored key."""
    path = user_config_path(config)
    try:
        data = read_config_file(path)
        store = CredentialStore(credentials_dir())
        had_key = store.remove(name)
    except ConfigError as e:
        fail(e.message)
    backends = data.get("backends") or {}
    if name not in backends and not had_key:
        fail(f"no backend {name!r} in {path}; `turnout backend list` shows what there is")
    backends.pop(name, None)
    write_config_file(path, data)
    out.print(f"Removed backend [bold]{escape(name)}[/].", highlight=False)

"""``turnout keys add/list/remove``: the keys (pool members) of each backend."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from turnout.cli._console import err, fail, out
from turnout.cli._options import DEFAULT_URL, ConfigOpt, UrlOpt
from turnout.cli._proxy import ProxyClient, ProxyUnavailable
from turnout.core.config import load_user_config
from turnout.core.credentials import CredentialStore, mask
from turnout.core.errors import ConfigError
from turnout.core.paths import credentials_dir

app = typer.Typer(help="Add, list and remove the keys of a backend's pool.", no_args_is_help=True)


@app.command("add")
def add(
    backend: Annotated[str, typer.Argument(help="The backend the key belongs to.")],
    alias: Annotated[str, typer.Argument(help="A name for this key, shown in status and analytics.")],
    key: Annotated[
        str, typer.Option("--key", prompt=True, hide_input=True, help="The API key (prompted if omitted).")
    ],
    config: ConfigOpt = None,
) -> None:
    """Add a key to a backend's pool; a running proxy picks it up within a second."""
    try:
        cfg = load_user_config(config, discover=False)
        if backend not in cfg.backends:
            known = ", ".join(cfg.backends)
            fail(f"no backend {backend!r}: add it first with `turnout backend add` (known: {known})")
        base_url = cfg.backends[backend].base_url
        stored = CredentialStore(credentials_dir()).set_pool_key(backend, alias, key, base_url=base_url)
    except ConfigError as e:
        fail(e.message)
    out.print(
        f"Added key [bold]{escape(alias)}[/] ({mask(key)}) to {escape(backend)}'s pool, "
        f"stored in {escape(str(stored))} (mode 0600).",
        highlight=False,
    )


@app.command("remove")
def remove(backend: Annotated[str, typer.Argument()], alias: Annotated[str, typer.Argument()]) -> None:
    """Remove a stored key from a backend's pool."""
    try:
        removed = CredentialStore(credentials_dir()).remove_pool_key(backend, alias)
    except ConfigError as e:
        fail(e.message)
    if removed is None:
        fail(
            f"no stored key {alias!r} for {backend!r}; `turnout keys list` shows the stored ones "
            "(a key written in the config file is removed by editing it)"
        )
    out.print(
        f"Removed key [bold]{escape(alias)}[/] of {escape(backend)} ({escape(str(removed))}).",
        highlight=False,
    )


def _live(url: str) -> tuple[dict[str, dict[str, Any]], str]:
    """The running proxy's key states by ``backend/alias``, or why there are none."""
    try:
        with ProxyClient(url, timeout=2) as proxy:
            rows = proxy.get("/accounts").get("keys") or []
    except ProxyUnavailable as e:
        return {}, str(e)
    return {f"{r['backend']}/{r['alias']}": r for r in rows if isinstance(r, dict)}, ""


@app.command("list")
def list_(config: ConfigOpt = None, url: UrlOpt = DEFAULT_URL) -> None:
    """Every key: status, headroom, requests, last error, reset time (live if turnout runs)."""
    try:
        cfg = load_user_config(config, discover=False)
    except ConfigError as e:
        fail(e.message)
    live, why = _live(url)
    table = Table(title="Keys" + ("" if live else " (no live status)"))
    for col, justify in (
        ("backend", "left"),
        ("alias", "left"),
        ("key", "left"),
        ("status", "left"),
        ("headroom", "right"),
        ("requests", "right"),
        ("last error", "left"),
        ("reset in", "right"),
    ):
        table.add_column(col, justify=justify, no_wrap=col in ("backend", "alias", "key"))  # type: ignore[arg-type]
    for b in cfg.backends.values():
        for spec in b.members:
            row = live.get(f"{b.name}/{spec.alias}", {})
            status = row.get("status", "—")
            color = {"ok": "green", "cooling": "yellow", "failed": "red"}.get(status, "dim")
            reset = row.get("cooling_for_s") or row.get("reset_in_s")
            table.add_row(
                escape(b.name),
                escape(spec.alias),
                mask(spec.key),
                f"[{color}]{status}[/]",
                f"{row['headroom']:.0%}" if "headroom" in row else "—",
                str(row.get("requests", "—")),
                escape(row.get("last_error") or ""),
                f"{reset:.0f} s" if reset else "",
            )
    out.print(table)
    if why:
        err.print(f"[yellow]No live status:[/] {escape(why)}", highlight=False)

"""``turnout stats`` (from the analytics store) and ``turnout top`` (a live dashboard)."""

from __future__ import annotations

import json
import re
import time
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from turnout.cli._console import fail, out
from turnout.cli._options import DEFAULT_URL, ConfigOpt, UrlOpt
from turnout.cli._proxy import ProxyClient, ProxyUnavailable
from turnout.core.config import load_user_config
from turnout.core.errors import ConfigError
from turnout.core.paths import analytics_path
from turnout.core.report import report_from
from turnout.core.store import StoreError

_SINCE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> float | None:
    """``30m``, ``24h``, ``7d`` → seconds; ``all`` → None."""
    if text == "all":
        return None
    m = _SINCE.match(text)
    if not m:
        raise typer.BadParameter("use a number and a unit: 30m, 24h, 7d, or all")
    return float(m.group(1)) * _UNIT[m.group(2)]


def _num(value: float | int | None, fmt: str = "{:,.0f}") -> str:
    return "—" if value is None else fmt.format(value)


def stats_table(title: str, groups: dict[str, dict[str, Any]], *, secrets: bool = False) -> Table:
    """``secrets``: a column of the secrets scrubbed from requests (only once there were any)."""
    table = Table(title=title)
    table.add_column("", no_wrap=True, style="bold")
    columns = ["requests", "errors", "tokens in", "tokens out", "cached", "cost $", "p50 ms", "p95 ms"]
    for col in (*columns, "TTFB p50", *(["secrets"] if secrets else [])):
        table.add_column(col, justify="right")
    for name, s in groups.items():
        table.add_row(
            escape(name),
            _num(s["requests"]),
            f"{s['error_rate']:.1%}",
            _num(s["tokens_in"]),
            _num(s["tokens_out"]),
            _num(s["cache_read"]),
            _num(s["cost"], "{:,.4f}"),
            _num(s["latency_p50_ms"]),
            _num(s["latency_p95_ms"]),
            _num(s["ttfb_p50_ms"]),
            *([_num(s.get("scrubbed", 0))] if secrets else []),
        )
    return table


def stats(
    since: Annotated[str, typer.Option(help="How far back: 30m, 24h, 7d, or all.")] = "24h",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Requests, errors, tokens, cost and latency per backend, model and key."""
    window = parse_since(since)
    try:
        cfg = load_user_config(config, discover=False)
        path = analytics_path(cfg.analytics.path)
        now = time.time()
        summary = report_from(path, now, now - window if window else None)
    except (ConfigError, StoreError) as e:
        fail(e.message)
    report = {**summary["all_time"], "burn": summary["burn"]}
    if as_json:
        typer.echo(json.dumps({"since": since, **report}, indent=2))
        return
    if not report["totals"]["requests"]:
        out.print(f"No requests recorded in the last {since} ({escape(str(path))}).")
        return
    secrets = bool(report["totals"].get("scrubbed"))
    out.print(stats_table(f"By backend, last {since}", report["by_backend"], secrets=secrets))
    out.print(stats_table("By model", report["by_model"], secrets=secrets))
    out.print(stats_table("By key", report["by_key"], secrets=secrets))
    if any(name != "local endpoint" for name in report.get("by_entry", {})):  # --intercept was used
        out.print(stats_table("By entry point", report["by_entry"], secrets=secrets))
    if secrets:
        out.print(
            f"Secrets scrubbed from requests: {report['totals']['scrubbed']:,} (replaced by placeholders "
            "or refused; the values never leave this machine)",
            highlight=False,
        )
    burn = report["burn"]
    out.print(
        f"Burn (last {burn['window_minutes']:.0f} min): {burn['tokens_per_minute']:,.0f} tokens/min, "
        f"${burn['dollars_per_hour']:,.4f}/h, {burn['requests_per_minute']:,.1f} req/min",
        highlight=False,
    )


def dashboard(analytics: dict[str, Any], accounts: dict[str, Any]) -> Group:
    """One frame of `turnout top`."""
    burn, now = analytics.get("burn", {}), analytics.get("now", {})
    minutes = burn.get("window_minutes", 10)
    head = Table(box=None, padding=(0, 2), show_edge=False)
    for col in ("", "req/s", "tokens/min", "$/h", "errors (4xx+5xx)"):
        head.add_column(col, justify="left" if not col else "right")
    head.add_row(
        f"last {now.get('window_seconds', 10):.0f} s",
        f"[bold]{now.get('requests_per_second', 0):,.2f}[/]",
        f"[bold]{now.get('tokens_per_minute', 0):,.0f}[/]",
        f"[bold]{now.get('dollars_per_hour', 0):,.4f}[/]",
        f"[bold]{now.get('error_rate', 0):.1%}[/]",
    )
    head.add_row(
        f"last {minutes:.0f} min",
        f"{burn.get('requests_per_minute', 0) / 60:,.2f}",
        f"{burn.get('tokens_per_minute', 0):,.0f}",
        f"{burn.get('dollars_per_hour', 0):,.4f}",
        f"{analytics['last_hour']['totals']['error_rate']:.1%} (1 h)",
    )
    waiting = Text.from_markup(f"waiting for a key: [bold]{accounts.get('waiting', 0)}[/]")
    keys = Table(title="Keys")
    for col in ("backend", "key", "status", "headroom", "", "requests", "errors", "exhausted in"):
        keys.add_column(col, justify="right" if col in ("requests", "errors", "exhausted in") else "left")
    for k in accounts.get("keys", []):
        color = {"ok": "green", "cooling": "yellow", "failed": "red"}.get(k["status"], "white")
        minutes = k.get("minutes_to_exhaustion")
        keys.add_row(
            escape(k["backend"]),
            escape(k["alias"]),
            f"[{color}]{k['status']}[/]",
            f"{k['headroom']:.0%}",
            ProgressBar(total=1.0, completed=k["headroom"], width=20),
            str(k["requests"]),
            str(k["errors"]),
            f"{minutes:.0f} min" if minutes else "—",
        )
    by_backend = stats_table("Last hour, by backend", analytics["last_hour"]["by_backend"])
    return Group(head, waiting, keys, by_backend)


def top_frame(proxy: ProxyClient, *, once: bool = False) -> Group | Text:
    """One frame of ``turnout top``; while the proxy is down (restarting, not up yet), a line
    saying so, and the next frame asks again on a new connection."""
    try:
        return dashboard(proxy.get("/analytics?since=3600"), proxy.get("/accounts"))
    except ProxyUnavailable as e:
        if once or "TURNOUT_API_KEY" in str(e):  # a wrong key does not fix itself
            fail(str(e))
        return Text.from_markup(f"[yellow]waiting for turnout at {escape(proxy.url)}[/]: {escape(str(e))}")


def top(
    url: UrlOpt = DEFAULT_URL,
    interval: Annotated[float, typer.Option(help="Seconds between refreshes.")] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Print one frame and exit.")] = False,
) -> None:
    """A live dashboard: headroom per key, req/s, tokens/min, $/h, errors (Ctrl-C quits)."""

    proxy = ProxyClient(url)

    def frame() -> Group | Text:
        return top_frame(proxy, once=once)

    if once:
        out.print(frame())
        return
    with Live(frame(), console=out, refresh_per_second=4, screen=False) as live:
        try:
            while True:
                time.sleep(interval)
                live.update(frame())
        except KeyboardInterrupt:
            pass
        finally:
            proxy.close()

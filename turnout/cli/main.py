"""``turnout``: run the router, manage backends, see what routes where."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.markup import escape

from turnout.cli import backend, ca, inspect, keys, launch, service, stats
from turnout.cli._console import err, fail, out
from turnout.cli._options import ConfigOpt
from turnout.settings import ServerSettings, setup_logging

app = typer.Typer(
    help="turnout: one local URL for every LLM backend, in any dialect.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)


def _version(shown: bool) -> None:
    if shown:
        from turnout import __version__

        out.print(f"turnout {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """turnout: one local URL for every LLM backend, in any dialect."""


@app.command()
def proxy(
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on (0: a free one).")] = 3456,
    host: Annotated[
        str, typer.Option(help="Address to listen on; non-loopback needs TURNOUT_API_KEY.")
    ] = "127.0.0.1",
    config: ConfigOpt = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="One line per request: model → backend, status, latency.")
    ] = False,
    web: Annotated[
        bool, typer.Option("--web", help="Also serve mitmweb's UI to watch every rewritten request.")
    ] = False,
    web_port: Annotated[int, typer.Option(help="Port of the mitmweb UI (with --web).")] = 8081,
    backlog: Annotated[
        int, typer.Option(help="Connections that may wait to be accepted (a burst of clients at once).")
    ] = 4096,
    intercept: Annotated[
        bool,
        typer.Option(
            "--intercept",
            help="Also listen as an HTTPS proxy (HTTPS_PROXY) for tools that cannot change their base "
            "URL: LLM provider hosts are decrypted and routed, every other host is only tunnelled.",
        ),
    ] = False,
    intercept_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the HTTPS proxy (with --intercept; default: intercept.port, 3457).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        str | None,
        typer.Option(
            help="Processes serving the port together, sharing key state: a number, or auto "
            "(one per core, at most 8). Default: auto; 1 with --web.",
            show_default=False,
        ),
    ] = None,
    grace: Annotated[
        float,
        typer.Option(
            help="Seconds requests in flight get to finish on Ctrl-C or SIGTERM (a second: at once)."
        ),
    ] = 30.0,
    discover: Annotated[
        bool,
        typer.Option(
            "--discover/--no-discover",
            help="Probe loopback: find Ollama, LM Studio, llama.cpp, vLLM on their usual ports, and "
            "read local servers' context windows.",
        ),
    ] = True,
) -> None:
    """Run the router (Ctrl-C stops it). Point clients at http://HOST:PORT."""
    from mitmproxy.exceptions import OptionsError

    from turnout.core.errors import ConfigError, TurnoutError
    from turnout.settings import check_bind
    from turnout.workers import parse_workers

    settings = ServerSettings(
        host=host,
        port=port,
        config=config,
        discover=discover,
        web=web,
        web_port=web_port,
        grace=grace,
        backlog=backlog,
    )
    try:
        settings = _with_interception(settings, intercept, intercept_port)
    except TurnoutError as e:
        fail(e.message)
    try:
        check_bind(host, settings.local_key)
        count = 1 if web and workers is None else parse_workers(workers or "auto")
        if web and count > 1:
            raise ConfigError("--web runs one process: leave out --workers, or give --workers 1")
    except TurnoutError as e:
        fail(e.message)
    setup_logging(verbose)
    if count > 1:
        from turnout.workers import exec_supervisor

        exec_supervisor(settings, count, verbose=verbose)  # never returns: it becomes the supervisor

    def started(master: object) -> None:
        ps = master.addons.get("proxyserver")  # type: ignore[attr-defined]
        addrs = ps.listen_addrs() if ps else []
        where = f"http://{host}:{addrs[0][1] if addrs else port}"
        auth = master.addons.get("webauth")  # type: ignore[attr-defined]
        extra = f"; mitmweb UI on {auth.web_url}" if web and auth else ""
        if settings.intercept_port is not None and len(addrs) > 1:
            extra += f"; HTTPS proxy (--intercept) on http://{host}:{addrs[1][1]}"
        backends = [(b.name, b.source) for b in runtime.config.backends.values()]
        _say_listening(where, extra, backends)

    from turnout.core.runtime import Runtime
    from turnout.server import run_proxy

    runtime = Runtime()
    try:
        asyncio.run(run_proxy(settings, runtime, started=started, handle_signals=True))
    except OptionsError as e:
        fail(str(e))
    except TurnoutError as e:
        fail(e.message)
    except OSError as e:  # a listener that failed after all (a port taken in the meantime)
        fail(f"turnout could not start: {e.strerror or e}")
    err.print("turnout stopped.")


def _with_interception(settings: ServerSettings, asked: bool, port: int | None) -> ServerSettings:
    """The HTTPS proxy on when ``--intercept`` or the config's ``intercept.enabled`` says so,
    on ``--intercept-port``, else the config's ``intercept.port``."""
    import dataclasses

    from turnout.core.config import load_user_config

    wanted = load_user_config(settings.config, discover=False).intercept
    if not (asked or wanted.enabled or port is not None):
        return settings
    return dataclasses.replace(settings, intercept_port=port if port is not None else wanted.port)


def _say_listening(where: str, extra: str, backends: list[tuple[str, str]]) -> None:
    found = (
        ", ".join(f"{escape(name)} [dim]({escape(source)})[/]" for name, source in backends)
        or "[yellow]none[/] — set ANTHROPIC_API_KEY / OPENAI_API_KEY or run `turnout backend add`"
    )
    out.print(
        f"turnout listening on [bold]{where}[/]{extra} — backends: {found}", highlight=False, soft_wrap=True
    )


# In --help, in the order a newcomer needs them.
app.command(
    "run",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
    },
)(launch.run)
app.command("env")(launch.env)
app.command("models")(inspect.models)
app.command("status")(inspect.status)
app.command("top")(stats.top)
app.command("stats")(stats.stats)
app.command("doctor")(inspect.doctor)
app.add_typer(backend.app, name="backend")
app.add_typer(keys.app, name="keys")
app.add_typer(service.app, name="service")
app.add_typer(ca.app, name="ca")


def main() -> None:
    app()

"""``turnout service install|uninstall|status``: turnout in the background, like Ollama's.

``turnout proxy`` stays the foreground form; the service runs the same command.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from turnout.cli._console import err, fail, out
from turnout.cli._options import ConfigOpt
from turnout.cli._proxy import ProxyClient, ProxyUnavailable
from turnout.core.service import Service, service_for

app = typer.Typer(
    help="Run turnout in the background: a systemd user unit or a launchd agent.", no_args_is_help=True
)

PortOpt = Annotated[int, typer.Option("--port", "-p", help="Port the service listens on.")]


def _service(port: int = 3456, config: str | None = None, grace: float = 30.0) -> Service:
    from turnout.core.paths import data_dir

    command = [sys.executable, "-m", "turnout", "proxy", "--port", str(port), "--grace", f"{grace:g}"]
    if config:
        command += ["--config", str(Path(config).resolve())]
    xdg = os.environ.get("XDG_CONFIG_HOME")
    try:
        return service_for(
            sys.platform,
            command,
            home=Path.home(),
            config_home=Path(xdg) if xdg else Path.home() / ".config",
            uid=os.getuid() if hasattr(os, "getuid") else 0,
            grace=grace,
            log=data_dir() / "service.log",
        )
    except ValueError as e:
        fail(str(e))


def _run(command: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        fail(f"{command[0]} is not available here; start turnout with `turnout proxy` instead")


@app.command()
def install(
    port: PortOpt = 3456,
    config: ConfigOpt = None,
    grace: Annotated[
        float, typer.Option(help="Seconds requests in flight get when the service stops.")
    ] = 30.0,
) -> None:
    """Write the unit (or agent) and start it now and at every login."""
    from turnout.core.config import load_user_config
    from turnout.core.errors import ConfigError
    from turnout.core.paths import data_dir

    service = _service(port, config, grace)
    data_dir().mkdir(parents=True, exist_ok=True)
    service.path.parent.mkdir(parents=True, exist_ok=True)
    service.path.write_text(service.text)
    for command in service.start:
        result = _run(command)
        if result.returncode != 0:
            service.path.unlink(missing_ok=True)  # half an install is none: nothing is left behind
            why = (result.stderr or result.stdout).strip()[:300]
            fail(
                f"`{' '.join(command)}` failed: {why}; nothing was installed "
                "(`turnout proxy` runs turnout in the foreground)"
            )
    out.print(f"turnout runs in the background on http://127.0.0.1:{port} ({escape(str(service.path))})")
    try:
        from_env = [b.name for b in load_user_config(config).backends.values() if b.source.startswith("env")]
    except ConfigError:
        from_env = []
    if from_env:
        err.print(
            f"[yellow]Note:[/] the service does not see this shell's environment; {', '.join(from_env)} "
            "come from it here. Store their keys with `turnout keys add` (or `turnout backend add`).",
            soft_wrap=True,
        )


@app.command()
def uninstall() -> None:
    """Stop the service and remove its unit (or agent)."""
    service = _service()
    if not service.path.exists():
        fail(f"no turnout service is installed ({service.path} does not exist)")
    for command in service.stop:
        _run(command)  # already stopped or unloaded is fine
    service.path.unlink()
    out.print(f"removed {escape(str(service.path))}; turnout no longer runs in the background")


@app.command()
def status(port: PortOpt = 3456) -> None:
    """Whether the service is installed and running, and whether turnout answers."""
    service = _service(port)
    if not service.path.exists():
        out.print(f"not installed ({escape(str(service.path))}); `turnout service install` sets it up")
        raise typer.Exit(3)
    running = _run(service.status).returncode == 0
    try:
        with ProxyClient(f"http://127.0.0.1:{port}", timeout=2.0) as proxy:
            s = proxy.get("/status")
        answers = f"answering, up {s['uptime_s']:.0f} s, {s['requests']} requests"
    except ProxyUnavailable as e:
        answers = f"not answering ({e})"
    out.print(
        f"installed ({escape(str(service.path))}); {'running' if running else 'not running'}; {answers}"
    )
    raise typer.Exit(0 if running else 3)

"""``turnout run <tool>`` and ``turnout env <tool>``: your tools, already pointed at turnout.

``run`` uses the turnout listening at ``--url`` when there is one, and otherwise starts
one for the duration of the tool (on a free loopback port, with a key made for the run,
its log in turnout's data directory so the tool's screen stays the tool's). The
settings themselves are ``core/launchers.py``'s; ``env`` prints them for a shell.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.markup import escape

from turnout.cli._console import err, fail, out
from turnout.cli._options import DEFAULT_URL, ConfigOpt, UrlOpt
from turnout.cli._proxy import ProxyClient, ProxyUnavailable
from turnout.core.config import load_user_config
from turnout.core.errors import ConfigError
from turnout.core.launchers import KNOWN_TOOLS, Launch, launch_for, shell_lines
from turnout.core.routing import Resolver
from turnout.core.trust import intercept_env, system_bundle, with_proxy_key, write_bundle

__all__ = ["env", "run"]

INSTALL = {
    "claude": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
    "gemini": "npm install -g @google/gemini-cli",
    "aider": "python3 -m pip install aider-install && aider-install",
}
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model the tool asks for (default: its own, or a routable one)."),
]
TOOL_HELP = f"The tool: {', '.join(KNOWN_TOOLS)}, or any command that reads OPENAI_BASE_URL."
InterceptOpt = Annotated[
    bool,
    typer.Option(
        "--intercept",
        help="Through the interception listener (HTTPS_PROXY and turnout's CA) instead of a base URL: "
        "for tools that cannot change theirs.",
    ),
]
InterceptUrlOpt = Annotated[
    str,
    typer.Option(
        "--intercept-url", envvar="TURNOUT_INTERCEPT_URL", help="Where turnout's HTTPS proxy listens."
    ),
]
DEFAULT_INTERCEPT_URL = "http://127.0.0.1:3457"


def _intercepting(proxy_url: str) -> bool:
    """Whether a turnout with --intercept answers at ``proxy_url`` (a provider's model list
    asked for through it, in plain HTTP: turnout answers that itself, nothing leaves)."""
    import httpx

    key = os.environ.get("TURNOUT_API_KEY", "")
    try:
        answer = httpx.get(
            "http://api.openai.com/v1/models",
            proxy=with_proxy_key(proxy_url, key),
            timeout=2.0,
            trust_env=False,
        )
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and "data" in answer.text


def _intercept_launch(tool: str, args: list[str], proxy_url: str, key: str) -> Launch:
    from turnout.cli.ca import ensure_ca

    ca = ensure_ca()
    bundle = write_bundle(ca, ca.parent / "bundle.pem", system_bundle())
    return Launch((tool, *args), intercept_env(proxy_url, ca, bundle, key))


def _running(url: str) -> bool:
    """Whether a turnout answers at ``url`` (and lets this key in)."""
    try:
        with ProxyClient(url, timeout=1.0) as proxy:
            proxy.get("/status")
    except ProxyUnavailable as e:
        if "API key" in str(e) or "refused TURNOUT_API_KEY" in str(e):
            fail(str(e))
        return False
    return True


def _routable(url: str, config: str | None) -> tuple[list[str], Resolver]:
    """The models the running proxy lists (its backends' own lists included), and the
    config's resolver (for names no list holds, and when no proxy runs yet)."""
    listed: list[str] = []
    try:
        with ProxyClient(url, timeout=3.0) as proxy:
            listed = [m["id"] for m in proxy.get("/v1/models").get("data", []) if isinstance(m, dict)]
    except ProxyUnavailable:
        pass
    try:
        return listed, Resolver(load_user_config(config))
    except ConfigError as e:
        fail(e.message)


def _launch(tool: str, args: list[str], url: str, key: str, model: str | None, config: str | None) -> Launch:
    listed, resolver = _routable(url, config)
    names = set(listed)

    def routes(name: str) -> bool:
        return name in names or resolver.decide(name) is not None

    fallback = next(iter(listed), None) or next(iter(resolver.routable_models()), None)
    return launch_for(tool, args, url=url, key=key, routes=routes, fallback=fallback, model=model)


@contextmanager
def _proxy_for_the_run(
    url: str, config: str | None, intercept_url: str | None = None
) -> Iterator[tuple[str, str]]:
    """(url, key) of a turnout: the one at ``url``, else one started until the block ends.
    With ``intercept_url``, the url is its HTTPS proxy's (one started has --intercept)."""
    key = os.environ.get("TURNOUT_API_KEY", "")
    if intercept_url is not None and _intercepting(intercept_url):
        yield intercept_url, key
        return
    if intercept_url is None and _running(url):
        yield url, key or "turnout"
        return
    from turnout.core.paths import data_dir
    from turnout.server import ServerSettings, start_proxy_thread

    key = key or "turnout-run-" + secrets.token_hex(8)  # only this run's tool gets in
    log = data_dir() / "run.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    _log_to(log)
    settings = ServerSettings(
        port=0,
        config=config,
        api_key=key,
        intercept_port=0 if intercept_url is not None else None,
        extra={"termlog_verbosity": "error"},
    )
    try:
        proxy = start_proxy_thread(settings)
    except ConfigError as e:
        fail(e.message)
    err.print(
        f"[dim]turnout: none at {escape(url)}; started one on {proxy.url} for this run (log: {log})[/]",
        highlight=False,
    )
    try:
        yield (proxy.proxy_url if intercept_url is not None else proxy.url), key
    finally:
        proxy.stop()


def _log_to(path: os.PathLike[str]) -> None:
    import logging

    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    turnout = logging.getLogger("turnout")
    turnout.addHandler(handler)
    turnout.propagate = False  # the tool's terminal is the tool's


def run(
    ctx: typer.Context,
    tool: Annotated[str, typer.Argument(help=TOOL_HELP)],
    model: ModelOpt = None,
    url: UrlOpt = DEFAULT_URL,
    config: ConfigOpt = None,
    intercept: InterceptOpt = False,
    intercept_url: InterceptUrlOpt = DEFAULT_INTERCEPT_URL,
) -> None:
    """Run TOOL (and the arguments after it) pointed at turnout, starting turnout for the
    run if none is listening. Example: turnout run claude -p "fix the tests"."""
    executable = shutil.which(tool)
    if executable is None:
        hint = f"; install it: {INSTALL[tool]}" if tool in INSTALL else ""
        fail(f"{tool} is not on your PATH{hint}")
    with _proxy_for_the_run(url, config, intercept_url if intercept else None) as (where, key):
        if intercept:
            launch = _intercept_launch(tool, list(ctx.args), where, key)
        else:
            launch = _launch(tool, list(ctx.args), where, key, model, config)
        for note in launch.notes:
            err.print(f"[dim]turnout: {escape(note)}[/]", highlight=False, soft_wrap=True)
        proc = subprocess.Popen([executable, *launch.argv[1:]], env=launch.environ(os.environ))
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:  # the tool got it too (same terminal): let it decide
                continue
    raise typer.Exit(code)


def env(
    tool: Annotated[str, typer.Argument(help=TOOL_HELP)] = "openai",
    model: ModelOpt = None,
    url: UrlOpt = DEFAULT_URL,
    config: ConfigOpt = None,
    intercept: InterceptOpt = False,
    intercept_url: InterceptUrlOpt = DEFAULT_INTERCEPT_URL,
) -> None:
    """Print the shell settings that point TOOL at turnout: eval "$(turnout env claude)"."""
    if intercept:
        launch = _intercept_launch(tool, [], intercept_url, os.environ.get("TURNOUT_API_KEY", ""))
        if not _intercepting(intercept_url):
            err.print(
                f"[dim]# no turnout HTTPS proxy answers at {escape(intercept_url)} yet: start it with "
                "`turnout proxy --intercept`[/]",
                highlight=False,
            )
        out.print(shell_lines(launch, tool), highlight=False, markup=False, soft_wrap=True)
        return
    key = os.environ.get("TURNOUT_API_KEY") or "turnout"
    launch = _launch(tool, [], url, key, model, config)
    for note in launch.notes:
        err.print(f"[dim]# {escape(note)}[/]", highlight=False, soft_wrap=True)
    if not _running(url):
        err.print(
            f"[dim]# nothing answers at {escape(url)} yet: start it with `turnout proxy`[/]", highlight=False
        )
    out.print(shell_lines(launch, tool), highlight=False, markup=False, soft_wrap=True)

"""Options several commands share, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

DEFAULT_URL = "http://127.0.0.1:3456"

ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        "-c",
        envvar="TURNOUT_CONFIG",
        help="YAML config file (default: ~/.config/turnout/config.yaml; a path given must exist).",
    ),
]
UrlOpt = Annotated[
    str, typer.Option("--url", envvar="TURNOUT_URL", help="Where the running turnout listens.")
]

"""Where turnout keeps its files: the platform's config and data directories."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = [
    "analytics_path",
    "config_dir",
    "credentials_dir",
    "data_dir",
    "default_config_path",
    "user_config_path",
]

APP = "turnout"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/turnout`` (``~/.config/turnout``) on Linux."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def credentials_dir() -> Path:
    return config_dir() / "credentials"


def default_config_path() -> Path:
    return config_dir() / "config.yaml"


def user_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file in effect: ``explicit``, else ``$TURNOUT_CONFIG``, else the user's."""
    if explicit:
        return Path(explicit).expanduser()
    if env := os.environ.get("TURNOUT_CONFIG"):
        return Path(env).expanduser()
    return default_config_path()


def analytics_path(configured: str | None) -> Path:
    """The analytics database: ``analytics.path`` from the config, else in the data dir."""
    return Path(configured).expanduser() if configured else data_dir() / "analytics.sqlite3"

"""The library surface: run turnout inside a Python program, or ask one that runs."""

from __future__ import annotations

import os
from typing import Any

import httpx

from turnout.core.config import load_user_config
from turnout.core.models import Backend
from turnout.server import ProxyHandle, ServerSettings, start_proxy_thread

__all__ = ["get_status", "list_backends", "start_proxy"]


def start_proxy(
    *,
    host: str = "127.0.0.1",
    port: int = 3456,
    config: str | os.PathLike[str] | None = None,
    discover: bool = True,
    api_key: str | None = None,
    web: bool = False,
) -> ProxyHandle:
    """Start turnout in a background thread and return once it listens.

    ``port=0`` picks a free port (read it from ``handle.port`` / ``handle.url``). Stop it
    with ``handle.stop()`` or use the handle as a context manager. Several may run in one
    process, each with its own config, key and options.
    """
    settings = ServerSettings(
        host=host,
        port=port,
        config=str(config) if config else None,
        discover=discover,
        api_key=api_key,
        web=web,
    )
    return start_proxy_thread(settings)


def list_backends(config: str | os.PathLike[str] | None = None, *, discover: bool = True) -> list[Backend]:
    """The backends turnout would use, from the config file, the environment and local servers.

    ``Backend.key`` holds the real key; show it only through ``turnout.mask``.
    """
    return list(load_user_config(config, discover=discover).backends.values())


def get_status(
    url: str = "http://127.0.0.1:3456", *, api_key: str | None = None, timeout: float = 5.0
) -> dict[str, Any]:
    """``GET /status`` from a running turnout; raises ``httpx.HTTPError`` if it is not running."""
    key = api_key if api_key is not None else os.environ.get("TURNOUT_API_KEY")
    headers = {"x-api-key": key} if key else {}
    response = httpx.get(url.rstrip("/") + "/status", headers=headers, timeout=timeout)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result

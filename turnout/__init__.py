"""turnout: a local LLM router on mitmproxy. One URL for every model, in any dialect.

from turnout import start_proxy, list_backends, get_status
"""

from typing import TYPE_CHECKING, Any

from turnout.core.credentials import mask
from turnout.core.errors import (
    BackendTimeout,
    BackendUnreachable,
    BadRequest,
    BodyTooLarge,
    ConfigError,
    KeysExhausted,
    NoRouteError,
    NotFound,
    RequestError,
    TurnoutError,
    Unauthorized,
    UpstreamError,
)
from turnout.core.models import Backend, Config, Decision, Route
from turnout.core.store import StoreError

if TYPE_CHECKING:
    from turnout.api import get_status, list_backends, start_proxy
    from turnout.server import ProxyHandle

__version__ = "0.1.0"

_LAZY = {
    "get_status": "turnout.api",
    "list_backends": "turnout.api",
    "start_proxy": "turnout.api",
    "ProxyHandle": "turnout.server",
}


def __getattr__(name: str) -> Any:
    """What needs mitmproxy is imported when it is first used: the CLI's other commands
    start in a fraction of the proxy's import time."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'turnout' has no attribute {name!r}")


__all__ = [
    "Backend",
    "BackendTimeout",
    "BackendUnreachable",
    "BadRequest",
    "BodyTooLarge",
    "Config",
    "ConfigError",
    "Decision",
    "KeysExhausted",
    "NoRouteError",
    "NotFound",
    "ProxyHandle",
    "RequestError",
    "Route",
    "StoreError",
    "TurnoutError",
    "Unauthorized",
    "UpstreamError",
    "get_status",
    "list_backends",
    "mask",
    "start_proxy",
]

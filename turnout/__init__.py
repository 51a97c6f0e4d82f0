"""turnout: a local LLM router on mitmproxy. One URL for every model, in any dialect.

from turnout import start_proxy, list_backends, get_status
"""

from turnout.api import get_status, list_backends, start_proxy
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
from turnout.server import ProxyHandle

__version__ = "0.1.0"

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

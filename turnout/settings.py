"""How ``turnout proxy`` listens and logs: its settings as mitmproxy options, the checks
made before anything starts, its log lines. Free of mitmproxy (and of the CLI's
typer and rich), so the workers' supervisor stays small and workers carry no CLI."""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from turnout.core.errors import ConfigError
from turnout.core.paths import data_dir

__all__ = [
    "PLACEHOLDER",
    "PLACEHOLDER_UPSTREAM",
    "ServerSettings",
    "bracket",
    "check_bind",
    "check_listen",
    "free_port",
    "setup_logging",
]

PLACEHOLDER = ("127.0.0.1", 9)  # the reverse listener's upstream: never used, every flow is routed
PLACEHOLDER_UPSTREAM = f"http://{PLACEHOLDER[0]}:{PLACEHOLDER[1]}"  # or answered
WEB_COLUMNS = ("tls", "icon", "path", "method", "status", "size", "time")  # mitmweb's default


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 3456
    config: str | None = None
    discover: bool = True
    web: bool = False
    web_port: int = 8081
    confdir: str | None = None
    api_key: str | None = None  # None: $TURNOUT_API_KEY
    grace: float = 30.0  # seconds the requests in flight get when asked to stop
    backlog: int = 4096  # connections that may wait to be accepted
    reuse_port: bool = False  # a worker: others accept on the same port (turnout/workers.py)
    intercept_port: int | None = None  # the interception listener (HTTPS_PROXY), when on
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def local_key(self) -> str:
        """The key clients must send: ``api_key``, else ``$TURNOUT_API_KEY``, else none ("")."""
        return self.api_key if self.api_key is not None else os.environ.get("TURNOUT_API_KEY", "")

    def option_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "mode": [f"reverse:{PLACEHOLDER_UPSTREAM}@{bracket(self.host)}:{self.port}"],
            "connection_strategy": "lazy",
            "keep_host_header": True,  # the client's Host, for the gate; the builder sets the backend's
            "termlog_verbosity": "warn",
            "tcp_timeout": 3600,
            "confdir": self.confdir or str(data_dir() / "certs"),
            "turnout_config": self.config or "",
            "turnout_discover": self.discover,
            "turnout_api_key": self.local_key,  # always set: the gate must never miss it
            "turnout_grace": self.grace,
            "turnout_backlog": self.backlog,
            "turnout_reuse_port": self.reuse_port,
            "turnout_intercept": self.intercept_port is not None,
        }
        if self.intercept_port is not None:  # HTTPS_PROXY=http://host:port, beside the endpoint
            values["mode"].append(f"regular@{bracket(self.host)}:{self.intercept_port}")
        if self.web:
            values.update(
                web_port=self.web_port,
                web_open_browser=False,
                web_host="127.0.0.1",
                web_columns=[*WEB_COLUMNS, "comment"],  # the comment is the route: in the list
            )
        values.update(self.extra)
        return values


def bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse a non-loopback bind without ``TURNOUT_API_KEY``: the keys behind turnout are real."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not api_key:
        raise ConfigError(
            f"refusing to listen on {host}: anyone who can reach it could spend your keys. "
            "Set TURNOUT_API_KEY (clients then send it as their API key), or bind 127.0.0.1."
        )


def free_port(host: str) -> int:
    """A port nothing listens on at ``host`` now (another process could take it before us)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def check_listen(host: str, port: int, *, option: str = "--port") -> None:
    """Fail with one clear sentence now, rather than with mitmproxy's startup error later,
    when ``host:port`` cannot be listened on (0 picks a free port and always works)."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"{option} {port} is not a port number (1-65535, or 0 for a free one)")
    if port == 0:
        return
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise ConfigError(
            f"cannot listen on {host}: {e.strerror}; give an address such as 127.0.0.1"
        ) from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the real listener does
            try:
                probe.bind(address)
            except OSError as e:
                if e.errno == errno.EADDRINUSE:
                    raise ConfigError(
                        f"port {port} on {host} is in use (another turnout?); stop it, or pick another "
                        f"with {option}"
                    ) from None
                raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def setup_logging(verbose: bool) -> None:
    """turnout's own log on stderr, each line saying it is turnout's (mitmproxy's log goes
    there too, unprefixed); with --verbose, one line per request as well."""
    said = logging.StreamHandler()
    said.setFormatter(logging.Formatter("[%(asctime)s] turnout: %(message)s", "%H:%M:%S"))
    turnout = logging.getLogger("turnout")
    turnout.addHandler(said)
    turnout.setLevel(logging.WARNING)
    turnout.propagate = False
    lines = logging.StreamHandler()
    lines.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    requests = logging.getLogger("turnout.requests")
    requests.addHandler(lines)
    requests.setLevel(logging.INFO if verbose else logging.WARNING)
    requests.propagate = False

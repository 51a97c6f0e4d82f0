"""Who may use turnout from where: rules about hosts, origins, content types and loops.

turnout holds every key the user has and listens on loopback, where any web page the
user visits can reach it:

- **CSRF.** A page can POST ``text/plain`` bodies to ``127.0.0.1:3456`` without any
  preflight. So API routes take JSON content types only, and a request from a web page
  (it carries ``Origin``) is refused unless that origin is configured.
- **DNS rebinding.** A page whose name points at 127.0.0.1 can read the answers. So,
  with no ``TURNOUT_API_KEY``, only loopback names (and configured ones) are served.
- **Loops.** Two turnouts pointed at each other would multiply one request until both
  run out of file descriptors. Each turnout adds a ``Via`` hop naming itself and
  refuses a request that already passed through it.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable

__all__ = [
    "LOOPBACK_NAMES",
    "content_type_ok",
    "host_name",
    "is_loopback_host",
    "new_instance",
    "passed_through",
]

LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def new_instance() -> str:
    """This process's name in ``Via`` hops."""
    return "turnout-" + secrets.token_hex(4)


def host_name(host_header: str) -> str:
    """``Host: [::1]:3456`` → ``::1``; ``Host: LocalHost:3456`` → ``localhost``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_host(host: str, extra: Iterable[str] = ()) -> bool:
    if host in LOOPBACK_NAMES or host in extra:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def content_type_ok(value: str | None) -> bool:
    """JSON, or none at all; never a type a web page may send without a preflight."""
    if value is None or not value.strip():
        return True
    kind = value.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def passed_through(via_values: Iterable[str], instance: str) -> bool:
    """Whether a ``Via`` header already names this turnout."""
    return any(instance in value for value in via_values)

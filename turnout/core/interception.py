"""Which hosts the interception listener decrypts, and which it only tunnels.

With ``turnout proxy --intercept`` a second listener takes ``HTTPS_PROXY`` traffic from
tools whose base URL cannot be changed. A CONNECT to an LLM provider's host (the known
providers, every configured backend's host, and ``intercept.hosts``) is decrypted with
turnout's own CA and handled as if it had been sent to the local endpoint; a CONNECT to
any other host is a blind tunnel, never decrypted, so a tool's other traffic (updates,
telemetry, git) passes untouched and unseen. The decision is mitmproxy's ``allow_hosts``
machinery, fed the patterns made here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from turnout.core.models import Config
from turnout.core.providers import KNOWN_PROVIDERS

__all__ = ["allow_patterns", "intercepted_hosts", "provider_hosts"]


def provider_hosts() -> frozenset[str]:
    """The known providers' API hosts (api.openai.com, api.anthropic.com, …)."""
    return frozenset(h for p in KNOWN_PROVIDERS if (h := urlsplit(p.base_url).hostname))


def intercepted_hosts(config: Config) -> frozenset[str]:
    """Every host the listener decrypts: the providers', the backends', the config's own."""
    backends = (urlsplit(b.base_url).hostname for b in config.backends.values())
    listed = (h.strip().lower() for h in config.intercept.hosts)
    return provider_hosts() | {h.lower() for h in backends if h} | {h for h in listed if h}


def allow_patterns(hosts: Iterable[str], always: Iterable[tuple[str, int]] = ()) -> list[str]:
    """``allow_hosts`` patterns: each host on any port, and each of ``always`` (host, port)
    exactly (the reverse listener's placeholder upstream, which must never be tunnelled)."""
    patterns = [rf"^{re.escape(host)}:\d+$" for host in sorted(hosts)]
    return patterns + [rf"^{re.escape(host)}:{port}$" for host, port in always]

"""URLs as they may be shown: with any credentials they carry masked.

A base URL can hold a secret (``https://user:password@host/v1``, ``…?key=…`` for Gemini,
``…?api-key=…`` for some gateways). Everything that shows a URL — ``/status``, error
bodies sent to clients, logs, the CLI's tables — shows ``display_url(url)``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["display_url"]

_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:key|api[-_]?key|token|access[-_]?token|secret|password|sig|signature)=)[^&;#]*"
)


def display_url(url: str) -> str:
    """``url`` with its userinfo and secret-looking query values replaced by ``…``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "…@" + netloc.rsplit("@", 1)[1]
    masked = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return _SECRET_PARAM.sub(r"\1…", masked)

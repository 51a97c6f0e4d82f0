"""What a tool needs to go through the interception listener: the proxy variables, and
turnout's CA where each runtime looks for extra trust.

Node (Claude Code, Codex's and Gemini CLI's Node parts) adds ``NODE_EXTRA_CA_CERTS`` to its
own roots. Python (``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``) and curl (``CURL_CA_BUNDLE``)
replace theirs with the file named, so they get a bundle of the system's CAs and turnout's:
hosts turnout only tunnels must still verify against their real certificates.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = ["intercept_env", "system_bundle", "with_proxy_key", "write_bundle"]

NO_PROXY = "127.0.0.1,localhost,::1"


def system_bundle() -> Path | None:
    """The system's CA bundle (OpenSSL's default file), else certifi's; None if neither."""
    cafile = ssl.get_default_verify_paths().cafile
    if cafile and Path(cafile).is_file():
        return Path(cafile)
    try:
        import certifi
    except ImportError:
        return None
    return Path(certifi.where())


def write_bundle(ca: Path, out: Path, system: Path | None) -> Path:
    """``out``: the system's CAs, then turnout's (rewritten only when it changes)."""
    text = (system.read_text() if system is not None else "").rstrip() + "\n" + ca.read_text()
    if not out.exists() or out.read_text() != text:
        out.write_text(text)
    return out


def with_proxy_key(proxy_url: str, key: str) -> str:
    """``proxy_url`` carrying ``key`` (TURNOUT_API_KEY) as its password, when there is one."""
    if not key:
        return proxy_url
    parts = urlsplit(proxy_url)
    return urlunsplit(parts._replace(netloc=f"turnout:{key}@{parts.netloc}"))


def intercept_env(proxy_url: str, ca: Path, bundle: Path, key: str = "") -> dict[str, str]:
    """The variables for a tool to use turnout's interception listener at ``proxy_url``."""
    proxy_url = with_proxy_key(proxy_url, key)
    return {
        "HTTPS_PROXY": proxy_url,
        "https_proxy": proxy_url,
        "NO_PROXY": NO_PROXY,
        "no_proxy": NO_PROXY,
        "NODE_EXTRA_CA_CERTS": str(ca),
        "SSL_CERT_FILE": str(bundle),
        "REQUESTS_CA_BUNDLE": str(bundle),
        "CURL_CA_BUNDLE": str(bundle),
    }

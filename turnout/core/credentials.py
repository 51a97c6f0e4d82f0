"""Stored backend keys: one file per backend, mode 0600, in a 0700 directory.

A stored key belongs to the backend it was stored for: its name **and** its base URL.
Each file records both (``{"key": …, "base_url": …}``); a key is handed out only for
that URL, so editing a backend's ``base_url`` (or a config that no longer defines it)
never sends the key somewhere else. Files written by turnout 0.1 hold the bare key and
no URL; they are still used for the config backend of that name, never for anything
detected from the environment.

Keys stored here never leave this module except to the config loader, which gives them
to the backend they belong to. Everything that shows a key shows ``mask(key)``.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from turnout.core.errors import ConfigError
from turnout.core.headers import Fields
from turnout.core.models import DEFAULT_ALIAS, NAME

__all__ = ["CredentialStore", "StoredKey", "check_secret", "mask", "masked_fields"]

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def mask(key: str | None) -> str:
    """``sk-…abcd``: enough to tell keys apart, never enough to use one."""
    if not key:
        return "—"
    if len(key) <= 8:
        return "…" + "•" * 4
    return f"{key[:3]}…{key[-4:]}"


def masked_fields(fields: Fields, secret: frozenset[bytes]) -> Fields:
    """``fields`` as they may be shown (mitmweb, a saved flow, an export): each header named
    in ``secret`` (lowercase) holds its value masked; an ``Authorization`` keeps its scheme."""
    shown = []
    for name, value in fields:
        if name.lower() in secret:
            scheme, space, token = value.partition(b" ")
            if space and scheme.lower() in (b"bearer", b"basic", b"token"):
                value = scheme + b" " + mask(token.decode("latin-1")).encode()
            else:
                value = mask(value.decode("latin-1")).encode()
        shown.append((name, value))
    return tuple(shown)


def check_secret(value: str, what: str) -> str:
    """``value`` if it can go into an HTTP header; a CR or LF would inject headers upstream.

    The error names ``what``, never the value."""
    if _CONTROL.search(value):
        raise ConfigError(f"{what} contains a control character (a line break?); paste it again on one line")
    return value


@dataclass(frozen=True)
class StoredKey:
    key: str = field(repr=False)
    base_url: str | None  # the URL it was stored for; None: stored by turnout 0.1


class CredentialStore:
    def __init__(self, directory: Path, what: str = "backend name") -> None:
        self.directory = directory
        self.what = what  # what its names are, for errors: backend names, or a pool's aliases

    def _path(self, name: str) -> Path:
        if not NAME.match(name):
            raise ConfigError(f"invalid {self.what} {name!r}: use letters, digits, '-', '_' or '.'")
        return self.directory / name

    def get(self, name: str) -> StoredKey | None:
        try:
            text = self._path(name).read_text().strip()
        except FileNotFoundError:
            return None
        if text.startswith("{"):
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError:
                data = None
            if isinstance(data, dict) and isinstance(data.get("key"), str):
                url = data.get("base_url")
                return StoredKey(data["key"], url if isinstance(url, str) else None) if data["key"] else None
        return StoredKey(text, None) if text else None

    def key_for(self, name: str, base_url: str) -> str | None:
        """The key stored for backend ``name`` at ``base_url``, or None."""
        stored = self.get(name)
        if stored is None:
            return None
        if stored.base_url is not None and stored.base_url != base_url.rstrip("/"):
            logger.warning(
                "the key stored for %s belongs to %s, not %s: not used (store it again with "
                "`turnout backend add` or `turnout keys add`)",
                name,
                stored.base_url,
                base_url,
            )
            return None
        return stored.key

    def set(self, name: str, key: str, *, base_url: str) -> Path:
        key = check_secret(key.strip(), f"the key for {name}")
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        path = self._path(name)
        tmp = path.with_name(f".{name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps({"key": key, "base_url": base_url.rstrip("/")}) + b"\n")
        os.chmod(tmp, 0o600)
        tmp.replace(path)  # whole or not at all
        return path

    def remove(self, name: str) -> bool:
        try:
            self._path(name).unlink()
            return True
        except FileNotFoundError:
            return False

    def _pool_dir(self, backend: str) -> Path:
        self._path(backend)  # validates the name
        return self.directory / "keys" / backend

    def _pool(self, backend: str) -> CredentialStore:
        return CredentialStore(self._pool_dir(backend), "alias")

    def set_pool_key(self, backend: str, alias: str, key: str, *, base_url: str) -> Path:
        """A pool member of ``backend`` (``turnout keys add``), bound to its base URL."""
        return self._pool(backend).set(alias, key, base_url=base_url)

    def remove_pool_key(self, backend: str, alias: str) -> Path | None:
        """Where the removed key was stored, or None. ``default`` is also the backend's own
        key (the one ``turnout backend add --key`` stored), as ``turnout keys list`` shows."""
        pool = self._pool(backend)
        if pool.remove(alias):
            return pool._path(alias)
        if alias == DEFAULT_ALIAS and self.remove(backend):
            return self._path(backend)
        return None

    def pool(self, backend: str, base_url: str) -> list[tuple[str, str]]:
        """(alias, key) of every pool member stored for ``backend`` at ``base_url``."""
        sub = self._pool(backend)
        return [(alias, key) for alias in sub.names() if (key := sub.key_for(alias, base_url))]

    def pool_aliases(self, backend: str) -> list[str]:
        """Every stored pool member of ``backend``, whatever its URL (for removal)."""
        return self._pool(backend).names()

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if p.is_file() and not p.name.startswith("."))

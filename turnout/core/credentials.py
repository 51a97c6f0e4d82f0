"""Stored backend keys: one file per backend, mode 0600, in a 0700 directory.

Keys stored here never leave this module except to the credentials addon, which puts
them on the outgoing request. Everything that shows a key shows ``mask(key)``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from turnout.core.errors import ConfigError

__all__ = ["CredentialStore", "mask"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def mask(key: str | None) -> str:
    """``sk-…abcd``: enough to tell keys apart, never enough to use one."""
    if not key:
        return "—"
    if len(key) <= 8:
        return "…" + "•" * 4
    return f"{key[:3]}…{key[-4:]}"


class CredentialStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ConfigError(f"invalid backend name {name!r}: use letters, digits, '-', '_' or '.'")
        return self.directory / name

    def get(self, name: str) -> str | None:
        try:
            return self._path(name).read_text().strip() or None
        except FileNotFoundError:
            return None

    def set(self, name: str, key: str) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        path = self._path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key.strip() + "\n")
        os.chmod(path, 0o600)
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

    def set_pool_key(self, backend: str, alias: str, key: str) -> Path:
        """A pool member of ``backend`` (``turnout keys add``)."""
        return CredentialStore(self._pool_dir(backend)).set(alias, key)

    def remove_pool_key(self, backend: str, alias: str) -> bool:
        return CredentialStore(self._pool_dir(backend)).remove(alias)

    def pool(self, backend: str) -> list[tuple[str, str]]:
        """(alias, key) of every stored pool member of ``backend``."""
        sub = CredentialStore(self._pool_dir(backend))
        return [(alias, key) for alias in sub.names() if (key := sub.get(alias))]

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if p.is_file())

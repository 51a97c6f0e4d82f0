from __future__ import annotations

import stat
from pathlib import Path

import pytest

from turnout.core.credentials import CredentialStore, mask
from turnout.core.errors import ConfigError


def test_files_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "creds")
    path = store.set("groq", "gsk-secret-value\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "creds").stat().st_mode) == 0o700
    assert store.get("groq") == "gsk-secret-value"
    assert store.names() == ["groq"]
    assert store.remove("groq") and not store.remove("groq")
    assert store.get("groq") is None


def test_names_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid backend name"):
        CredentialStore(tmp_path).set("../escape", "k")
    assert CredentialStore(tmp_path / "none").names() == []


@pytest.mark.parametrize(
    ("key", "masked"), [(None, "—"), ("", "—"), ("short", "…••••"), ("sk-ant-api03-abcdefgh1234", "sk-…1234")]
)
def test_mask(key: str | None, masked: str) -> None:
    assert mask(key) == masked

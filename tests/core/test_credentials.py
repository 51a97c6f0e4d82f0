from __future__ import annotations

import stat
from pathlib import Path

import pytest

from turnout.core.credentials import CredentialStore, StoredKey, mask, masked_fields
from turnout.core.errors import ConfigError


def test_files_are_0600_in_a_0700_directory(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "creds")
    path = store.set("groq", "gsk-secret-value\n", base_url="https://api.groq.com/openai/v1/")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "creds").stat().st_mode) == 0o700
    assert store.get("groq") == StoredKey("gsk-secret-value", "https://api.groq.com/openai/v1")
    assert store.key_for("groq", "https://api.groq.com/openai/v1") == "gsk-secret-value"
    assert store.key_for("groq", "https://evil.example/v1") is None
    assert store.names() == ["groq"]
    assert store.remove("groq") and not store.remove("groq")
    assert store.get("groq") is None


def test_names_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid backend name"):
        CredentialStore(tmp_path).set("../escape", "k", base_url="http://h")
    assert CredentialStore(tmp_path / "none").names() == []


@pytest.mark.parametrize(
    ("key", "masked"), [(None, "—"), ("", "—"), ("short", "…••••"), ("sk-ant-api03-abcdefgh1234", "sk-…1234")]
)
def test_mask(key: str | None, masked: str) -> None:
    assert mask(key) == masked


@pytest.mark.parametrize("key", ["sk-a\r\nx-injected: 1", "sk-a\nb", "sk\x00"])
def test_keys_with_control_characters_are_refused_without_echoing_them(tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        CredentialStore(tmp_path).set("groq", key, base_url="http://h")
    assert "control character" in e.value.message and key.strip() not in e.value.message
    assert not (tmp_path / "groq").exists()


def test_masked_fields_mask_only_the_named_headers_and_keep_the_scheme() -> None:
    fields = (
        (b"Authorization", b"Bearer sk-proj-abcdefgh1234"),
        (b"x-api-key", b"sk-ant-zzzzzzzz9876"),
        (b"x-title", b"short"),
        (b"content-type", b"application/json"),
    )
    shown = masked_fields(fields, frozenset({b"authorization", b"x-api-key", b"x-title"}))
    assert shown == (
        (b"Authorization", "Bearer sk-…1234".encode()),
        (b"x-api-key", "sk-…9876".encode()),
        (b"x-title", "…••••".encode()),
        (b"content-type", b"application/json"),
    )
    assert masked_fields(fields, frozenset()) == fields

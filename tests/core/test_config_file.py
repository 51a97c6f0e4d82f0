"""Reading and editing the config file: comments kept, validated first, written whole."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from turnout.core.config_file import edit_config_file, put_backend, read_config_file, remove_backend
from turnout.core.errors import ConfigError

TEXT = """\
# top comment
backends:
  a:  # first
    kind: openai
  b: {kind: anthropic}   # flow
routes: []
"""


def _keep(raw: dict) -> None:
    return None


def test_put_and_remove_keep_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(TEXT)
    edit_config_file(path, lambda doc: put_backend(doc, "c", {"kind": "openai", "models": ["m"]}), _keep)
    text = path.read_text()
    assert text.startswith(TEXT.split("routes")[0].rstrip("\n")) and "routes: []" in text
    assert read_config_file(path)["backends"]["c"] == {"kind": "openai", "models": ["m"]}
    edit_config_file(path, lambda doc: remove_backend(doc, "c"), _keep)
    assert path.read_text() == TEXT


@pytest.mark.parametrize("text", [TEXT, "backends:\n  # only one\n  a: {kind: openai}\n", ""])
def test_removing_every_backend_leaves_valid_yaml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    for name in ("a", "b"):
        edit_config_file(path, lambda doc, n=name: remove_backend(doc, n), _keep)
    assert (yaml.safe_load(path.read_text()) or {}).get("backends", {}) in ({}, None)


def test_a_failed_validation_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(TEXT)

    def refuse(raw: dict) -> None:
        assert "zzz" in raw["backends"]  # the validator sees the edited document
        raise ConfigError("no")

    with pytest.raises(ConfigError, match="no"):
        edit_config_file(path, lambda doc: put_backend(doc, "zzz", {}), refuse)
    assert path.read_text() == TEXT and sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_a_new_file_is_created_and_odd_files_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.yaml"
    edit_config_file(path, lambda doc: put_backend(doc, "a", {"kind": "openai"}), _keep)
    assert read_config_file(path) == {"backends": {"a": {"kind": "openai"}}}
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        edit_config_file(listing, lambda doc: None, _keep)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot"):
        read_config_file(binary)
    with pytest.raises(ConfigError, match="cannot edit"):
        edit_config_file(binary, lambda doc: None, _keep)

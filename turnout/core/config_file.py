"""The config file on disk: read it, and edit it the way a careful person would.

Reading gives the plain mapping (PyYAML's safe loader). Editing (``turnout backend
add/remove``) goes through ruamel.yaml's round-trip mode, so the user's comments, key
order and quoting survive; the edited text is validated as a whole config *before*
anything is written, and written atomically (a temporary file renamed over the old one),
so a bad value never leaves a file that breaks every later command.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError as RoundTripError

from turnout.core.errors import ConfigError

__all__ = ["edit_config_file", "parse_config_text", "put_backend", "read_config_file", "remove_backend"]


def parse_config_text(text: str, where: str) -> dict[str, Any]:
    """The mapping in ``text``; ``{}`` for an empty document."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{where}: not valid YAML{at}: {getattr(e, 'problem', e)}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the top level must be a mapping (backends:, routes:, …)")
    return data


def read_config_file(path: Path) -> dict[str, Any]:
    """The raw mapping in ``path``; ``{}`` when the file does not exist."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise ConfigError(f"{path}: cannot read: {reason}") from e
    return parse_config_text(text, str(path))


def _round_trip() -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 4096  # never re-wrap the user's long lines
    return rt


def edit_config_file(
    path: Path,
    change: Callable[[CommentedMap], None],
    validate: Callable[[dict[str, Any]], object],
) -> None:
    """Apply ``change`` to the document in ``path``, check the result with ``validate``
    (which raises ``ConfigError``), then replace the file in one step."""
    rt = _round_trip()
    try:
        text = path.read_text() if path.exists() else ""
        doc = rt.load(text) if text.strip() else None
    except (OSError, UnicodeDecodeError, RoundTripError) as e:
        raise ConfigError(f"{path}: cannot edit: {e}") from e
    if doc is None:
        doc = CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise ConfigError(f"{path}: the top level must be a mapping (backends:, routes:, …)")
    change(doc)
    out = io.StringIO()
    rt.dump(doc, out)
    new_text = out.getvalue()
    validate(parse_config_text(new_text, str(path)))
    _write_atomically(path, new_text)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _backends(doc: CommentedMap) -> CommentedMap:
    backends = doc.get("backends")
    if not isinstance(backends, CommentedMap):
        backends = doc["backends"] = CommentedMap()
    return backends


def put_backend(doc: CommentedMap, name: str, spec: dict[str, Any]) -> None:
    """Add backend ``name`` at the end, or replace its entry where it stands."""
    _backends(doc)[name] = spec


def remove_backend(doc: CommentedMap, name: str) -> bool:
    """Remove backend ``name`` whatever it is called (even a name the config rejects)."""
    backends = doc.get("backends")
    if isinstance(backends, CommentedMap) and name in backends:
        del backends[name]
        if not backends:  # ruamel would write the emptied map's comments as invalid YAML
            empty = CommentedMap()
            empty.fa.set_flow_style()
            doc["backends"] = empty
        return True
    return False

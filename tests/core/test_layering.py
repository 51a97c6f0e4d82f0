"""turnout.core imports nothing from mitmproxy (or from the addons, CLI or server above it)."""

from __future__ import annotations

import ast
import pathlib

import turnout.core

FORBIDDEN = ("mitmproxy", "turnout.addons", "turnout.cli", "turnout.server", "turnout.api")


def imported_modules(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_imports_point_one_way() -> None:
    files = list(pathlib.Path(turnout.core.__file__).parent.rglob("*.py"))
    assert len(files) > 10
    for path in files:
        for name in imported_modules(path):
            assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"

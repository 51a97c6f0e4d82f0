"""Every YAML example a user may copy (README.md, config/*.yaml) loads and validates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from turnout.core.config import build_config
from turnout.core.config_file import parse_config_text
from turnout.core.models import Backend

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.M | re.S)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
CONFIG_KEYS = {"backends", "routes", "aliases", "limits", "autodetect", "pool", "analytics", "prices"}


def _examples() -> list[tuple[str, str]]:
    found = [
        (f"README.md block {i + 1}", m.group(1))
        for i, m in enumerate(_BLOCK.finditer((ROOT / "README.md").read_text()))
    ]
    found += [(str(p.relative_to(ROOT)), p.read_text()) for p in sorted((ROOT / "config").glob("*.y*ml"))]
    return found


def test_there_are_examples() -> None:
    assert len([n for n, _ in _examples() if n.startswith("README")]) >= 2


@pytest.mark.parametrize(("name", "text"), _examples(), ids=[n for n, _ in _examples()])
def test_every_yaml_example_loads_and_validates(name: str, text: str) -> None:
    data = parse_config_text(text, name)  # raises on YAML errors
    assert yaml.safe_load(text) == data
    if not set(data) <= CONFIG_KEYS or "backends" not in data:
        return  # not a turnout config (the price table)
    # The variables the example refers to are set, and so are the providers it routes to:
    # an example may rely on the environment (ANTHROPIC_API_KEY) and on local servers.
    env = {var: f"value-of-{var}" for var in _ENV_REF.findall(text)}
    env.update(ANTHROPIC_API_KEY="sk-ant-x", OPENROUTER_API_KEY="sk-or-x", GROQ_API_KEY="gsk-x")
    ollama = Backend("ollama", "openai-compat", "http://127.0.0.1:11434/v1", models=("llama3.3",))
    build_config(data, where=name, env=env, discover=lambda: [ollama])

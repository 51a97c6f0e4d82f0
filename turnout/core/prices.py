"""Estimated cost of a request: a price table per model glob, dollars per million tokens.

The default table ships as ``config/prices.yaml`` (inside the package as well); the
user's ``prices:`` entries come first. Unknown models cost None, not zero.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

__all__ = ["PriceTable", "Usage"]


@dataclass(frozen=True)
class Usage:
    """Tokens of one request; ``input`` is the uncached part, as Anthropic counts it."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


def _default_table() -> dict[str, dict[str, float]]:
    here = Path(__file__).resolve().parents[2] / "config" / "prices.yaml"
    text = (
        here.read_text() if here.exists() else resources.files("turnout").joinpath("prices.yaml").read_text()
    )
    return yaml.safe_load(text) or {}


class PriceTable:
    def __init__(self, overrides: tuple[tuple[str, dict[str, float]], ...] = ()) -> None:
        entries = [*overrides, *_default_table().items()]
        self._entries = [(re.compile(fnmatch.translate(glob)), prices) for glob, prices in entries]
        self._cache: dict[str, dict[str, float] | None] = {}

    def prices(self, model: str) -> dict[str, float] | None:
        if model not in self._cache:
            if len(self._cache) >= 4096:  # model names come from clients: bounded
                self._cache.clear()
            self._cache[model] = next((p for pattern, p in self._entries if pattern.match(model)), None)
        return self._cache[model]

    def cost(self, model: str, usage: Usage) -> float | None:
        p = self.prices(model)
        if p is None:
            return None
        base = p.get("input", 0.0)
        total = (
            usage.input * base
            + usage.output * p.get("output", 0.0)
            + usage.cache_read * p.get("cache_read", base * 0.1)
            + usage.cache_write * p.get("cache_write", base * 1.25)
        )
        return round(total / 1_000_000, 8)

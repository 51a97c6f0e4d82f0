"""The one reader every config value goes through.

Numbers are finite and in the range their dataclass field declares (``models.Range``), so
``timeout: .nan`` or ``port 99999`` is an error, not a disabled check or a crashed file
watcher; secrets (keys, header values) may hold no control characters (a CR/LF would
inject headers upstream) and are never echoed in an error; URLs are checked whole and
shown with any credentials masked; ``${VAR}`` is expanded from the environment. Every
error names the file and the key path.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from turnout.core.credentials import check_secret
from turnout.core.errors import ConfigError
from turnout.core.models import BASE_URL, Range
from turnout.core.urls import display_url

__all__ = ["Reader", "kind_of"]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_QUIRK_CHOICES: dict[str, tuple[object, ...]] = {
    "max_tokens_param": ("max_tokens", "max_completion_tokens"),
    "reasoning_field": ("reasoning_content", "reasoning", None),
    "reasoning_effort": (True, False, None),
    "responses_api": (True, False, None),
    "sampling": (True, False, None),
}


def kind_of(value: Any) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


class Reader:
    """Reads raw YAML values, each checked; errors name the file and the key path."""

    def __init__(self, where: str, env: Mapping[str, str]) -> None:
        self.where, self.env = where, env

    def error(self, path: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}: {path}: {problem}")

    def expect(self, value: Any, kind: type | tuple[type, ...], path: str, what: str) -> Any:
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            shown = repr(value) if isinstance(value, (int, float, bool, type(None))) else kind_of(value)
            raise self.error(path, f"must be {what} (got {shown[:80]})")
        return value

    def mapping(self, value: Any, path: str, what: str = "a mapping") -> dict[Any, Any]:
        result: dict[Any, Any] = self.expect(value if value is not None else {}, dict, path, what)
        return result

    def only(self, raw: Mapping[Any, Any], allowed: tuple[str, ...], path: str) -> None:
        unknown = sorted(str(k) for k in raw if k not in allowed)
        if unknown:
            where = f"{path}.{unknown[0]}" if path else unknown[0]
            raise self.error(where, f"unknown key (expected {', '.join(sorted(allowed))})")

    def text(self, value: Any, path: str, what: str) -> str:
        """A plain string, ``${VAR}`` expanded (echoed in errors: not a secret)."""
        return self._expand(self.expect(value, str, path, what), path)

    def secret(self, value: Any, path: str) -> str:
        """A key or header value: a string with no control characters, never echoed."""
        if not isinstance(value, str) or isinstance(value, bool):
            raise self.error(path, f"must be a string (got {kind_of(value)})")
        text = self._expand(value, path)
        try:
            return check_secret(text, "the value")
        except ConfigError as e:
            raise self.error(path, e.message) from None

    def url(self, value: Any, path: str) -> str:
        url = self.text(value, path, "a URL").rstrip("/")
        shown = display_url(url)
        if not BASE_URL.match(url) or any(ord(c) < 0x21 for c in url):
            raise self.error(path, f"must be an http:// or https:// URL (got {shown!r})")
        try:
            urlsplit(url).port  # noqa: B018 - raises on a port out of range
        except ValueError as e:
            raise self.error(path, f"{e} in {shown!r}") from None
        return url

    def number(self, value: Any, path: str, limits: Range) -> float:
        self.expect(value, (int, float), path, limits.describe())
        bad = not math.isfinite(value) or value > limits.hi
        bad = bad or (value <= limits.lo if limits.above else value < limits.lo)
        if bad or (limits.integer and not isinstance(value, int)):
            raise self.error(path, f"must be {limits.describe()} (got {value!r})")
        return float(value)

    def settings[T](self, cls: type[T], raw: Any, path: str) -> T:
        """A settings dataclass from a mapping, each value checked against its field."""
        raw = self.mapping(raw, path)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        self.only(raw, tuple(fields), path)
        values: dict[str, Any] = {}
        for key, value in raw.items():
            field, where = fields[key], f"{path}.{key}"
            limits = field.metadata.get("range")
            if key in _QUIRK_CHOICES:
                if value not in _QUIRK_CHOICES[key] or isinstance(value, float):
                    choices = ", ".join(str(c).replace("None", "null").lower() for c in _QUIRK_CHOICES[key])
                    raise self.error(where, f"must be one of {choices} (got {value!r})")
                values[key] = value
            elif limits is not None:
                if value is None and field.default is None:
                    values[key] = None
                    continue
                number = self.number(value, where, limits)
                values[key] = int(number) if limits.integer else number
            elif isinstance(field.default, bool):
                values[key] = self.expect(value, bool, where, "true or false")
            elif isinstance(field.default, tuple):
                items = self.expect(value if value is not None else [], list, where, "a list")
                values[key] = tuple(self.text(v, f"{where}[{i}]", "a string") for i, v in enumerate(items))
            else:
                values[key] = None if value is None else self.text(value, where, "a string")
        return dataclasses.replace(cls(), **values)  # type: ignore[type-var]

    def _expand(self, value: str, path: str) -> str:
        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in self.env:
                raise self.error(path, f"environment variable {m.group(1)} is not set")
            return self.env[m.group(1)]

        return _ENV_REF.sub(sub, value)

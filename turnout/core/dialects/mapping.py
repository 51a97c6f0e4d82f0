"""Small vocabularies every dialect shares: token counts, effort levels, tool arguments."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "as_mapping",
    "budget_for_effort",
    "count",
    "effort_for_budget",
    "tool_input",
]


def count(value: Any) -> int:
    """A token count as an upstream wrote it, or 0 when it is not one (a string, a negative,
    NaN, ``true``): bookkeeping never fails a request."""
    if type(value) is int:  # the usual case, first (bool is not int here)
        return value if 0 <= value < 10**12 else 0
    if type(value) is float and 0 <= value < 10**12:  # NaN fails the comparison
        return int(value)
    return 0


def as_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768, "max": 63999}


def effort_for_budget(budget: int) -> str:
    """A thinking budget bucketed into an OpenAI reasoning effort (a heuristic)."""
    if budget < 2048:
        return "low" if budget >= 1024 else "minimal"
    if budget < 16384:
        return "medium"
    return "high"


def budget_for_effort(effort: str) -> int | None:
    """``None`` for efforts that mean no thinking (``none``)."""
    return _BUDGETS.get(effort)


def tool_input(arguments: Any) -> dict[str, Any]:
    """Tool-call arguments (a JSON string, or already an object) as Anthropic's ``input``.

    ``""`` is ``{}``; unparseable text is kept as ``{"raw": …}`` rather than lost; a JSON
    value that is not an object is wrapped as ``{"value": …}``.
    """
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"raw": arguments}
    return parsed if isinstance(parsed, dict) else {"value": parsed}

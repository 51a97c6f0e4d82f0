"""Small vocabularies both directions share: stop reasons, usage, effort levels."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "anthropic_stop_reason",
    "anthropic_usage",
    "as_mapping",
    "budget_for_effort",
    "count",
    "effort_for_budget",
    "openai_finish_reason",
    "openai_usage",
    "tool_input",
]

_TO_OPENAI = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}
_TO_ANTHROPIC = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def openai_finish_reason(stop_reason: str | None) -> str:
    return _TO_OPENAI.get(stop_reason or "end_turn", "stop")


def anthropic_stop_reason(finish_reason: str | None, *, tool_calls: bool) -> str:
    """Tool calls always win: Gemini, Ollama and others finish tool turns with ``stop``."""
    if tool_calls:
        return "tool_use"
    return _TO_ANTHROPIC.get(finish_reason or "stop", "end_turn")


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


def anthropic_usage(usage: Any) -> dict[str, int]:
    """OpenAI usage → Anthropic's. OpenAI's prompt count includes cached tokens; Anthropic's
    ``input_tokens`` is only the uncached part."""
    usage = as_mapping(usage)
    prompt = count(usage.get("prompt_tokens"))
    details = as_mapping(usage.get("prompt_tokens_details"))
    cached = count(details.get("cached_tokens"))
    written = count(details.get("cache_write_tokens"))
    return {
        "input_tokens": max(prompt - cached - written, 0),
        "output_tokens": count(usage.get("completion_tokens")),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": written,
    }


def openai_usage(usage: Any, *, reasoning_tokens: int = 0) -> dict[str, Any]:
    """Anthropic usage → OpenAI's; prompt tokens = uncached + cache reads + cache writes."""
    usage = as_mapping(usage)
    cached = count(usage.get("cache_read_input_tokens"))
    written = count(usage.get("cache_creation_input_tokens"))
    prompt = count(usage.get("input_tokens")) + cached + written
    completion = count(usage.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
    }


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

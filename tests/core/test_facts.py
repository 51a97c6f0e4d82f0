"""What a request is, read for when: rules, in every client API."""

from __future__ import annotations

from typing import Any

import pytest

from turnout.core.facts import facts_of
from turnout.core.models import Facts

HINTS = ((b"x-claude-code-request-class", b"subagent"), (b"x-claude-code-agent-type", b"Explore"))


@pytest.mark.parametrize(
    ("endpoint", "body", "thinking", "tools"),
    [
        (
            "messages",
            {"thinking": {"type": "enabled", "budget_tokens": 2048}, "tools": [{"name": "x"}]},
            True,
            True,
        ),
        ("messages", {"thinking": {"type": "disabled"}, "tools": []}, False, False),
        ("chat", {"reasoning_effort": "low"}, True, False),
        ("chat", {"reasoning_effort": "none"}, False, False),
        ("responses", {"reasoning": {"effort": "medium"}, "tools": [{"type": "custom"}]}, True, True),
        ("gemini_stream", {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}, False, False),
        ("gemini", {"generation_config": {"thinking_config": {"thinking_level": "HIGH"}}}, True, False),
        ("gemini", {"generationConfig": "odd"}, False, False),
    ],
)
def test_facts_in_every_api(endpoint: str, body: dict[str, Any], thinking: bool, tools: bool) -> None:
    facts = facts_of(endpoint, HINTS, body, 400_000)
    assert facts == Facts(
        api=endpoint.split("_")[0], request_class="subagent", agent_type="Explore", tokens=100_000,
        thinking=thinking, tools=tools,
    )  # fmt: skip


def test_no_hints_and_odd_values() -> None:
    facts = facts_of("chat", ((b"x-claude-code-request-class", b"x" * 500),), {"tools": "all"}, 3)
    assert facts.request_class == "x" * 64 and facts.tools is False and facts.tokens == 0

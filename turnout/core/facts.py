"""What a request is, besides its model name, for ``when:`` rules: the client's API,
Claude Code's hint headers (sent with ``CLAUDE_CODE_GATEWAY_HINT_HEADERS=1``), the
prompt's estimated size, whether thinking was asked for, whether tools are offered.

Read from the parsed body and raw headers only, in a few lookups: no prompt tags, nothing
a client did not say. The size is the body's (chars/4), the same order as the prompt's
and free to compute; a rule like ``tokens_over: 60000`` needs no better."""

from __future__ import annotations

from typing import Any

from turnout.core.endpoints import API_OF_ENDPOINT
from turnout.core.headers import Fields, header_value
from turnout.core.models import Facts

__all__ = ["facts_of"]


def _thinking(api: str, body: dict[str, Any]) -> bool:
    if api == "messages":
        thinking = body.get("thinking")
        return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
    if api == "chat":
        return body.get("reasoning_effort") not in (None, "none")
    if api == "responses":
        reasoning = body.get("reasoning")
        return isinstance(reasoning, dict) and reasoning.get("effort") not in (None, "none")
    config = body.get("generationConfig") or body.get("generation_config")
    if not isinstance(config, dict):
        return False
    thinking = config.get("thinkingConfig") or config.get("thinking_config")
    return isinstance(thinking, dict) and thinking.get("thinkingBudget", thinking.get("thinking_budget")) != 0


def facts_of(endpoint: str, fields: Fields, body: dict[str, Any], size: int) -> Facts:
    api = API_OF_ENDPOINT.get(endpoint, "")
    request_class = header_value(fields, b"x-claude-code-request-class") or b""
    agent_type = header_value(fields, b"x-claude-code-agent-type") or b""
    tools = body.get("tools")
    return Facts(
        api=api,
        request_class=request_class.decode("latin-1")[:64],
        agent_type=agent_type.decode("latin-1")[:64],
        tokens=size // 4,
        thinking=_thinking(api, body),
        tools=isinstance(tools, list) and bool(tools),
    )

"""Token counts turnout answers itself, for backends that cannot count in the client's dialect.

Anthropic's ``/v1/messages/count_tokens`` and Gemini's ``:countTokens`` reach a backend of
their own dialect; for any other backend the prompt is estimated (chars/4, as
``core/tokens.py``), after the same checks a translated request gets, and the answer says
so in ``x-turnout-estimate``.
"""

from __future__ import annotations

from typing import Any

from turnout.core.dialects.validate import check_request
from turnout.core.hub.gemini_request import read_request as read_gemini
from turnout.core.models import Dialect
from turnout.core.tokens import estimate_input_tokens

__all__ = ["counted_here"]


def counted_here(endpoint: str, backend: Dialect, body: dict[str, Any]) -> dict[str, int] | None:
    """A token count turnout answers itself, for a backend that cannot count in the client's
    dialect (checked first, as a translated request is); None: the backend counts."""
    if endpoint == "count_tokens" and backend != "anthropic":
        check_request(body, "anthropic")
        return {"input_tokens": estimate_input_tokens(body)}
    if endpoint == "gemini_count" and backend != "gemini":
        inner = body.get("generateContentRequest")
        request = inner if isinstance(inner, dict) else body
        return {"totalTokens": read_gemini(request).prompt_tokens()}
    return None

"""What a backend can take: ``max_tokens`` fitted to its window, ``reasoning_effort`` only
where it is known to be taken. What is capped or not sent is noted in ``adjusted`` (the
flow's comment and the log say it once per backend)."""

from __future__ import annotations

import re
from collections.abc import Callable

from turnout.core.models import Quirks

__all__ = ["MIN_ROOM", "fit_max_tokens", "takes_reasoning_effort"]

# Models known to take reasoning_effort (low/medium/high); others reject it, or take only
# their own values (Groq's qwen3: none/default). A backend's quirk overrides this.
_REASONING_MODELS = re.compile(r"(^|[/:])(o\d|gpt-5|gpt-oss)", re.I)
MIN_ROOM = 64  # output tokens left when the prompt nearly fills the context window


def fit_max_tokens(
    asked: int, prompt: Callable[[], int], quirks: Quirks, window: int | None, adjusted: dict[str, str]
) -> int:
    """``asked``, capped by the backend's limit and by its context window minus the prompt
    (``prompt`` estimates it, asked only when the window is known)."""
    out = min(asked, quirks.max_tokens_cap) if quirks.max_tokens_cap else asked
    window = quirks.context_window or window
    if window:
        tokens = prompt()
        room = max(window - tokens, MIN_ROOM)
        if room < out:
            out = room
            adjusted["max_tokens"] = f"{asked:,} → {out:,} (context {window:,}, prompt ~{tokens:,})"
    if out < asked and "max_tokens" not in adjusted:
        adjusted["max_tokens"] = f"{asked:,} → {out:,} (quirks.max_tokens_cap)"
    return out


def takes_reasoning_effort(model: str, quirks: Quirks, adjusted: dict[str, str]) -> bool:
    """The backend's quirk says, else whether ``model`` is known to take ``reasoning_effort``;
    a refusal is noted in ``adjusted``."""
    takes = quirks.reasoning_effort
    if takes is None:
        takes = bool(_REASONING_MODELS.search(model))
    if not takes:
        adjusted["reasoning_effort"] = (
            f"not sent: {model} is not known to take it (quirks.reasoning_effort: true sends it)"
        )
    return takes

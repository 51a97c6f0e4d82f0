"""An answer in the hub, whole or as the events of a stream.

Readers of a backend's stream turn its bytes into these events; a writer turns them into
the client's stream. A writer opens and closes its own blocks: consecutive text deltas
are one text block, a ``ToolStarted`` opens a tool block, any other kind closes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from turnout.core.hub.conversation import Reasoning, Text, ToolCall
from turnout.core.prices import Usage

__all__ = [
    "Answer",
    "Event",
    "Failed",
    "Finished",
    "ReasoningDelta",
    "ReasoningSealed",
    "Started",
    "Stop",
    "TextDelta",
    "ToolDelta",
    "ToolStarted",
    "Usage",
]

Stop = Literal["end", "length", "tool", "refusal", "stop_sequence"]


@dataclass(slots=True)
class Answer:
    id: str | None
    parts: list[Text | Reasoning | ToolCall]
    stop: Stop = "end"
    usage: Usage | None = None


@dataclass(slots=True)
class Started:
    id: str | None = None


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ReasoningDelta:
    text: str


@dataclass(slots=True)
class ReasoningSealed:
    """The opaque end of a reasoning block (a signature, an encrypted blob), for its origin."""

    reasoning: Reasoning = field(default_factory=Reasoning)


@dataclass(slots=True)
class ToolStarted:
    key: object  # the reader's handle for this call (an index), for its deltas
    id: str
    name: str


@dataclass(slots=True)
class ToolDelta:
    key: object
    text: str


@dataclass(slots=True)
class Finished:
    stop: Stop
    usage: Usage | None  # None: the backend reported none


@dataclass(slots=True)
class Failed:
    message: str
    code: str = "server_error"  # context_length_exceeded, rate_limit_exceeded, insufficient_quota, …
    kind: str | None = None  # the backend's own name for the error (overloaded_error), when it gave one


Event = Started | TextDelta | ReasoningDelta | ReasoningSealed | ToolStarted | ToolDelta | Finished | Failed

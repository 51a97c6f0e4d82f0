"""A request in the hub: what was said, what the model may call, and how to answer.

Plain slotted dataclasses, built by a dialect's reader and consumed by a writer. A reader
never keeps what no writer could send on; what it drops it names in ``Request.dropped``
(shown in the flow's comment and the log), so a lossy trip is visible, never silent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "DATA_URL",
    "File",
    "Image",
    "Origin",
    "Part",
    "Reasoning",
    "Request",
    "Text",
    "Tool",
    "ToolCall",
    "ToolChoice",
    "ToolResult",
    "Turn",
    "data_url",
]

Origin = Literal["anthropic", "openai", "gemini"]
DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.S)  # inline bytes


def data_url(media: str, data: str) -> str:
    """Inline bytes as the hub keeps them (``Image.url``, ``File.data_url``)."""
    return f"data:{media};base64,{data}"  # who issued an opaque value, and alone may read it back


@dataclass(slots=True)
class Text:
    text: str
    cache: dict[str, Any] | None = None  # Anthropic's cache_control, for backends that take it


@dataclass(slots=True)
class Image:
    url: str  # an http(s) URL or a data: URL


@dataclass(slots=True)
class File:
    """A document sent whole (a PDF): a data: URL, and a name for it."""

    data_url: str
    filename: str = "document.pdf"


@dataclass(slots=True)
class Reasoning:
    """A model's reasoning. ``text`` is readable by anyone; ``signature`` (Anthropic's
    thinking signature) and ``encrypted`` (OpenAI's encrypted reasoning, Anthropic's
    redacted thinking) are opaque and go back only to ``origin``."""

    text: str = ""
    origin: Origin | None = None
    signature: str | None = None
    encrypted: str | None = None
    id: str | None = None


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text for a function; the raw input for a custom (freeform) tool
    custom: bool = False
    namespace: str | None = None


@dataclass(slots=True)
class ToolResult:
    call_id: str
    content: list[Text | Image]
    is_error: bool = False


Part = Text | Image | File | Reasoning | ToolCall | ToolResult


@dataclass(slots=True)
class Turn:
    role: Literal["user", "assistant"]
    parts: list[Part]


@dataclass(slots=True)
class Tool:
    """A tool the model may call. A custom (freeform) tool takes one string; ``grammar``
    describes it (Codex's ``apply_patch`` Lark grammar) for models that cannot enforce it."""

    name: str
    description: str = ""
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    custom: bool = False
    grammar: str | None = None
    namespace: str | None = None


@dataclass(slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "tool"]
    name: str | None = None


@dataclass(slots=True)
class Request:
    system: list[Text] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tools: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    effort: str | None = None  # none, minimal, low, medium, high, xhigh
    json_schema: dict[str, Any] | None = None  # {"name", "schema", "strict"}
    stream: bool = False
    user: str | None = None
    dropped: dict[str, str] = field(default_factory=dict)  # what the reader could not carry, and why
    prompt_estimate: Callable[[], int] | None = None  # the reader's own estimate of the prompt's tokens

    def prompt_tokens(self) -> int:
        """The prompt's tokens, estimated (chars/4, as ``core/tokens.py``)."""
        if self.prompt_estimate is not None:
            return self.prompt_estimate()
        return math.ceil(self.text_size() / 4)

    def text_size(self) -> int:
        """Characters of prompt."""
        size = sum(len(s.text) for s in self.system)
        for turn in self.turns:
            for part in turn.parts:
                if isinstance(part, Text):
                    size += len(part.text)
                elif isinstance(part, ToolCall):
                    size += len(part.arguments) + len(part.name)
                elif isinstance(part, ToolResult):
                    size += sum(len(c.text) for c in part.content if isinstance(c, Text))
                elif isinstance(part, Reasoning):
                    size += len(part.text)
        for tool in self.tools:
            size += len(tool.name) + len(tool.description) + len(str(tool.schema))
        return size

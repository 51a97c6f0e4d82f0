"""What the response side of a translation needs to know about its request."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from turnout.core.dialects.ids import new_nonce
from turnout.core.models import Dialect

__all__ = ["Context"]


@dataclass
class Context:
    client: Dialect  # the dialect the client speaks, and gets answers in
    backend: Dialect
    model: str  # the model name the client asked for, echoed back to it
    stream: bool = False
    include_usage: bool = False  # an OpenAI client asked for the final usage chunk
    tool_names: dict[str, str] = field(default_factory=dict)  # name sent upstream → client's name
    created: int = field(default_factory=lambda: int(time.time()))  # OpenAI's `created`, fixed per request
    nonce: str = field(default_factory=new_nonce)  # makes this response's ids unique (see ids.py)
    adjusted: dict[str, str] = field(default_factory=dict)  # what the request lost or had capped, and why
    api: str = ""  # the client's API when its dialect has several: "responses"
    backend_api: str = ""  # the backend's, likewise
    memory: Any = field(default=None, repr=False, compare=False)  # a ResponseMemory to keep the answer in
    kept_input: list[dict[str, Any]] | None = None  # the input items kept with it
    custom_tools: list[str] = field(default_factory=list)  # client tools that take raw text (freeform)
    namespaces: dict[str, list[str]] = field(default_factory=dict)  # flat name → [namespace, name]

    @property
    def label(self) -> str:
        """What is translated into what, for the flow's comment and the analytics row."""
        return f"{self.api or self.client} → {self.backend_api or self.backend}"

    def client_tool_name(self, name: str) -> str:
        return self.tool_names.get(name, name)

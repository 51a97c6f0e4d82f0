"""What a local model server can serve: its models and their context windows.

Claude Code asks for 32,000 to 128,000 output tokens; a llama.cpp server started with
``-c 4096`` fails such a request or generates for minutes. Local servers say how much
context they have, each in its own way, and turnout reads it:

- llama.cpp: ``GET /props`` → ``default_generation_settings.n_ctx`` (per slot);
- vLLM (and others that extend the OpenAI list): ``max_model_len`` (or
  ``context_length``, ``max_context_length``) on each ``GET /v1/models`` entry;
- Ollama: ``POST /api/show`` → ``num_ctx`` in ``parameters`` when the model sets it,
  else ``model_info["<arch>.context_length"]``.

Blocking calls (httpx, short timeouts): run them in a thread. Every failure is "not
known", never an exception, because a probe must never stop the proxy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["ServerFacts", "probe_server", "window_of"]

_NUM_CTX = re.compile(r"^\s*num_ctx\s+(\d+)\s*$", re.M)
_LIST_WINDOW_KEYS = ("max_model_len", "context_length", "max_context_length", "context_window")
MAX_SHOWN = 32  # Ollama models asked about per probe


@dataclass(frozen=True)
class ServerFacts:
    """What one probe learned. ``window`` is server-wide (llama.cpp serves one model)."""

    models: tuple[str, ...] = ()
    windows: Mapping[str, int] = field(default_factory=dict)
    window: int | None = None

    def window_for(self, model: str) -> int | None:
        return self.windows.get(model) or self.window


def window_of(facts: ServerFacts | None, model: str) -> int | None:
    return facts.window_for(model) if facts is not None else None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _get_json(client: httpx.Client, url: str, **kwargs: Any) -> Any:
    try:
        response = client.request(kwargs.pop("method", "GET"), url, **kwargs)
        if response.status_code != 200:
            return None
        return response.json()
    except (httpx.HTTPError, ValueError):
        return None


def probe_server(base_url: str, *, key: str | None = None, timeout: float = 2.0) -> ServerFacts:
    """Models and context windows of the OpenAI-compatible server at ``base_url``."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    headers = {"authorization": f"Bearer {key}"} if key else {}
    models: list[str] = []
    windows: dict[str, int] = {}
    with httpx.Client(timeout=timeout, headers=headers) as client:
        listing = _get_json(client, base_url.rstrip("/") + "/models")
        for entry in (listing or {}).get("data", []) if isinstance(listing, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                models.append(entry["id"])
                for name in _LIST_WINDOW_KEYS:
                    if window := _positive(entry.get(name)):
                        windows[entry["id"]] = window
                        break
        props = _get_json(client, origin + "/props")
        settings = props.get("default_generation_settings") if isinstance(props, dict) else None
        server_window = _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None
        if server_window is None and models and not windows:
            windows.update(_ollama_windows(client, origin, models[:MAX_SHOWN]))
    return ServerFacts(tuple(models), windows, server_window)


def _ollama_windows(client: httpx.Client, origin: str, models: list[str]) -> dict[str, int]:
    windows: dict[str, int] = {}
    for model in models:
        shown = _get_json(client, origin + "/api/show", method="POST", json={"model": model})
        if not isinstance(shown, dict):
            return windows  # not Ollama (or not answering): stop asking
        params = shown.get("parameters")
        if isinstance(params, str) and (m := _NUM_CTX.search(params)):
            windows[model] = int(m.group(1))
            continue
        info = shown.get("model_info")
        if isinstance(info, dict):
            found = [_positive(v) for k, v in info.items() if k.endswith(".context_length")]
            if found and found[0]:
                windows[model] = found[0]
    return windows

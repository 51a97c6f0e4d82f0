"""What each backend says it serves: its own model list, read the way its API offers it.

- OpenAI and OpenAI-compatible servers (vLLM, LM Studio, llama.cpp, Groq, OpenRouter…):
  ``GET {base_url}/models`` → ``data[].id``;
- Anthropic: ``GET /v1/models`` (``x-api-key``, ``anthropic-version``), paged by
  ``has_more``/``last_id``;
- Gemini: ``GET /v1beta/models`` (``x-goog-api-key``), paged by ``nextPageToken``, only
  the models that can ``generateContent``;
- Ollama: ``GET /api/tags`` → ``models[].name``, when ``/v1/models`` is not there.

Blocking (httpx, short timeouts): the proxy runs these in a thread. A failure is a
``ListingError`` whose message names the backend's URL without credentials, never the key.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from turnout.core.models import Backend
from turnout.core.routing import upstream_url
from turnout.core.urls import display_url

__all__ = ["ListingError", "openai_model_ids", "read_model_list"]

MAX_PAGES = 10  # Anthropic's and Gemini's lists are paged; a few pages cover every provider
MAX_MODELS = 5000  # a list longer than this is cut (OpenRouter lists ~400)


class ListingError(Exception):
    """The backend's model list could not be read; the message says why, without secrets."""


def openai_model_ids(listing: Any) -> list[str]:
    """``data[].id`` of an OpenAI-style list (also what Anthropic's list holds)."""
    data = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(data, list):
        raise ValueError("not a model list")
    return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)][:MAX_MODELS]


def read_model_list(backend: Backend, *, timeout: float = 5.0) -> tuple[str, ...]:
    """Every model ``backend`` lists, in its order; raises ``ListingError``."""
    where = display_url(backend.base_url)
    try:
        with httpx.Client(timeout=timeout, headers=dict(backend.headers), follow_redirects=False) as client:
            if backend.kind == "anthropic":
                return tuple(_anthropic(client, backend))
            if backend.kind == "gemini":
                return tuple(_gemini(client, backend))
            return tuple(_openai(client, backend))
    except httpx.HTTPStatusError as e:
        raise ListingError(f"{where} answered its model list with HTTP {e.response.status_code}") from None
    except httpx.HTTPError as e:
        raise ListingError(f"{where} did not answer for its model list ({type(e).__name__})") from None
    except (ValueError, KeyError, TypeError):
        raise ListingError(f"{where} sent a model list turnout cannot read") from None


def _openai(client: httpx.Client, backend: Backend) -> list[str]:
    headers = {"authorization": f"Bearer {backend.key}"} if backend.key else {}
    response = client.get(f"{backend.base_url.rstrip('/')}/models", headers=headers)
    if response.status_code == 404:  # an Ollama too old for /v1/models has its own list
        parts = urlsplit(backend.base_url)
        tags = client.get(f"{parts.scheme}://{parts.netloc}/api/tags")
        if tags.status_code == 200 and isinstance(models := tags.json().get("models"), list):
            names = [m.get("name") for m in models if isinstance(m, dict)]
            return [n for n in names if isinstance(n, str)][:MAX_MODELS]
    response.raise_for_status()
    return openai_model_ids(response.json())


def _anthropic(client: httpx.Client, backend: Backend) -> list[str]:
    from turnout.core.upstream import ANTHROPIC_VERSION  # (upstream.py imports every dialect)

    headers = {"anthropic-version": ANTHROPIC_VERSION.decode()}
    if backend.key:
        headers["x-api-key"] = backend.key
    url, found, after = upstream_url(backend, "/v1/models"), [], None
    for _ in range(MAX_PAGES):
        params = {"limit": "1000", **({"after_id": after} if after else {})}
        response = client.get(url, headers=headers, params=params)
        response.raise_for_status()
        page = response.json()
        found += openai_model_ids(page)
        after = page.get("last_id")
        if not page.get("has_more") or not after or len(found) >= MAX_MODELS:
            break
    return found[:MAX_MODELS]


def _gemini(client: httpx.Client, backend: Backend) -> list[str]:
    headers = {"x-goog-api-key": backend.key} if backend.key else {}
    parts = urlsplit(backend.base_url)
    url = f"{parts.scheme}://{parts.netloc}/v1beta/models"
    found: list[str] = []
    token = None
    for _ in range(MAX_PAGES):
        params = {"pageSize": "1000", **({"pageToken": token} if token else {})}
        response = client.get(url, headers=headers, params=params)
        response.raise_for_status()
        page = response.json()
        for m in page.get("models", []):
            methods = m.get("supportedGenerationMethods") or ["generateContent"]
            if isinstance(m.get("name"), str) and "generateContent" in methods:
                found.append(m["name"].removeprefix("models/"))
        token = page.get("nextPageToken")
        if not token or len(found) >= MAX_MODELS:
            break
    return found[:MAX_MODELS]

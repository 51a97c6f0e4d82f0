"""What each backend says it serves: its own model list, read the way its API offers it.

- OpenAI and OpenAI-compatible servers (vLLM, LM Studio, llama.cpp, Groq, OpenRouter…):
  ``GET {base_url}/models`` → ``data[].id``;
- Anthropic: ``GET /v1/models`` (``x-api-key``, ``anthropic-version``), paged by
  ``has_more``/``last_id``;
- Gemini: ``GET /v1beta/models`` (``x-goog-api-key``), paged by ``nextPageToken``, only
  the models that can ``generateContent``;
- Ollama: ``GET /api/tags`` → ``models[].name``, when ``/v1/models`` is not there.

Blocking (httpx, short timeouts): the proxy runs these in a thread. Whatever a server
sends, a read is bounded: ``MAX_BYTES`` a page, ``timeout`` seconds in all, a JSON object
or a ``ListingError`` whose message names the backend's URL without credentials, never
the key.
"""

from __future__ import annotations

import time
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
import orjson

from turnout.core.models import Backend
from turnout.core.routing import upstream_url
from turnout.core.urls import display_url

__all__ = ["ListingError", "openai_model_ids", "read_model_list"]

MAX_PAGES = 10  # Anthropic's and Gemini's lists are paged; a few pages cover every provider
MAX_MODELS = 5000  # a list longer than this is cut (OpenRouter lists ~400)
MAX_BYTES = 16 * 1024 * 1024  # a page larger than this is not a model list


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
    headers = {**dict(backend.headers), "accept-encoding": "identity"}  # no decompression bomb
    try:
        with httpx.Client(timeout=timeout, headers=headers, follow_redirects=False) as client:
            pages = _Pages(client, time.monotonic() + timeout)
            if backend.kind == "anthropic":
                return tuple(_anthropic(pages, backend))
            if backend.kind == "gemini":
                return tuple(_gemini(pages, backend))
            return tuple(_openai(pages, backend))
    except httpx.HTTPStatusError as e:
        raise ListingError(f"{where} answered its model list with HTTP {e.response.status_code}") from None
    except httpx.HTTPError as e:
        raise ListingError(f"{where} did not answer for its model list ({type(e).__name__})") from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ListingError(f"{where} sent a model list turnout cannot read") from None


class _Pages:
    """GETs of JSON objects, each at most ``MAX_BYTES``, all of them before ``deadline``."""

    def __init__(self, client: httpx.Client, deadline: float) -> None:
        self.client, self.deadline = client, deadline

    def get(self, url: str, **kwargs: Any) -> dict[str, Any]:
        """The object at ``url``; raises httpx's errors for a status other than 200 and for a
        drip past the deadline, and ValueError for the rest."""
        return cast(dict[str, Any], self._fetch(url, missing_ok=False, **kwargs))

    def unless_missing(self, url: str, **kwargs: Any) -> dict[str, Any] | None:
        """As ``get``, but None for a 404."""
        return self._fetch(url, missing_ok=True, **kwargs)

    def _fetch(self, url: str, *, missing_ok: bool, **kwargs: Any) -> dict[str, Any] | None:
        with self.client.stream("GET", url, **kwargs) as response:
            if missing_ok and response.status_code == 404:
                return None
            response.raise_for_status()
            body = bytearray()
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise ValueError("a model list page over MAX_BYTES")
                if time.monotonic() > self.deadline:
                    raise httpx.ReadTimeout("the model list took too long", request=response.request)
        page = orjson.loads(body)
        if not isinstance(page, dict):
            raise ValueError("not a JSON object")
        return page


def _openai(pages: _Pages, backend: Backend) -> list[str]:
    headers = {"authorization": f"Bearer {backend.key}"} if backend.key else {}
    url = f"{backend.base_url.rstrip('/')}/models"
    listing = pages.unless_missing(url, headers=headers)
    if listing is None:  # an Ollama too old for /v1/models has its own list
        parts = urlsplit(backend.base_url)
        tags = pages.get(f"{parts.scheme}://{parts.netloc}/api/tags")  # a 404 here says the first
        if not isinstance(models := tags.get("models"), list):
            raise ValueError("not a model list")
        names = [m.get("name") for m in models if isinstance(m, dict)]
        return [n for n in names if isinstance(n, str)][:MAX_MODELS]
    return openai_model_ids(listing)


def _anthropic(pages: _Pages, backend: Backend) -> list[str]:
    from turnout.core.upstream import ANTHROPIC_VERSION  # (upstream.py imports every dialect)

    headers = {"anthropic-version": ANTHROPIC_VERSION.decode()}
    if backend.key:
        headers["x-api-key"] = backend.key
    url, found, after = upstream_url(backend, "/v1/models"), [], None
    for _ in range(MAX_PAGES):
        params = {"limit": "1000", **({"after_id": after} if after else {})}
        page = pages.get(url, headers=headers, params=params)
        found += openai_model_ids(page)
        after = page.get("last_id")
        if not page.get("has_more") or not after or len(found) >= MAX_MODELS:
            break
    return found[:MAX_MODELS]


def _gemini(pages: _Pages, backend: Backend) -> list[str]:
    headers = {"x-goog-api-key": backend.key} if backend.key else {}
    parts = urlsplit(backend.base_url)
    url = f"{parts.scheme}://{parts.netloc}/v1beta/models"
    found: list[str] = []
    token = None
    for _ in range(MAX_PAGES):
        params = {"pageSize": "1000", **({"pageToken": token} if token else {})}
        page = pages.get(url, headers=headers, params=params)
        for m in page.get("models", []):
            methods = m.get("supportedGenerationMethods") or ["generateContent"]
            if isinstance(m.get("name"), str) and "generateContent" in methods:
                found.append(m["name"].removeprefix("models/"))
        token = page.get("nextPageToken")
        if not token or len(found) >= MAX_MODELS:
            break
    return found[:MAX_MODELS]

"""Talking to a running turnout from the CLI: one client, the key always sent.

Every command that asks a running proxy (``status``, ``top``, ``keys list``) goes
through ``ProxyClient``: it sends ``TURNOUT_API_KEY`` when set, and turns each way of
failing into one sentence that says what to do.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

__all__ = ["ProxyClient", "ProxyUnavailable"]


class ProxyUnavailable(Exception):
    """The proxy could not be asked; the message says why and what to do."""


class ProxyClient:
    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        key = api_key if api_key is not None else os.environ.get("TURNOUT_API_KEY")
        self._client = httpx.Client(
            timeout=timeout,
            headers={"x-api-key": key, "user-agent": "turnout-cli"} if key else {"user-agent": "turnout-cli"},
        )

    def get(self, path: str) -> dict[str, Any]:
        """``GET path`` as a JSON object; raises ``ProxyUnavailable``."""
        try:
            response = self._client.get(self.url + path)
        except httpx.HTTPError as e:
            raise ProxyUnavailable(
                f"turnout is not running at {self.url} ({type(e).__name__}); start it with `turnout proxy`"
            ) from None
        if response.status_code == 401:
            raise ProxyUnavailable(
                f"turnout at {self.url} requires its API key: set TURNOUT_API_KEY to the proxy's key"
                if "TURNOUT_API_KEY" not in os.environ
                else f"turnout at {self.url} refused TURNOUT_API_KEY: it is not the proxy's key"
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code != 200 or not isinstance(data, dict):
            raise ProxyUnavailable(
                f"{self.url}{path} answered HTTP {response.status_code}; "
                "is a turnout listening there (`turnout status --url …`)?"
            )
        return data

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ProxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Find OpenAI-compatible servers already running on their usual loopback ports.

Probed once at start, all at once, with a short timeout, so a machine with nothing
running pays well under a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import httpx

from turnout.core.listing import openai_model_ids
from turnout.core.models import Backend
from turnout.core.providers import LOCAL_SERVERS, LocalServer, default_quirks

__all__ = ["list_models", "probe_local_servers"]


def list_models(base_url: str, *, key: str | None = None, timeout: float = 2.0) -> list[str]:
    """The model ids an OpenAI-style server lists at ``/models``; raises httpx errors."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(f"{base_url.rstrip('/')}/models", headers=headers, timeout=timeout)
    response.raise_for_status()
    return openai_model_ids(response.json())


def _probe(server: LocalServer, host: str, timeout: float) -> Backend | None:
    base_url = f"http://{host}:{server.port}/v1"
    try:
        models = list_models(base_url, timeout=timeout)
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return Backend(
        name=server.name,
        kind="openai-compat",
        base_url=base_url,
        models=tuple(models),
        source=f"local :{server.port}",
        quirks=default_quirks(server.name, "openai-compat", base_url),
    )


def probe_local_servers(
    servers: Iterable[LocalServer] = LOCAL_SERVERS, *, host: str = "127.0.0.1", timeout: float = 0.4
) -> list[Backend]:
    servers = list(servers)
    if not servers:
        return []
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        found = pool.map(lambda s: _probe(s, host, timeout), servers)
        return [b for b in found if b is not None]

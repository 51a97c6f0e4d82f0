"""What turnout can route, shaped for each dialect: ``/v1/models`` and ``/status``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from turnout.core.credentials import mask
from turnout.core.models import Config, Dialect
from turnout.core.probe import ServerFacts
from turnout.core.routing import Resolver
from turnout.core.runtime import Runtime
from turnout.core.shared import Totals
from turnout.core.urls import display_url

__all__ = ["accounts_payload", "models_payload", "status_payload"]

_EPOCH_RFC3339 = "1970-01-01T00:00:00Z"


def models_payload(dialect: Dialect, owners: Mapping[str, str]) -> dict[str, Any]:
    """The model list in the caller's shape (Anthropic's paginated one, Gemini's, or
    OpenAI's), each model with the backend it goes to (``owned_by``, the description, or
    the display name)."""
    if dialect == "gemini":
        methods = ["generateContent", "streamGenerateContent", "countTokens"]
        return {
            "models": [
                {
                    "name": f"models/{m}",
                    "displayName": m,
                    "description": f"via turnout: {b}",
                    "supportedGenerationMethods": methods,
                }
                for m, b in owners.items()
            ]
        }
    if dialect == "anthropic":
        data = [
            {"type": "model", "id": m, "display_name": f"{m} ({b})", "created_at": _EPOCH_RFC3339}
            for m, b in owners.items()
        ]
        return {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        }
    return {
        "object": "list",
        "data": [{"id": m, "object": "model", "created": 0, "owned_by": b} for m, b in owners.items()],
    }


def status_payload(
    config: Config,
    resolver: Resolver,
    *,
    started: float,
    requests: int,
    facts: Mapping[str, ServerFacts] | None = None,
    totals: Totals | None = None,
) -> dict[str, Any]:
    """Backends, models, masked keys, uptime and request count (every worker's, with
    ``totals``); never a secret."""
    facts = facts or {}
    return {
        "status": "ok",
        "config": config.source,
        "uptime_s": round(time.time() - started, 1),
        "requests": totals.requests if totals is not None else requests,
        **({"workers": totals.processes, "in_flight": totals.in_flight} if totals is not None else {}),
        "backends": [
            {
                "name": b.name,
                "kind": b.kind,
                "base_url": display_url(b.base_url),
                "source": b.source,
                "key": mask(b.key),
                "key_set": bool(b.key),
                "models": list(b.models),
                "context_window": b.quirks.context_window or _learned(facts.get(b.name)),
            }
            for b in config.backends.values()
        ],
        "routes": [{"match": r.describe(), "backend": r.backend, "model": r.model} for r in config.routes],
        "aliases": config.aliases,
        "models": resolver.routable_models(),
    }


def _learned(facts: ServerFacts | None) -> int | dict[str, int] | None:
    """What a local server said of its context: one window, or one per model."""
    if facts is None:
        return None
    return facts.window or dict(facts.windows) or None


def accounts_payload(runtime: Runtime, now: float) -> dict[str, Any]:
    """The live pool: every key's status and headroom, governors, the wait queue."""
    totals = runtime.board.totals() if runtime.board is not None else None
    return {
        "keys": runtime.pool.snapshot(now) if runtime.pool else [],
        "governors": {
            name: {
                "in_flight": g.in_flight,
                "max_concurrent": g.max_concurrent,
                "min_interval_s": g.min_interval,
            }
            for name, g in runtime.governors.items()
            if g.active
        },
        "waiting": totals.waiting if totals is not None else runtime.waiting,  # every worker's
    }

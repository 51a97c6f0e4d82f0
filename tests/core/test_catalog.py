from __future__ import annotations

import json

from turnout.core.catalog import models_payload, status_payload
from turnout.core.models import Backend, Config
from turnout.core.routing import Resolver


def test_models_payload_shapes() -> None:
    a = models_payload("anthropic", {"x": "groq", "y": "local"})
    assert a["first_id"] == "x" and a["last_id"] == "y" and a["has_more"] is False
    assert a["data"][0] == {
        "type": "model",
        "id": "x",
        "display_name": "x (groq)",
        "created_at": "1970-01-01T00:00:00Z",
    }
    assert models_payload("anthropic", {})["first_id"] is None
    o = models_payload("openai", {"x": "groq"})
    assert o == {
        "object": "list",
        "data": [{"id": "x", "object": "model", "created": 0, "owned_by": "groq"}],
    }
    g = models_payload("gemini", {"x": "groq"})
    assert g["models"][0]["name"] == "models/x" and g["models"][0]["description"] == "via turnout: groq"


def test_status_masks_keys() -> None:
    cfg = Config({"g": Backend("g", "openai-compat", "http://h/v1", "gsk-very-secret-9876", models=("m",))})
    s = status_payload(cfg, Resolver(cfg), started=0.0, requests=3)
    assert "gsk-very-secret-9876" not in json.dumps(s)
    assert s["backends"][0]["key"] == "gsk…9876" and s["backends"][0]["key_set"] is True
    assert s["requests"] == 3 and s["models"] == ["m"]

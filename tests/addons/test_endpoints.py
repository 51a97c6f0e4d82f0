from __future__ import annotations

import orjson
from mitmproxy.test import taddons

from tests.addons.helpers import flow, runtime
from turnout.addons.endpoints import Endpoints


def answer(path: str, method: str = "GET", headers: dict[str, str] | None = None):
    addon = Endpoints(runtime())
    f = flow(path, method=method, headers=headers)
    with taddons.context(addon):
        addon.request(f)
    return f


def test_health_status_models() -> None:
    assert orjson.loads(answer("/health").response.content) == {"status": "ok"}
    status = orjson.loads(answer("/status").response.content)
    assert [b["name"] for b in status["backends"]] == ["anth", "oai", "local"]
    assert "sk-ant-secret-1111" not in str(status)
    openai_shape = orjson.loads(answer("/v1/models").response.content)
    assert openai_shape["object"] == "list" and "llama3:8b" in [m["id"] for m in openai_shape["data"]]
    anthropic_shape = orjson.loads(
        answer("/v1/models?limit=5", headers={"anthropic-version": "x"}).response.content
    )
    assert anthropic_shape["data"][0]["type"] == "model"


def test_other_requests_fall_through() -> None:
    assert answer("/v1/messages", method="POST").response is None
    assert answer("/nowhere").response is None

"""Flows and a runtime for addon unit tests (no sockets)."""

from __future__ import annotations

import orjson
from mitmproxy import http
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import tflow

from turnout.addons._flows import Exchanges
from turnout.core.endpoints import classify
from turnout.core.exchange import Exchange
from turnout.core.models import Backend, Config, Decision
from turnout.core.providers import DEFAULT_ALIASES, default_quirks
from turnout.core.runtime import Runtime

ANTH = Backend("anth", "anthropic", "https://api.anthropic.com", "sk-ant-secret-1111")
OAI = Backend(
    "oai",
    "openai",
    "https://api.openai.com/v1",
    "sk-oai-secret-2222",
    headers=(("x-extra", "1"),),
    quirks=default_quirks("oai", "openai", "https://api.openai.com/v1"),
)
LOCAL = Backend("local", "openai-compat", "http://127.0.0.1:11434/v1", None, models=("llama3:8b",), timeout=2)


def runtime(**limits: int) -> Runtime:
    rt = Runtime()
    rt.install(Config({b.name: b for b in (ANTH, OAI, LOCAL)}, aliases=dict(DEFAULT_ALIASES)))
    return rt


REVERSE = ProxyMode.parse("reverse:http://127.0.0.1:9@127.0.0.1:3456")


def flow(
    path: str, body: object = None, *, method: str = "POST", headers: dict[str, str] | None = None
) -> http.HTTPFlow:
    f = tflow.tflow()
    f.client_conn.proxy_mode = REVERSE  # as turnout's endpoint gets them (tflow's default: a proxy's)
    f.request.method = method
    f.request.host, f.request.port, f.request.scheme = "127.0.0.1", 9, "http"
    f.request.path = path
    f.request.headers.clear()
    raw = body if isinstance(body, bytes) else (orjson.dumps(body) if body is not None else b"")
    f.request.content = raw
    for k, v in (headers or {}).items():
        f.request.headers[k] = v
    return f


def error_json(f: http.HTTPFlow) -> dict:
    assert f.response is not None
    return orjson.loads(f.response.content or b"")


def routed(
    rt: Runtime,
    exchanges: Exchanges,
    path: str = "/v1/chat/completions",
    body: dict | None = None,
    *,
    backend: str = "oai",
    model: str = "gpt-4o",
) -> tuple[http.HTTPFlow, Exchange]:
    """A flow as the router leaves it: its exchange decided and placed on ``backend``."""
    body = body or {"model": model, "messages": []}
    f = flow(path, body)
    endpoint = classify(path)
    assert endpoint is not None
    exchange = exchanges.start(f, endpoint)
    exchange.raw = exchange.wire = orjson.dumps(body)
    exchange.body, exchange.asked = body, str(body.get("model", model))
    exchange.stream = body.get("stream") is True
    b = rt.config.backends[backend]
    exchange.decision = Decision(b, model, exchange.asked, "test rule")
    assert rt.placer is not None
    placement = rt.placer.place([(b, model)], 0.0)
    assert placement is not None
    exchange.begin(placement)
    return f, exchange

"""Retries sent outside mitmproxy mean what first tries mean: the same bytes, the same timeout."""

from __future__ import annotations

import socket

import orjson

from tests.fakes.upstream import FakeUpstream
from turnout.core.endpoints import classify
from turnout.core.exchange import Exchange
from turnout.core.models import Backend, Config, Decision
from turnout.core.placement import Placement
from turnout.core.pool import Pool
from turnout.core.sender import Answer, Sender
from turnout.core.upstream import build_upstream


def built(base_url: str, model: str = "m") -> object:
    backend = Backend("b", "openai-compat", base_url, "sk-retry-1")
    endpoint = classify("/v1/chat/completions")
    assert endpoint is not None
    x = Exchange(endpoint, 0.0)
    x.body = {"model": model, "messages": []}
    x.raw = x.wire = orjson.dumps(x.body)
    x.decision = Decision(backend, model, model, "r")
    pool = Pool(Config({"b": backend}))
    return build_upstream(x, Placement(pool.states["b"][0], backend, model))


async def test_an_answer_with_its_status_headers_and_whole_body() -> None:
    sender = Sender()
    with FakeUpstream() as up:
        answer = await sender.send(built(up.url + "/v1"), timeout=5)  # type: ignore[arg-type]
        assert isinstance(answer, Answer) and answer.status == 200
        assert orjson.loads(answer.body)["model"] == "m"
        assert dict(answer.fields)[b"x-ratelimit-limit-requests"] == b"500"
        assert up.last().headers["authorization"] == "Bearer sk-retry-1"
    await sender.aclose()


async def test_the_timeout_counts_until_the_response_headers() -> None:
    sender = Sender()
    with FakeUpstream(slow_seconds=2) as up:
        assert await sender.send(built(up.url + "/v1", "m-slow"), timeout=0.3) == "timed out"  # type: ignore[arg-type]
    await sender.aclose()


async def test_no_server_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here once closed
    sender = Sender()
    result = await sender.send(built(f"http://127.0.0.1:{port}/v1"), timeout=2)  # type: ignore[arg-type]
    assert isinstance(result, str) and result.startswith("unreachable")
    await sender.aclose()

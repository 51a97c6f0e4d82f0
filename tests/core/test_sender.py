"""Retries sent outside mitmproxy mean what first tries mean: the same bytes, the same timeout."""

from __future__ import annotations

import gzip
import socket

import orjson
import pytest

from tests.fakes.faults import FaultUpstream
from tests.fakes.upstream import FakeUpstream
from turnout.core.endpoints import classify
from turnout.core.exchange import Exchange
from turnout.core.models import Backend, Config, Decision
from turnout.core.placement import Placement
from turnout.core.pool import Pool
from turnout.core.sender import TOO_LARGE, Answer, Sender
from turnout.core.upstream import UpstreamRequest, build_upstream


def built(base_url: str, model: str = "m") -> UpstreamRequest:
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
        answer = await sender.send(built(up.url + "/v1"), timeout=5, read_timeout=5, limit=1 << 20)
        assert isinstance(answer, Answer) and answer.status == 200
        assert orjson.loads(answer.body)["model"] == "m"
        assert dict(answer.fields)[b"x-ratelimit-limit-requests"] == b"500"
        assert up.last().headers["authorization"] == "Bearer sk-retry-1"
    await sender.aclose()


async def test_the_timeout_counts_until_the_response_headers() -> None:
    sender = Sender()
    with FakeUpstream(slow_seconds=2) as up:
        assert (
            await sender.send(built(up.url + "/v1", "m-slow"), timeout=0.3, read_timeout=5, limit=1 << 20)
            == "timed out"
        )
    await sender.aclose()


async def test_no_server_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens here once closed
    sender = Sender()
    result = await sender.send(built(f"http://127.0.0.1:{port}/v1"), timeout=2, read_timeout=5, limit=1 << 20)
    assert isinstance(result, str) and result.startswith("unreachable")
    await sender.aclose()


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("mid-body", "cut off mid-body"),
        ("stall-body", "sent nothing for 0.3 s"),
        ("close-before-headers", "unreachable"),
    ],
)
async def test_a_broken_body_is_a_failure_not_an_answer(fault: str, expected: str) -> None:
    sender = Sender()
    with FaultUpstream(stall_seconds=3) as up:
        result = await sender.send(
            built(up.url + "/v1", f"fault-{fault}"), timeout=2, read_timeout=0.3, limit=1 << 20
        )
    assert isinstance(result, str) and result.startswith(expected), result
    await sender.aclose()


async def test_a_compressed_answer_is_decoded_within_the_limit() -> None:
    sender = Sender()
    with FaultUpstream() as up:
        answer = await sender.send(
            built(up.url + "/v1", "fault-gzip"), timeout=2, read_timeout=2, limit=1 << 20
        )
        assert isinstance(answer, Answer) and orjson.loads(answer.body)["model"] == "fault-gzip"
        assert b"content-encoding" not in dict(answer.fields)
        # The same answer is over a limit smaller than it: refused, however small on the wire.
        small = await sender.send(built(up.url + "/v1", "fault-gzip"), timeout=2, read_timeout=2, limit=100)
        assert small == TOO_LARGE
        limit = len(answer.body) - 20  # over it once inflated, not on the wire
        assert len(gzip.compress(answer.body)) < limit
        request = built(up.url + "/v1", "fault-gzip")
        assert await sender.send(request, timeout=2, read_timeout=2, limit=limit) == TOO_LARGE
    await sender.aclose()


def test_gzip_bombs_are_refused_by_the_decoder_not_held() -> None:
    from turnout.core.codec import DecodeError, decode

    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MB in 64 KB
    with pytest.raises(DecodeError) as caught:
        decode(bomb, "gzip", 1 << 20)
    assert caught.value.too_large

from __future__ import annotations

import gc

from mitmproxy import http

from tests.addons.helpers import flow
from turnout.addons._flows import Exchanges, dialect_of, error_response, publish
from turnout.core.endpoints import classify
from turnout.core.errors import KeysExhausted


def test_an_exchange_lives_as_long_as_its_flow() -> None:
    exchanges = Exchanges()
    f = flow("/v1/messages", {"model": "m"})
    endpoint = classify("/v1/messages")
    assert endpoint is not None
    exchange = exchanges.start(f, endpoint)
    assert exchanges.get(f) is exchange and exchanges.live() == [(f, exchange)]
    assert exchanges.get(flow("/v1/messages")) is None
    del f
    gc.collect()
    assert exchanges.live() == []


def test_the_summary_is_plain_and_published_for_mitmweb() -> None:
    exchanges = Exchanges()
    f = flow("/v1/messages?beta=true", {"model": "m"})
    endpoint = classify(f.request.path)
    assert endpoint is not None
    exchange = exchanges.start(f, endpoint)
    exchange.asked = "m"
    publish(f, exchange)
    assert f.metadata["turnout"] == {
        "endpoint": "messages",
        "dialect": "anthropic",
        "stream": False,
        "requested": "m",
    }


def test_dialect_and_error_responses() -> None:
    assert dialect_of(flow("/nowhere", headers={"anthropic-version": "x"})) == "anthropic"
    assert dialect_of(flow("/nowhere")) == "openai"
    reply = error_response("openai", KeysExhausted("busy", retry_after=2.2))
    assert isinstance(reply, http.Response) and reply.status_code == 429
    assert reply.headers["retry-after"] == "3" and b"rate_limit_exceeded" in (reply.content or b"")

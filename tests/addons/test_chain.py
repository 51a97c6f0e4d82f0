"""The chain's error boundary: each concern isolated, every flow answered honestly."""

from __future__ import annotations

import logging

import orjson
import pytest
from mitmproxy import http

from tests.addons.helpers import error_json, flow
from turnout.addons._flows import Exchanges
from turnout.addons.chain import Chain
from turnout.core.endpoints import classify
from turnout.core.errors import NoRouteError


class Raises:
    def __init__(self, hook: str, error: Exception) -> None:
        self.exc = error
        setattr(self, hook, self._raise)

    def _raise(self, f: object) -> None:
        raise self.exc


class Records:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def request(self, f: http.HTTPFlow) -> None:
        self.seen.append("request")

    def responseheaders(self, f: http.HTTPFlow) -> None:
        self.seen.append("responseheaders")

    def response(self, f: http.HTTPFlow) -> None:
        self.seen.append("response")

    def error(self, f: http.HTTPFlow) -> None:
        self.seen.append("error")


def chain(*members: object) -> tuple[Chain, Exchanges]:
    exchanges = Exchanges()
    return Chain(list(members), exchanges), exchanges


def test_a_refusal_answers_in_the_clients_dialect_and_later_concerns_still_run() -> None:
    recorder = Records()
    c, _ = chain(Raises("request", NoRouteError("no such model")), recorder)
    f = flow("/v1/messages", {"model": "m"})
    c.request(f)  # type: ignore[attr-defined]
    assert f.response is not None and f.response.status_code == 404
    assert error_json(f) == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "no such model"},
    }
    assert recorder.seen == ["request"]


def test_an_internal_error_fails_closed_with_the_concerns_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    recorder = Records()
    c, exchanges = chain(Raises("request", KeyError("k")), recorder)
    f = flow("/v1/chat/completions", {"model": "m"})
    endpoint = classify(f.request.path)
    assert endpoint is not None
    exchange = exchanges.start(f, endpoint)
    c.request(f)  # type: ignore[attr-defined]
    assert f.response is not None and f.response.status_code == 500
    assert error_json(f)["error"]["message"] == (
        "turnout failed inside its Raises concern (KeyError); see the proxy log."
    )
    assert "Raises failed in its request hook" in caplog.text and "Traceback" in caplog.text
    assert type(exchange.error).__name__ == "InternalError" and recorder.seen == ["request"]


def test_a_response_headers_failure_replaces_the_response_whole() -> None:
    """Never the upstream's 200 body under a 500 status (what fail_closed used to send)."""
    recorder = Records()
    c, _ = chain(Raises("responseheaders", RuntimeError("x")), recorder)
    f = flow("/v1/chat/completions", {"model": "m"})
    f.response = http.Response.make(200, b"", {"content-type": "text/event-stream", "content-length": "9"})
    c.responseheaders(f)  # type: ignore[attr-defined]
    assert recorder.seen == ["responseheaders"]
    assert f.response.status_code == 500 and f.response.headers["content-type"] == "application/json"
    assert "content-length" not in f.response.headers
    stream = f.response.stream
    assert callable(stream)
    body = b"".join(b"".join(stream(piece)) for piece in (b'data: {"upstream": 1}\n\n', b"data: x", b""))
    assert orjson.loads(body)["error"]["type"] == "server_error"  # the upstream's bytes are dropped


def test_a_response_failure_replaces_a_buffered_response_and_leaves_a_sent_stream() -> None:
    c, _ = chain(Raises("response", RuntimeError("x")), Records())
    buffered = flow("/v1/chat/completions", {"model": "m"})
    buffered.response = http.Response.make(200, b'{"ok": true}')
    c.response(buffered)  # type: ignore[attr-defined]
    assert buffered.response.status_code == 500 and b"server_error" in (buffered.response.content or b"")
    streamed = flow("/v1/chat/completions", {"model": "m"})
    streamed.response = http.Response.make(200, b"")
    streamed.response.stream = True  # already on its way: status and body are the upstream's
    c.response(streamed)  # type: ignore[attr-defined]
    assert streamed.response.status_code == 200


def test_an_error_hook_failure_is_logged_and_the_rest_still_run(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Records()
    c, _ = chain(Raises("error", RuntimeError("x")), recorder)
    f = flow("/v1/chat/completions", {"model": "m"})
    c.error(f)  # type: ignore[attr-defined]
    assert (
        recorder.seen == ["error"] and f.response is None and "Raises failed in its error hook" in caplog.text
    )


async def test_a_waiting_concern_and_those_after_it() -> None:
    class Waits:
        async def _later(self) -> None:
            raise ValueError("late")

        def request(self, f: http.HTTPFlow) -> object:
            return self._later()

    recorder = Records()
    c, _ = chain(Waits(), recorder)
    f = flow("/v1/chat/completions", {"model": "m"})
    await c.request(f)  # type: ignore[attr-defined]
    assert f.response is not None and f.response.status_code == 500 and recorder.seen == ["request"]


def test_an_error_quoting_a_megabyte_of_client_data_logs_a_few_hundred_bytes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    huge = "hot" * 350_000  # a 1 MB "temperature", quoted by whatever failed on it
    c, _ = chain(Raises("request", ValueError(f"could not convert string to float: {huge!r}")))
    for _ in range(10):
        f = flow("/v1/chat/completions", {"model": "m"})
        c.request(f)  # type: ignore[attr-defined]
        assert f.response is not None and len(f.response.content or b"") < 500
    assert "Traceback" in caplog.text and "characters)" in caplog.text
    assert len(caplog.text) < 10 * 6_000  # was ~10 MB

from __future__ import annotations

import orjson
from mitmproxy import http

from tests.addons.helpers import flow, runtime
from turnout.addons._flows import META
from turnout.addons.credentials import Credentials
from turnout.addons.failover import Failover
from turnout.addons.router import Router


def failover() -> Failover:
    rt = runtime()
    return Failover(rt, Router(rt), Credentials(rt))


def test_what_is_retried() -> None:
    f = failover()
    for status in (429, 500, 502, 503, 504, 529):
        assert f._retryable(status, b"")
    assert not f._retryable(400, orjson.dumps({"error": {"message": "bad field"}}))
    assert f._retryable(
        400, orjson.dumps({"type": "error", "error": {"message": "prompt is too long: 9 > 8"}})
    )
    assert f._retryable(
        413, orjson.dumps({"error": {"message": "This model's maximum context length is 8192"}})
    )
    assert not f._retryable(401, b"")


def test_responses_without_a_remembered_request_pass_untouched() -> None:
    f = failover()
    fl = flow("/v1/chat/completions", {"model": "m"})
    fl.metadata[META + "key"] = "default"
    fl.response = http.Response.make(503, b"{}")
    assert f.response(fl) is None and fl.response.status_code == 503

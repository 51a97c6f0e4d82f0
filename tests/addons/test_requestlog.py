from __future__ import annotations

import logging

import pytest
from mitmproxy import flow as mflow
from mitmproxy import http

from tests.addons.helpers import flow, routed, runtime
from turnout.addons._flows import Exchanges
from turnout.addons.requestlog import RequestLog, describe
from turnout.core.errors import BackendUnreachable


def test_one_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="turnout.requests")
    exchanges = Exchanges()
    f, _ = routed(runtime(), exchanges, "/v1/messages", {"model": "m"}, backend="anth")
    f.comment = "sonnet → anth (alias sonnet)"
    f.response = http.Response.make(200)
    RequestLog(exchanges).response(f)
    assert "POST sonnet → anth (alias sonnet) → 200 in" in caplog.text


def test_errors_are_logged_with_their_kind() -> None:
    f, exchange = routed(runtime(), Exchanges())
    exchange.error = BackendUnreachable("x")
    f.error = mflow.Error("x")
    line = describe(f, exchange)
    assert line.startswith("POST /v1/chat/completions → ERR") and line.endswith("[BackendUnreachable]")


def test_quiet_unless_enabled(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="turnout.requests")
    exchanges = Exchanges()
    f, _ = routed(runtime(), exchanges)
    f.error = mflow.Error("x")
    RequestLog(exchanges).error(f)
    assert caplog.text == ""


def test_local_endpoints_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="turnout.requests")
    f = flow("/analytics", method="GET")
    f.response = http.Response.make(200)
    RequestLog(Exchanges()).response(f)
    assert caplog.text == ""

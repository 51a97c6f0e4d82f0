from __future__ import annotations

import logging

import pytest
from mitmproxy import flow as mflow
from mitmproxy import http

from tests.addons.helpers import flow
from turnout.addons._flows import META
from turnout.addons.requestlog import RequestLog, describe


def test_one_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="turnout.requests")
    f = flow("/v1/messages", {"model": "m"})
    f.comment = "sonnet → anth (alias sonnet)"
    f.response = http.Response.make(200)
    RequestLog().response(f)
    assert "POST sonnet → anth (alias sonnet) → 200 in" in caplog.text


def test_errors_are_logged_with_their_kind() -> None:
    f = flow("/v1/chat/completions", {"model": "m"})
    f.metadata[META + "error"] = "BackendUnreachable"
    f.error = mflow.Error("x")
    line = describe(f)
    assert line.startswith("POST /v1/chat/completions → ERR") and line.endswith("[BackendUnreachable]")


def test_quiet_unless_enabled(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="turnout.requests")
    f = flow("/v1/messages", {"model": "m"})
    f.error = mflow.Error("x")
    RequestLog().error(f)
    assert caplog.text == ""


def test_local_endpoints_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="turnout.requests")
    f = flow("/analytics", method="GET")
    f.metadata[META + "local"] = "/analytics"
    f.response = http.Response.make(200)
    RequestLog().response(f)
    assert caplog.text == ""

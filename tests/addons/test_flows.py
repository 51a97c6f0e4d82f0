from __future__ import annotations

import logging

import pytest

from tests.addons.helpers import error_json, flow
from turnout.addons._flows import fail_closed
from turnout.core.errors import NoRouteError


class Exploding:
    def __init__(self, error: Exception) -> None:
        self.error = error

    @fail_closed
    def request(self, f: object) -> None:
        raise self.error


def test_turnout_errors_answer_in_the_clients_dialect() -> None:
    f = flow("/v1/messages", {"model": "m"})
    Exploding(NoRouteError("no such model")).request(f)
    assert f.response.status_code == 404
    assert error_json(f) == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "no such model"},
    }


def test_anything_else_is_a_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    f = flow("/v1/chat/completions", {"model": "m"})
    Exploding(KeyError("k")).request(f)
    assert f.response.status_code == 500
    assert error_json(f)["error"]["message"] == (
        "turnout failed inside its Exploding addon's request hook (KeyError); see the proxy log."
    )
    assert "request not forwarded" in caplog.text

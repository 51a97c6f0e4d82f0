from __future__ import annotations

import json

import pytest

from turnout.core import errors
from turnout.core.errors import error_body


@pytest.mark.parametrize(
    ("status", "anthropic_type", "openai_type"),
    [
        (400, "invalid_request_error", "invalid_request_error"),
        (401, "authentication_error", "authentication_error"),
        (404, "not_found_error", "invalid_request_error"),
        (413, "request_too_large", "invalid_request_error"),
        (429, "rate_limit_error", "rate_limit_error"),
        (500, "api_error", "server_error"),
        (502, "api_error", "server_error"),
        (504, "timeout_error", "server_error"),
        (529, "overloaded_error", "server_error"),
        (418, "invalid_request_error", "invalid_request_error"),
    ],
)
def test_bodies_by_status(status: int, anthropic_type: str, openai_type: str) -> None:
    a = json.loads(error_body("anthropic", status, "msg"))
    assert a == {"type": "error", "error": {"type": anthropic_type, "message": "msg"}}
    o = json.loads(error_body("openai", status, "msg"))
    assert o["error"]["type"] == openai_type and o["error"]["message"] == "msg"
    assert set(o["error"]) == {"message", "type", "param", "code"}


def test_every_error_class_has_its_status() -> None:
    expected = {
        "BadRequest": 400,
        "Unauthorized": 401,
        "NotFound": 404,
        "NoRouteError": 404,
        "BodyTooLarge": 413,
        "BackendUnreachable": 502,
        "BackendTimeout": 504,
        "InternalError": 500,
    }
    for name, status in expected.items():
        error = getattr(errors, name)("boom")
        assert isinstance(error, errors.TurnoutError)
        assert error.status == status
    assert issubclass(errors.NoRouteError, errors.RequestError)
    assert issubclass(errors.BackendTimeout, errors.UpstreamError)
    assert issubclass(errors.ConfigError, errors.TurnoutError)


def test_sdks_parse_our_bodies() -> None:
    import anthropic
    import httpx
    import openai

    request = httpx.Request("POST", "http://x")
    a = anthropic.Anthropic(api_key="x")._make_status_error(
        "m",
        body=json.loads(error_body("anthropic", 429, "slow down")),
        response=httpx.Response(429, request=request),
    )
    assert isinstance(a, anthropic.RateLimitError)
    o = openai.OpenAI(api_key="x")._make_status_error(
        "m",
        body=json.loads(error_body("openai", 404, "no model")),
        response=httpx.Response(404, request=request),
    )
    assert isinstance(o, openai.NotFoundError) and o.body["message"] == "no model"  # type: ignore[index]

"""Every error a client can get is JSON in its own dialect, with the right status."""

from __future__ import annotations

import json
import socket

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import Rig

ANTHROPIC_HEADERS = {"content-type": "application/json", "anthropic-version": "2023-06-01"}


def anthropic_error(r: httpx.Response) -> dict:
    body = r.json()
    assert body["type"] == "error", body
    assert set(body["error"]) >= {"type", "message"}
    return body["error"]


def openai_error(r: httpx.Response) -> dict:
    body = r.json()
    assert set(body["error"]) >= {"message", "type", "code"}, body
    return body["error"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"", 400, "empty"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"messages": []}', 400, "no 'model'"),
        (b'{"model": 7}', 400, "must be a string"),
        (b'{"model": "no-such-model"}', 404, "local-model-a"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
def test_bad_requests(rig: Rig, path: str, body: bytes, status: int, needle: str) -> None:
    r = httpx.post(rig.url + path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    error = anthropic_error(r) if path == "/v1/messages" else openai_error(r)
    assert needle in error["message"]


def test_body_over_limit_is_413(rig: Rig) -> None:
    big = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * (1024 * 1024 + 10)}]})
    r = httpx.post(
        rig.url + "/v1/chat/completions", content=big, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413
    assert "limits.max_body_mb" in openai_error(r)["message"]


def test_body_over_limit_is_413_without_content_length(rig: Rig) -> None:
    def chunks():
        yield b'{"model": "claude-x", "messages": [{"role": "user", "content": "'
        for _ in range(40):
            yield b"y" * 32768
        yield b'"}]}'

    r = httpx.post(rig.url + "/v1/messages", content=chunks(), headers=ANTHROPIC_HEADERS)
    assert r.status_code == 413
    assert anthropic_error(r)["type"] == "request_too_large"


def test_unreachable_backend_is_json_502_not_mitmproxys_page(rig: Rig) -> None:
    client = openai.OpenAI(base_url=rig.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="dead-model", messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 502
    assert "Cannot reach backend dead" in e.value.message
    assert e.value.response.headers["content-type"] == "application/json"
    assert "<html" not in e.value.response.text.lower()


def test_unreachable_backend_streaming_request_too(rig: Rig) -> None:
    r = httpx.post(
        rig.url + "/v1/chat/completions", json={"model": "dead-model", "stream": True, "messages": []}
    )
    assert r.status_code == 502
    assert openai_error(r)["code"] == "backend_unreachable"


def test_backend_timeout_is_504_in_anthropic_dialect(rig: Rig) -> None:
    client = anthropic.Anthropic(base_url=rig.url, api_key="x", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as e:
        client.messages.create(
            model="claude-slow-slow", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert e.value.status_code == 504
    assert e.value.body["error"]["type"] == "timeout_error"
    assert "within 0.5 s" in e.value.message


def test_proxy_keeps_serving_after_failures(rig: Rig) -> None:
    for model in ("dead-model", "no-such-model"):
        httpx.post(rig.url + "/v1/chat/completions", json={"model": model, "messages": []})
    r = httpx.post(rig.url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": []})
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("model", "status", "kind"),
    [
        ("groq-error-429", 429, "requests"),
        ("groq-error-500", 500, "server_error"),
        ("groq-error-400", 400, "invalid_request_error"),
    ],
)
def test_upstream_error_bodies_pass_through_unchanged(rig: Rig, model: str, status: int, kind: str) -> None:
    r = httpx.post(rig.url + "/v1/chat/completions", json={"model": model, "messages": []})
    assert r.status_code == status
    assert r.json() == {
        "error": {
            "message": f"fake {status}",
            "type": kind,
            "param": None,
            "code": "rate_limit_exceeded" if status == 429 else None,
        }
    }
    if status == 429:
        assert r.headers["retry-after"] == "7"
    assert r.headers["x-turnout-backend"] == ("limited" if status == 429 else "compat")


def test_untranslatable_requests_are_a_clear_error_in_the_clients_dialect(rig: Rig) -> None:
    r = httpx.post(rig.url + "/v1/embeddings", json={"model": "claude-x", "input": "x"})
    assert r.status_code == 400
    assert "cannot be translated" in openai_error(r)["message"]
    r = httpx.post(rig.url + "/v1/chat/completions", json={"model": "claude-x", "n": 2, "messages": []})
    assert r.status_code == 400
    assert "n > 1" in openai_error(r)["message"]


def test_unknown_path_and_wrong_method(rig: Rig) -> None:
    r = httpx.post(rig.url + "/v1/nonsense", json={"model": "gpt-4o"})
    assert r.status_code == 404 and "no endpoint" in openai_error(r)["message"]
    r = httpx.get(rig.url + "/v1/messages", headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 400 and "takes POST" in anthropic_error(r)["message"]


def test_malformed_http_gets_an_answer_and_proxy_survives(rig: Rig) -> None:
    host, port = rig.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        reply = b""
        while chunk := s.recv(4096):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"application/json" in head
    error = json.loads(body)["error"]  # readable by both SDKs: error.type and error.message
    assert error["type"] == "invalid_request_error" and error["message"]
    assert httpx.get(rig.url + "/health").json() == {"status": "ok"}


def test_hooks_fail_closed_on_internal_errors(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    from turnout.core import routing

    def boom(self: object, requested: str, facts: object = None) -> None:
        raise ZeroDivisionError("synthetic")

    monkeypatch.setattr(routing.Resolver, "decide", boom)
    before = len(rig.upstream.requests)
    r = httpx.post(
        rig.url + "/v1/messages",
        json={"model": "claude-x", "max_tokens": 5, "messages": []},
        headers=ANTHROPIC_HEADERS,
    )
    assert r.status_code == 500
    assert "ZeroDivisionError" in anthropic_error(r)["message"]
    assert len(rig.upstream.requests) == before  # never forwarded

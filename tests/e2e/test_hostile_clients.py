"""What a hostile client or a confused setup tries, through a real proxy."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import httpx

from tests.cli.proxy_process import cli_env, proxy_process
from tests.e2e.conftest import Rig
from turnout.server import ServerSettings, start_proxy_thread


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < _length(reply):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    return reply


def _length(reply: bytes) -> int:
    for line in reply.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def test_an_absolute_form_target_is_never_forwarded(rig: Rig) -> None:
    body = json.dumps({"model": "gpt-4o", "messages": []}).encode()
    reply = raw_request(
        rig.proxy.port,
        b"POST http://attacker.example:8443/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body),
    )
    assert reply.startswith(b"HTTP/1.1 200")
    sent = rig.upstream.last()
    assert sent.path == "/v1/chat/completions"  # origin-form, not the attacker's authority
    assert sent.headers["host"] == rig.upstream.url.removeprefix("http://")


def test_a_browser_page_cannot_spend_keys_or_read_answers(rig: Rig) -> None:
    before = len(rig.upstream.requests)
    # CSRF: a cross-origin form post (no preflight needed for text/plain).
    r = httpx.post(
        rig.url + "/v1/chat/completions",
        content=b'{"model": "gpt-4o", "messages": []}',
        headers={"origin": "https://evil.example", "content-type": "text/plain"},
    )
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    # The same without Origin (a sandboxed page, say): still not JSON, still refused.
    r = httpx.post(
        rig.url + "/v1/chat/completions",
        content=b'{"model": "gpt-4o", "messages": []}',
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 415
    # DNS rebinding: the page's own name, pointed at 127.0.0.1, reading /accounts.
    r = httpx.get(rig.url + "/accounts", headers={"host": "evil.example.com:3456"})
    assert r.status_code == 403
    assert len(rig.upstream.requests) == before  # nothing was forwarded


def test_two_turnouts_pointed_at_each_other_stop_at_once(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port_a = s.getsockname()[1]
    config_b = tmp_path / "b.yaml"
    config_b.write_text(
        "backends: {a: {kind: openai-compat, models: [loop-model], "
        f'base_url: "http://127.0.0.1:{port_a}/v1"}}}}\n'
        "autodetect: {environment: false, local: false}\nanalytics: {enabled: false}\n"
    )
    with proxy_process("-c", str(config_b), env=cli_env(tmp_path / "b")) as b:
        config_a = tmp_path / "a.yaml"
        config_a.write_text(
            f'backends: {{b: {{kind: openai-compat, base_url: "{b.url}/v1", models: [loop-model]}}}}\n'
            "autodetect: {environment: false, local: false}\nanalytics: {enabled: false}\n"
        )
        settings = ServerSettings(
            port=port_a, config=str(config_a), confdir=str(tmp_path / "certs"), discover=False
        )
        with start_proxy_thread(settings) as a:
            started = time.monotonic()
            r = httpx.post(
                a.url + "/v1/chat/completions", json={"model": "loop-model", "messages": []}, timeout=20
            )
            assert r.status_code == 508 and "passed through this turnout" in r.json()["error"]["message"]
            assert time.monotonic() - started < 10
            assert httpx.get(a.url + "/health").status_code == 200
            assert httpx.get(b.url + "/health").status_code == 200

"""HTTP/2 clients get the same JSON answers as HTTP/1 clients, errors included.

mitmproxy speaks HTTP/2 to clients over TLS (ALPN h2; it has no cleartext prior
knowledge), terminating TLS on turnout's listener with its own CA. The client here is
the ``h2`` library itself: httpx always offers ``http/1.1`` first in ALPN, and
mitmproxy honours the client's order.
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass

import h2.config
import h2.connection
import h2.events
import pytest

from tests.e2e.conftest import Rig


@dataclass
class H2Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def h2_post(port: int, path: str, payload: dict, headers: dict[str, str] | None = None) -> H2Answer:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.selected_alpn_protocol() == "h2"
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        body = json.dumps(payload).encode()
        request = [
            (":method", "POST"),
            (":path", path),
            (":authority", "localhost"),
            (":scheme", "https"),
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            *(headers or {}).items(),
        ]
        conn.send_headers(1, request)
        conn.send_data(1, body, end_stream=True)
        tls.sendall(conn.data_to_send())
        answer = H2Answer(0, {}, b"")
        while True:
            chunk = tls.recv(65535)
            assert chunk, "the proxy closed the connection without an answer"
            for event in conn.receive_data(chunk):
                if isinstance(event, h2.events.ResponseReceived):
                    answer.headers = {k.decode(): v.decode() for k, v in event.headers}
                    answer.status = int(answer.headers[":status"])
                elif isinstance(event, h2.events.DataReceived):
                    answer.body += event.data
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamReset):
                    raise AssertionError(f"stream reset: {event.error_code}")
                elif isinstance(event, h2.events.StreamEnded):
                    return answer
            tls.sendall(conn.data_to_send())


def test_a_normal_request_over_http2(rig: Rig) -> None:
    answer = h2_post(rig.proxy.port, "/v1/chat/completions", {"model": "gpt-4o", "messages": []})
    assert answer.status == 200 and json.loads(answer.body)["choices"][0]["message"]["content"]
    assert answer.headers["x-turnout-backend"] == "oai"


@pytest.mark.parametrize(
    ("path", "model", "status", "dialect_type"),
    [
        ("/v1/chat/completions", "dead-model", 502, "server_error"),  # unreachable backend
        ("/v1/messages", "claude-slow-slow", 504, "timeout_error"),  # the backend's timeout
        ("/v1/messages", "no-such-model", 404, "not_found_error"),  # no route
    ],
)
def test_errors_reach_http2_clients_as_json_in_their_dialect(
    rig: Rig, path: str, model: str, status: int, dialect_type: str
) -> None:
    answer = h2_post(rig.proxy.port, path, {"model": model, "max_tokens": 5, "messages": []})
    assert answer.status == status
    assert answer.headers["content-type"] == "application/json", answer.headers
    error = json.loads(answer.body)
    assert error["error"]["type"] == dialect_type and b"<html" not in answer.body.lower()
    if path == "/v1/messages":
        assert error["type"] == "error"
    assert "connection" not in answer.headers  # illegal in HTTP/2

"""Clients that hold connections without using them are let go, and others are served meanwhile.

limits.client_timeout is 1 s here; the sweep runs every second, so "let go" means within 3 s.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import proxy_on
from tests.fakes.faults import FaultUpstream
from turnout.server import ProxyHandle

LET_GO = 4.0  # seconds: the timeout, a sweep, and slack for a loaded machine


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyHandle]:
    tmp = tmp_path_factory.mktemp("slow")
    with (
        FaultUpstream() as up,
        proxy_on(
            f"""
backends:
  oai: {{kind: openai, base_url: "{up.url}/v1", key: sk-slow, read_timeout: 60}}
limits: {{client_timeout: 1, max_clients: 64}}
analytics: {{enabled: false}}
autodetect: {{environment: false, local: false}}
""",
            tmp,
        ) as handle,
    ):
        yield handle


def connect(proxy: ProxyHandle) -> socket.socket:
    host, port = proxy.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the proxy closed ``sock`` (reading whatever it still sends)."""
    started = time.monotonic()
    sock.settimeout(0.5)
    while time.monotonic() - started < seconds:
        try:
            if not sock.recv(1 << 20):
                return time.monotonic() - started
        except TimeoutError:
            continue
        except ConnectionError:
            return time.monotonic() - started
    raise AssertionError(f"still open after {seconds} s")


def ok(proxy: ProxyHandle) -> bool:
    r = httpx.post(
        proxy.url + "/v1/chat/completions", json={"model": "oai:gpt-4o", "messages": []}, timeout=10
    )
    return r.status_code == 200


def test_slowloris_headers_are_cut_off_and_others_are_served(proxy: ProxyHandle) -> None:
    socks = [connect(proxy) for _ in range(30)]
    stop = threading.Event()

    def trickle() -> None:
        header = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
        for i in range(len(header)):
            if stop.is_set():
                return
            for s in socks:
                with contextlib.suppress(OSError):  # closed by the proxy: as it should be
                    s.send(header[i : i + 1])
            time.sleep(0.1)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        assert ok(proxy)  # served while 30 sockets trickle
        started = time.monotonic()
        for s in socks:
            closed_within(s, LET_GO - (time.monotonic() - started) + 1)
    finally:
        stop.set()
        thread.join(5)
        for s in socks:
            s.close()
    assert ok(proxy)


def test_an_idle_keep_alive_connection_is_closed_and_clients_reconnect(proxy: ProxyHandle) -> None:
    with connect(proxy) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
        assert closed_within(s, LET_GO) > 0.5  # not at once: a keep-alive still has its second
    with httpx.Client() as client:  # a pooled client notices and reconnects
        assert client.get(proxy.url + "/health").status_code == 200
        time.sleep(LET_GO)
        assert client.get(proxy.url + "/health").status_code == 200


def test_a_body_that_never_finishes_arriving_is_cut_off(proxy: ProxyHandle) -> None:
    with connect(proxy) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b'content-length: 1000\r\n\r\n{"model": '
        )
        closed_within(s, LET_GO)
    assert ok(proxy)


def test_a_client_that_stops_reading_its_stream_is_dropped(proxy: ProxyHandle) -> None:
    with connect(proxy) as s:
        body = b'{"model": "oai:fault-endless", "messages": [], "stream": true}'
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%s" % (len(body), body)
        )
        time.sleep(LET_GO + 1)  # never reading: buffers fill, nothing moves, the sweep lets it go
        received = 0
        started = time.monotonic()
        s.settimeout(2)
        while True:  # what the buffers held, then the end (an endless stream would never end)
            try:
                piece = s.recv(1 << 20)
            except (TimeoutError, ConnectionError):
                break
            if not piece:
                break
            received += len(piece)
            assert time.monotonic() - started < 10, "the stream kept flowing: the client was never dropped"
        assert received < 64 << 20
    assert ok(proxy)


def test_past_max_clients_the_idlest_connections_make_room(proxy: ProxyHandle) -> None:
    socks = [connect(proxy) for _ in range(80)]  # limits.max_clients is 64
    try:
        time.sleep(0.3)
        assert ok(proxy)  # a newcomer is served: an idle one made room
        closed = 0
        for s in socks[:20]:  # the oldest went first
            s.settimeout(0.2)
            try:
                closed += s.recv(1) == b""
            except TimeoutError:
                pass
            except ConnectionError:
                closed += 1
        assert closed >= 16
    finally:
        for s in socks:
            s.close()

"""Bombs are bounded in time and memory: the real ``turnout proxy`` process, its RSS read
from /proc while clients and an upstream try to make it hold gigabytes.

Before the fixes: a declared 1 GB body kept +1.4 GB, 300 MB chunked +300 MB, a 1 MB gzip
request froze the loop 4.6 s and kept +525 MB, a 50 MB SSE line took 14 s of CPU. Here
limits.max_body_mb is 8: every one of them is refused within seconds, the process grows
by less than the limit allows, and it keeps serving.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.proxy_process import ProxyProcess, cli_env, proxy_process
from tests.fakes.faults import FaultUpstream

GROWTH_MB = 120  # what a request may cost the process at most, here (the limit is 8 MB)


def rss_mb(proxy: ProxyProcess) -> float:
    for line in Path(f"/proc/{proxy.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyProcess]:
    tmp = tmp_path_factory.mktemp("bombs")
    with FaultUpstream() as up:
        config = tmp / "config.yaml"
        config.write_text(f"""
backends:
  anth: {{kind: anthropic, base_url: "{up.url}", key: sk-ant-bomb, read_timeout: 20}}
  oai: {{kind: openai, base_url: "{up.url}/v1", key: sk-oai-bomb, read_timeout: 20}}
limits: {{max_body_mb: 8}}
pool: {{error_cooldown: 0}}
analytics: {{enabled: false}}
autodetect: {{environment: false, local: false}}
""")
        with proxy_process("-c", str(config), env=cli_env(tmp / "home")) as running:
            for _ in range(20):  # warm: first requests load what every request needs
                httpx.post(running.url + "/v1/chat/completions", json={"model": "oai:gpt-4o", "messages": []})
            yield running


def bounded(proxy: ProxyProcess, before: float) -> None:
    grew = rss_mb(proxy) - before
    print(f"grew {grew:.1f} MB")  # shown with -s
    assert grew < GROWTH_MB, f"the proxy grew by {grew:.0f} MB"
    r = httpx.post(
        proxy.url + "/v1/chat/completions", json={"model": "oai:gpt-4o", "messages": []}, timeout=10
    )
    assert r.status_code == 200  # and it still serves


def connect(proxy: ProxyProcess) -> socket.socket:
    host, port = proxy.url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=20)


def status_of(sock: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        piece = sock.recv(65536)
        if not piece:
            break
        head += piece
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1") else 0


def test_a_declared_gigabyte_is_refused_before_it_is_read(proxy: ProxyProcess) -> None:
    before, started = rss_mb(proxy), time.monotonic()
    with connect(proxy) as s:
        s.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"content-length: 1000000000\r\n\r\n" + b"{" + b" " * (1 << 20)
        )
        assert status_of(s) == 413
    assert time.monotonic() - started < 5
    bounded(proxy, before)


def test_a_chunked_body_is_cut_off_at_the_limit(proxy: ProxyProcess) -> None:
    before = rss_mb(proxy)
    sent = 0
    with connect(proxy) as s:
        s.sendall(
            b"POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        piece = b"%x\r\n%s\r\n" % (1 << 16, b" " * (1 << 16))

        def pump() -> None:
            nonlocal sent
            try:
                while sent < 300 << 20:
                    s.sendall(piece)
                    sent += 1 << 16
            except OSError:
                pass  # the proxy closed the connection: as it should

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        assert status_of(s) == 413
        thread.join(20)
    assert sent < 64 << 20, f"{sent >> 20} MB went in before the refusal"
    print(f"{sent / (1 << 20):.1f} MB sent before the refusal")
    bounded(proxy, before)


def test_a_gzip_bomb_request_is_a_413_within_seconds(proxy: ProxyProcess) -> None:
    bomb = gzip.compress(b'{"model": "oai:gpt-4o", "messages": [], "pad": "' + b" " * (512 << 20) + b'"}')
    assert len(bomb) < 1 << 20  # under a megabyte on the wire
    before, started = rss_mb(proxy), time.monotonic()
    r = httpx.post(
        proxy.url + "/v1/chat/completions",
        content=bomb,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
        timeout=30,
    )
    assert r.status_code == 413 and "inflates past" in r.json()["error"]["message"]
    assert time.monotonic() - started < 5
    bounded(proxy, before)


@pytest.mark.parametrize("stream", [False, True])
def test_a_gzip_bomb_answer_is_refused_as_it_inflates(proxy: ProxyProcess, stream: bool) -> None:
    before = rss_mb(proxy)
    body = {"model": "oai:fault-gzip-bomb", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    r = httpx.post(proxy.url + "/v1/chat/completions", json=body, timeout=60)
    if stream:
        assert r.status_code == 200 and b"inflates past" in r.content and len(r.content) < 32 << 20
    else:
        assert r.status_code == 502 and "inflates past" in r.json()["error"]["message"]
    bounded(proxy, before)


def test_a_fifty_megabyte_line_is_refused_in_linear_time(proxy: ProxyProcess) -> None:
    before, started = rss_mb(proxy), time.monotonic()
    body = {"model": "oai:fault-long-line", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    r = httpx.post(proxy.url + "/v1/messages", json={**body, "stream": True}, timeout=60)
    assert r.status_code == 200
    events = [e for e in r.content.split(b"\n\n") if e]
    assert events[-1].startswith(b"event: error") and b"more than" in events[-1]
    assert json.loads(events[-1].split(b"data: ", 1)[1])["type"] == "error"
    assert time.monotonic() - started < 15
    bounded(proxy, before)

"""The interception listener (``--intercept``) for real: clients that keep their provider's
default base URL reach turnout through ``HTTPS_PROXY``; provider hosts are decrypted with
turnout's CA and routed like the local endpoint's requests; every other host is a blind
tunnel. All on loopback: nothing here resolves or reaches a provider."""

from __future__ import annotations

import datetime
import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import openai
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.upstream import FakeUpstream
from turnout.server import ProxyHandle, ServerSettings, start_proxy_thread

CONFIG = """\
backends:
  up: {{kind: openai, base_url: "{up}/v1", key: sk-backend-7777, models: [gpt-4o-mini]}}
autodetect: {{environment: false, local: false}}
analytics: {{enabled: false}}
"""


def start(
    tmp_path: Path, up: FakeUpstream, api_key: str = "", analytics: bool = False, extra: str = ""
) -> ProxyHandle:
    config = tmp_path / "config.yaml"
    text = CONFIG.format(up=up.url) + extra
    if analytics:
        text = text.replace("analytics: {enabled: false}", f"analytics: {{path: {tmp_path / 'a.sqlite3'}}}")
    config.write_text(text)
    settings = ServerSettings(
        port=0, intercept_port=0, config=str(config), confdir=str(tmp_path / "certs"), discover=False,
        api_key=api_key,
    )  # fmt: skip
    return start_proxy_thread(settings)


@pytest.fixture
def proxy(tmp_path: Path, upstream: FakeUpstream) -> Iterator[ProxyHandle]:
    handle = start(tmp_path, upstream)
    yield handle
    handle.stop()


def ca_file(tmp_path: Path) -> str:
    return str(tmp_path / "certs" / "mitmproxy-ca-cert.pem")


def trusting(path: str | Path) -> ssl.SSLContext:
    """A client's TLS context that trusts only ``path``."""
    return ssl.create_default_context(cafile=str(path))


@pytest.mark.parametrize("stream", [False, True])
def test_the_openai_sdk_with_its_default_base_url_is_routed(
    proxy: ProxyHandle, upstream: FakeUpstream, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.proxy_url)
    monkeypatch.setenv("SSL_CERT_FILE", ca_file(tmp_path))
    for name in ("NO_PROXY", "no_proxy", "OPENAI_BASE_URL", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    client = openai.OpenAI(api_key="sk-client-secret", max_retries=0)  # api.openai.com
    assert str(client.base_url) == "https://api.openai.com/v1/"
    if stream:
        parts = client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in parts if c.choices)
        assert text.startswith("w0 w1")
    else:
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=[])
        assert answer.choices[0].message.content == "hello from gpt-4o-mini"
    sent = upstream.last()
    assert sent.headers["authorization"] == "Bearer sk-backend-7777"
    assert "sk-client-secret" not in str(sent.headers) and "api.openai.com" not in str(sent.headers)
    assert proxy.runtime.requests == 1
    certs = tmp_path / "certs"
    assert (
        certs.stat().st_mode & 0o777 == 0o700 and (certs / "mitmproxy-ca.pem").stat().st_mode & 0o777 == 0o600
    )


@contextmanager
def https_server(
    tmp_path: Path, seen: list[dict[str, str]] | None = None
) -> Iterator[tuple[int, Path, list[int]]]:
    """A local HTTPS server with a self-signed certificate for localhost, keeping
    connections alive: (port, its certificate, how many connections it took); each
    request's path and headers go into ``seen``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "server.pem", tmp_path / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    connections = [0]

    class Hello(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: one connection for several requests

        def setup(self) -> None:
            connections[0] += 1
            super().setup()

        def do_GET(self) -> None:
            if seen is not None:
                seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
            body = b"the real server"
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], cert_file, connections
    finally:
        server.shutdown()
        server.server_close()


def test_other_hosts_are_tunnelled_and_never_decrypted(proxy: ProxyHandle, tmp_path: Path) -> None:
    """Through the proxy the client verifies the server's own certificate (turnout's would
    fail), and turnout handles nothing."""
    with https_server(tmp_path) as (port, cert_file, _):
        with httpx.Client(proxy=proxy.proxy_url, verify=trusting(cert_file), timeout=10) as client:
            answer = client.get(f"https://localhost:{port}/anything")
        assert answer.status_code == 200 and answer.text == "the real server"
        with (
            httpx.Client(proxy=proxy.proxy_url, verify=trusting(ca_file(tmp_path)), timeout=10) as client,
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            client.get(f"https://localhost:{port}/anything")  # turnout's CA is not who answers
        assert proxy.runtime.requests == 0


def test_a_quiet_tunnel_outlives_the_client_timeout(tmp_path: Path, upstream: FakeUpstream) -> None:
    """limits.client_timeout is for turnout's own requests; a blind tunnel carries none (a
    git fetch, a websocket), so it stays open while quiet for longer than that."""
    handle = start(tmp_path, upstream, extra="limits: {client_timeout: 1}\n")
    try:
        with (
            https_server(tmp_path) as (port, cert_file, connections),
            httpx.Client(proxy=handle.proxy_url, verify=trusting(cert_file), timeout=10) as client,
        ):
            assert client.get(f"https://localhost:{port}/a").status_code == 200
            time.sleep(2.5)  # two sweeps past the timeout
            assert client.get(f"https://localhost:{port}/b").status_code == 200
            assert connections[0] == 1  # the same tunnel, not a new one (cut: 2)
    finally:
        handle.stop()


def test_plain_http_to_another_host_is_refused_in_json(proxy: ProxyHandle) -> None:
    with httpx.Client(proxy=proxy.proxy_url, timeout=10) as client:
        answer = client.get("http://localhost:9/anything")
    assert answer.status_code == 403 and "provider hosts only" in answer.json()["error"]["message"]


def test_http2_from_a_client_that_offers_it_gets_json(proxy: ProxyHandle, tmp_path: Path) -> None:
    """curl offers h2 first inside the tunnel (httpx would speak h2 to the proxy itself)."""
    curl = shutil.which("curl")
    assert curl, "curl is not installed: `apt-get install curl` (.ci/run does)"

    def fetch(*args: str) -> tuple[str, str]:
        done = subprocess.run(
            [curl, "-s", "--http2", "-w", "\n%{http_version} %{http_code}", "-x", proxy.proxy_url,
             "--cacert", ca_file(tmp_path), *args],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        body, _, status = done.stdout.rpartition("\n")
        return body, status

    body, status = fetch("https://api.openai.com/v1/models")
    assert status == "2 200" and json.loads(body)["data"][0]["id"] == "gpt-4o-mini"
    data = ["-H", "content-type: application/json", "-d", '{"model": "nobody-serves-this"}']
    body, status = fetch(*data, "https://api.openai.com/v1/chat/completions")
    assert status == "2 404" and "nobody-serves-this" in json.loads(body)["error"]["message"]


def test_with_a_key_set_the_proxy_asks_for_it(tmp_path: Path, upstream: FakeUpstream) -> None:
    handle = start(tmp_path, upstream, api_key="local-key-42")
    try:
        with (
            httpx.Client(proxy=handle.proxy_url, verify=trusting(ca_file(tmp_path)), timeout=10) as client,
            pytest.raises(httpx.ProxyError, match="407"),
        ):
            client.get("https://api.openai.com/v1/models")
        with (
            httpx.Client(
                proxy=handle.proxy_url.replace("://", "://turnout:wrong@"), verify=trusting(ca_file(tmp_path))
            ) as client,
            pytest.raises(httpx.ProxyError, match="407"),
        ):
            client.get("https://api.openai.com/v1/models")
        authed = handle.proxy_url.replace("://", "://turnout:local-key-42@")
        with httpx.Client(proxy=authed, verify=trusting(ca_file(tmp_path)), timeout=10) as client:
            answer = client.post(
                "https://api.openai.com/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": []}
            )
        assert answer.status_code == 200
        assert "local-key-42" not in str(upstream.last().headers)
        with httpx.Client(proxy=handle.proxy_url, timeout=10) as client:  # plain HTTP: the key per request
            assert client.get("http://api.openai.com/v1/models").status_code == 401
    finally:
        handle.stop()


def test_analytics_and_the_log_say_which_entry_point(tmp_path: Path, upstream: FakeUpstream) -> None:
    handle = start(tmp_path, upstream, analytics=True)
    try:
        body = {"model": "gpt-4o-mini", "messages": []}
        with httpx.Client(proxy=handle.proxy_url, verify=trusting(ca_file(tmp_path)), timeout=10) as client:
            assert client.post("https://api.openai.com/v1/chat/completions", json=body).status_code == 200
        assert httpx.post(handle.url + "/v1/chat/completions", json=body, timeout=10).status_code == 200
        report = httpx.get(handle.url + "/analytics", timeout=10).json()
        for window in ("last_hour", "all_time"):
            entries = {k: v["requests"] for k, v in report[window]["by_entry"].items()}
            assert entries == {"intercepted api.openai.com": 1, "local endpoint": 1}
    finally:
        handle.stop()


PASSTHROUGH = "intercept: {hosts: [localhost], passthrough_unrouted: true}\n"


@pytest.mark.parametrize("stream", [False, True])
def test_unrouted_requests_pass_through_with_the_clients_own_key(
    tmp_path: Path, upstream: FakeUpstream, stream: bool
) -> None:
    """intercept.passthrough_unrouted: a model no route serves goes on to the host the client
    meant, with its own key; a routed one still goes to turnout's backend, with turnout's key."""
    handle = start(tmp_path, upstream, extra=PASSTHROUGH, analytics=True)
    try:
        with FakeUpstream() as real, httpx.Client(proxy=handle.proxy_url, timeout=10) as client:
            own = {"authorization": "Bearer sk-client-own-1234", "cookie": "session=abc"}
            body = {"model": "nobody-routes-this", "messages": [], "stream": stream}
            answer = client.post(f"{real.url}/v1/chat/completions".replace("127.0.0.1", "localhost"),
                                 json=body, headers=own)  # fmt: skip
            assert answer.status_code == 200
            if stream:
                assert answer.headers["content-type"].startswith("text/event-stream")
                assert answer.text.count("data: ") > 5 and '"w0 "' in answer.text
            else:
                assert answer.json()["choices"][0]["message"]["content"] == "hello from nobody-routes-this"
            sent = real.last()
            assert sent.headers["authorization"] == "Bearer sk-client-own-1234"
            assert sent.headers["cookie"] == "session=abc"
            assert "proxy-authorization" not in sent.headers and "x-turnout-backend" not in answer.headers
            routed = client.post(
                f"{real.url}/v1/chat/completions".replace("127.0.0.1", "localhost"),
                json={"model": "gpt-4o-mini", "messages": []},
                headers=own,
            )
            assert routed.status_code == 200 and routed.headers["x-turnout-backend"] == "up"
            assert len([r for r in real.requests if r.method == "POST"]) == 1  # the routed one: not here
            assert upstream.last().headers["authorization"] == "Bearer sk-backend-7777"
            assert "sk-client-own" not in str(upstream.last().headers)
        report = httpx.get(handle.url + "/analytics", timeout=10).json()["last_hour"]
        assert report["by_backend"]["(passed through)"]["requests"] == 1
    finally:
        handle.stop()


def test_a_passed_through_request_whose_host_is_down_gets_json(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    handle = start(tmp_path, upstream, extra=PASSTHROUGH)
    try:
        with httpx.Client(proxy=handle.proxy_url, timeout=10) as client:
            answer = client.post(
                "http://localhost:9/v1/messages",
                json={"model": "nobody-routes-this", "max_tokens": 5, "messages": []},
                headers={"x-api-key": "sk-ant-client-own", "anthropic-version": "2023-06-01"},
            )
        assert answer.status_code == 502
        error = answer.json()
        assert error["type"] == "error" and "passthrough_unrouted" in error["error"]["message"]
        assert "sk-ant-client-own" not in answer.text
    finally:
        handle.stop()


def test_without_passthrough_the_clients_key_never_leaves(tmp_path: Path, upstream: FakeUpstream) -> None:
    handle = start(tmp_path, upstream, extra="intercept: {hosts: [localhost]}\n")
    try:
        with FakeUpstream() as real, httpx.Client(proxy=handle.proxy_url, timeout=10) as client:
            url = f"{real.url}/v1/chat/completions".replace("127.0.0.1", "localhost")
            answer = client.post(url, json={"model": "nobody-routes-this", "messages": []},
                                 headers={"authorization": "Bearer sk-client-own-1234"})  # fmt: skip
            assert answer.status_code == 404 and "nobody-routes-this" in answer.json()["error"]["message"]
            assert client.get(url.replace("/chat/completions", "/files")).status_code == 404
            assert not real.requests
    finally:
        handle.stop()


def test_passthrough_over_tls_reaches_the_real_server_with_the_key_in_a_header(
    tmp_path: Path, upstream: FakeUpstream
) -> None:
    """Decrypted, found unroutable (a path turnout has no endpoint for), encrypted again to
    the host itself, verified against its certificate; a Gemini ``?key=`` is moved into the
    ``x-goog-api-key`` header, so it is never in a URL turnout shows or logs."""
    handle = start(tmp_path, upstream, extra=PASSTHROUGH)
    try:
        seen: list[dict[str, str]] = []
        with https_server(tmp_path, seen) as (port, cert_file, _):
            handle.set_options(ssl_verify_upstream_trusted_ca=str(cert_file))
            with httpx.Client(
                proxy=handle.proxy_url, verify=trusting(ca_file(tmp_path)), timeout=10
            ) as client:
                answer = client.get(f"https://localhost:{port}/v1beta/files?key=AIza-client-own&pageSize=2")
            assert answer.status_code == 200 and answer.text == "the real server"
            assert seen[-1]["x-goog-api-key"] == "AIza-client-own"
            assert seen[-1]["path"] == "/v1beta/files?pageSize=2"
    finally:
        handle.stop()

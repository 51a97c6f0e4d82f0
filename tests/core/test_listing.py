"""Each backend's own model list, read the way its API offers it (against a fake server
speaking each shape, paged as the providers page them)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.fakes.upstream import FakeUpstream
from turnout.core import listing
from turnout.core.listing import ListingError, read_model_list
from turnout.core.models import Backend

MODELS = ("m-one", "m-two", "m-three")


@pytest.fixture
def up() -> Iterator[FakeUpstream]:
    with FakeUpstream(models=MODELS, list_page=2) as server:
        yield server


def _backend(kind: str, base_url: str, key: str | None = "sk-list-secret-4321") -> Backend:
    return Backend("b", kind, base_url, key)


def test_openai_style_lists_send_the_bearer_key(up: FakeUpstream) -> None:
    assert read_model_list(_backend("openai-compat", up.url + "/v1")) == MODELS
    assert up.requests[-1].path == "/v1/models"
    assert up.requests[-1].headers["authorization"] == "Bearer sk-list-secret-4321"


def test_anthropics_list_is_read_page_by_page(up: FakeUpstream) -> None:
    assert read_model_list(_backend("anthropic", up.url)) == MODELS
    pages = [r for r in up.requests if r.path.startswith("/v1/models")]
    assert len(pages) == 2 and "after_id=m-two" in pages[1].path
    assert pages[0].headers["x-api-key"] == "sk-list-secret-4321" and "anthropic-version" in pages[0].headers
    assert "authorization" not in pages[0].headers


def test_geminis_list_is_paged_and_only_generative_models_count(up: FakeUpstream) -> None:
    assert read_model_list(_backend("gemini", up.url)) == MODELS
    pages = [r for r in up.requests if r.path.startswith("/v1beta/models")]
    assert len(pages) == 2 and pages[0].headers["x-goog-api-key"] == "sk-list-secret-4321"


def test_an_ollama_without_v1_models_is_read_from_api_tags(up: FakeUpstream) -> None:
    up.ollama_only = True
    assert read_model_list(_backend("openai-compat", up.url + "/v1", key=None)) == MODELS
    assert up.requests[-1].path == "/api/tags"


def test_a_refused_list_is_an_error_that_names_no_key(up: FakeUpstream) -> None:
    up.list_status = 401
    with pytest.raises(ListingError, match="HTTP 401") as e:
        read_model_list(_backend("openai", up.url + "/v1"))
    assert "sk-list-secret" not in str(e.value)


def test_an_unreachable_list_is_an_error() -> None:
    with pytest.raises(ListingError, match="did not answer"):
        read_model_list(_backend("openai-compat", "http://127.0.0.1:1/v1"), timeout=1)


class _Hostile(BaseHTTPRequestHandler):
    """Answers every GET with ``self.server.answer`` (bytes after the headers), in pieces."""

    def do_GET(self) -> None:
        body, pause = self.server.answer, self.server.pause  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        for i in range(0, len(body), 64):
            self.wfile.write(body[i : i + 64])
            self.wfile.flush()
            time.sleep(pause)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("kind", "answer"),
    [
        ("openai", b"<html>not json</html>"),
        ("openai", b'["a", "list"]'),
        ("gemini", b'[{"name": "models/x"}]'),  # a page that is not an object
        ("gemini", b'{"models": ["not an object"]}'),
        ("anthropic", b'{"data": "nope"}'),
    ],
)
def test_a_garbled_list_is_an_error_never_a_crash(
    hostile: ThreadingHTTPServer, kind: str, answer: bytes
) -> None:
    hostile.answer, hostile.pause = answer, 0  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{hostile.server_address[1]}"
    with pytest.raises(ListingError, match="cannot read"):
        read_model_list(_backend(kind, url + ("/v1" if kind == "openai" else "")))


def test_a_huge_or_dripping_list_is_cut_off(
    hostile: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://127.0.0.1:{hostile.server_address[1]}/v1"
    monkeypatch.setattr(listing, "MAX_BYTES", 10_000)
    hostile.answer, hostile.pause = b'{"data": [' + b'{"id": "m"},' * 5000 + b'{"id": "m"}]}', 0  # type: ignore[attr-defined]
    with pytest.raises(ListingError, match="cannot read"):
        read_model_list(_backend("openai", url))
    hostile.answer, hostile.pause = b" " * 6400 + b"{}", 0.05  # type: ignore[attr-defined]  # 100 pieces, 5 s
    started = time.monotonic()
    with pytest.raises(ListingError, match="did not answer"):
        read_model_list(_backend("openai", url), timeout=1)
    assert time.monotonic() - started < 2.5  # the whole read is bounded, not each piece

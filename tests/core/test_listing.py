"""Each backend's own model list, read the way its API offers it (against a fake server
speaking each shape, paged as the providers page them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.upstream import FakeUpstream
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
    assert up.last().path == "/v1/models"
    assert up.last().headers["authorization"] == "Bearer sk-list-secret-4321"


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
    assert up.last().path == "/api/tags"


def test_a_refused_list_is_an_error_that_names_no_key(up: FakeUpstream) -> None:
    up.list_status = 401
    with pytest.raises(ListingError, match="HTTP 401") as e:
        read_model_list(_backend("openai", up.url + "/v1"))
    assert "sk-list-secret" not in str(e.value)


def test_an_unreachable_list_is_an_error() -> None:
    with pytest.raises(ListingError, match="did not answer"):
        read_model_list(_backend("openai-compat", "http://127.0.0.1:1/v1"), timeout=1)

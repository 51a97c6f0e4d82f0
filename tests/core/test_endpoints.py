from __future__ import annotations

import pytest

from turnout.core.endpoints import classify, client_dialect


@pytest.mark.parametrize(
    ("path", "name", "dialect"),
    [
        ("/v1/messages?beta=true", "messages", "anthropic"),
        ("/v1/messages/count_tokens?beta=true", "count_tokens", "anthropic"),
        ("/v1/chat/completions", "chat", "openai"),
        ("/chat/completions", "chat", "openai"),
        ("/v1/embeddings/", "embeddings", "openai"),
        ("/v1/responses", "responses", "openai"),
    ],
)
def test_classify(path: str, name: str, dialect: str) -> None:
    endpoint = classify(path)
    assert endpoint is not None and (endpoint.name, endpoint.dialect) == (name, dialect)
    assert endpoint.path.startswith("/v1/")


def test_unknown_and_dialect_fallback() -> None:
    assert classify("/v1/whatever") is None
    assert client_dialect("/v1/whatever", True) == "anthropic"
    assert client_dialect("/v1/whatever", False) == "openai"
    assert client_dialect("/v1/messages", False) == "anthropic"

"""The official SDKs, streaming and not, through a real proxy to fake upstreams."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.e2e.conftest import ANTHROPIC_KEY, COMPAT_KEY, OPENAI_KEY, Rig


@pytest.fixture
def claude(rig: Rig) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=rig.url, api_key="placeholder-not-forwarded", max_retries=0)


@pytest.fixture
def gpt(rig: Rig) -> openai.OpenAI:
    return openai.OpenAI(base_url=rig.url + "/v1", api_key="placeholder-not-forwarded", max_retries=0)


def test_anthropic_sdk_message(claude: anthropic.Anthropic, rig: Rig) -> None:
    raw = claude.messages.with_raw_response.create(
        model="claude-sonnet-5-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    msg = raw.parse()
    assert msg.content[0].text == "hello from claude-sonnet-5-5"
    assert raw.headers["x-turnout-backend"] == "anth"
    assert raw.headers["request-id"] == "req_fake123"
    assert raw.headers["anthropic-ratelimit-requests-remaining"] == "999"
    sent = rig.upstream.last()
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY
    assert sent.headers["anthropic-version"] == claude_version(raw)
    assert "authorization" not in sent.headers


def claude_version(raw: object) -> str:
    """The anthropic-version the SDK itself sent: turnout passes the client's through."""
    return raw.http_request.headers["anthropic-version"]  # type: ignore[attr-defined]


def test_anthropic_sdk_stream_relays_every_event(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="claude-haiku-5-5", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert texts == [f"w{i} " for i in range(20)]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 20


def test_anthropic_beta_query_and_header_pass_to_anthropic(rig: Rig, claude: anthropic.Anthropic) -> None:
    claude.beta.messages.create(
        model="claude-opus-5-5",
        max_tokens=8,
        messages=[{"role": "user", "content": "x"}],
        betas=["interleaved-thinking-2025-05-14"],
    )
    sent = rig.upstream.last()
    assert sent.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"


def test_alias_rewrites_only_the_model(rig: Rig) -> None:
    import httpx

    body = (
        b'{"model": "sonnet",  "max_tokens": 9, "messages": [{"role": "user", "content": "model: sonnet"}]}'
    )
    r = httpx.post(rig.url + "/v1/messages", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert rig.upstream.last().body == body.replace(b'"sonnet"', b'"claude-sonnet-5-5"', 1)


def test_openai_sdk_chat(gpt: openai.OpenAI, rig: Rig) -> None:
    raw = gpt.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "hello from gpt-4o"
    assert raw.headers["x-turnout-backend"] == "oai"
    assert raw.headers["x-ratelimit-remaining-tokens"] == "29000"
    assert raw.headers["x-request-id"] == "req_fake456"
    sent = rig.upstream.last()
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert "x-api-key" not in sent.headers


def test_openai_sdk_stream(gpt: openai.OpenAI) -> None:
    stream = gpt.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(f"w{i} " for i in range(20))
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 20


def test_openai_compat_prefix_and_extra_headers(gpt: openai.OpenAI, rig: Rig) -> None:
    completion = gpt.chat.completions.create(
        model="compat:local-model-a", messages=[{"role": "user", "content": "x"}]
    )
    assert completion.choices[0].message.content == "hello from local-model-a"
    sent = rig.upstream.last()
    assert sent.json()["model"] == "local-model-a"
    assert sent.headers["authorization"] == f"Bearer {COMPAT_KEY}"
    assert sent.headers["x-title"] == "turnout-tests"


def test_rule_with_model_rewrite(gpt: openai.OpenAI, rig: Rig) -> None:
    gpt.chat.completions.create(model="house-small", messages=[{"role": "user", "content": "x"}])
    assert rig.upstream.last().json()["model"] == "gpt-4o-mini"


def test_embeddings(gpt: openai.OpenAI, rig: Rig) -> None:
    result = gpt.embeddings.create(model="text-embedding-3-small", input="hello")
    assert result.data[0].embedding == [0.25, -0.5, 0.125]
    assert rig.upstream.last().path == "/v1/embeddings"


def test_count_tokens_forwarded_to_anthropic(claude: anthropic.Anthropic, rig: Rig) -> None:
    count = claude.messages.count_tokens(
        model="claude-sonnet-5-5", messages=[{"role": "user", "content": "hi"}]
    )
    assert count.input_tokens == 42
    assert rig.upstream.last().path == "/v1/messages/count_tokens"


def test_count_tokens_estimated_for_other_backends(claude: anthropic.Anthropic, rig: Rig) -> None:
    before = len(rig.upstream.requests)
    system = "You are terse. " * 40
    tool = {"name": "read_file", "description": "Read a file " * 20, "input_schema": {"type": "object"}}
    bare = claude.messages.count_tokens(model="fast", messages=[{"role": "user", "content": "hi"}])
    full = claude.messages.count_tokens(
        model="fast", system=system, tools=[tool], messages=[{"role": "user", "content": "hi"}]
    )
    assert len(rig.upstream.requests) == before  # answered locally
    assert full.input_tokens - bare.input_tokens >= (len(system) + 240) // 4


def test_models_listing_in_both_shapes(claude: anthropic.Anthropic, gpt: openai.OpenAI) -> None:
    anthropic_ids = [m.id for m in claude.models.list()]
    openai_ids = [m.id for m in gpt.models.list()]
    assert "local-model-a" in anthropic_ids and "sonnet" in anthropic_ids
    assert anthropic_ids == openai_ids

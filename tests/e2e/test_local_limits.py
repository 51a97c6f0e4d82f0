"""Claude Code's max_tokens and thinking, sent to a small local model that cannot take them.

A llama.cpp server started with ``-c 4096`` fails a 32,000-token request or generates
for minutes; most local and hosted non-reasoning models reject ``reasoning_effort``.
turnout reads the server's context window and fits the request to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.fakes.upstream import FakeUpstream
from turnout.core.store import read_rows
from turnout.server import ProxyHandle, ServerSettings, start_proxy_thread

SYSTEM = "You are Claude Code, a coding agent. " * 120  # ~1,100 tokens, as chars/4


@pytest.fixture
def llamacpp(tmp_path: Path) -> Iterator[tuple[ProxyHandle, FakeUpstream]]:
    with FakeUpstream(n_ctx=4096, models=("smollm2-135m",), stream_usage=False) as up:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
backends:
  llamacpp: {{kind: openai-compat, base_url: "{up.url}/v1"}}
routes:
  - {{match: "claude-*", backend: llamacpp, model: smollm2-135m}}
autodetect: {{environment: false, local: false}}
analytics: {{path: {tmp_path / "analytics.sqlite3"}}}
""")
        # discover=True: reading local servers' windows is part of discovery (ports are off above)
        proxy = start_proxy_thread(
            ServerSettings(port=0, config=str(config), confdir=str(tmp_path / "certs"), discover=True)
        )
        try:
            yield proxy, up
        finally:
            proxy.stop()


def _learned(proxy: ProxyHandle) -> object:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        backends = httpx.get(proxy.url + "/status").json()["backends"]
        if window := backends[0]["context_window"]:
            return window
        time.sleep(0.05)
    raise AssertionError("the proxy never learned the local server's context window")


def test_claude_codes_request_fits_a_4k_llama_cpp(
    llamacpp: tuple[ProxyHandle, FakeUpstream], caplog: pytest.LogCaptureFixture
) -> None:
    proxy, upstream = llamacpp
    assert _learned(proxy) == 4096
    caplog.set_level(logging.WARNING)
    client = anthropic.Anthropic(base_url=proxy.url, api_key="x", max_retries=0, timeout=60)
    for _ in range(2):
        reply = client.messages.create(
            model="claude-sonnet-5-5",
            max_tokens=32000,
            system=SYSTEM,
            thinking={"type": "enabled", "budget_tokens": 10000},
            messages=[{"role": "user", "content": "hi"}],
        )
        assert reply.content[0].type == "text"
        sent = upstream.last().json()
        assert sent["model"] == "smollm2-135m" and "reasoning_effort" not in sent
        assert 2000 < sent["max_tokens"] <= 4096 - 1100, sent["max_tokens"]
    said = [r.getMessage() for r in caplog.records if "llamacpp" in r.getMessage()]
    assert len([m for m in said if "max_tokens 32,000 →" in m and "context 4,096" in m]) == 1
    assert len([m for m in said if "reasoning_effort not sent" in m]) == 1


def test_a_stream_without_usage_gets_an_estimate_marked_as_such(
    llamacpp: tuple[ProxyHandle, FakeUpstream], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """llama.cpp ignores include_usage: Claude Code would see 0/0 and never compact."""
    proxy, upstream = llamacpp
    caplog.set_level(logging.WARNING)
    client = anthropic.Anthropic(base_url=proxy.url, api_key="x", max_retries=0)
    with client.messages.stream(
        model="claude-sonnet-5-5",
        max_tokens=1000,
        system=SYSTEM,
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert upstream.last().json()["stream_options"] == {"include_usage": True}  # asked, not answered
    assert 1000 < final.usage.input_tokens < 1300  # the system prompt, chars/4
    assert final.usage.output_tokens == -(-len(text) // 4) > 0
    proxy.stop()
    [row] = [r for r in read_rows(tmp_path / "analytics.sqlite3") if r["stream"]]
    assert row["estimated"] == 1 and row["tokens_in"] == final.usage.input_tokens
    assert row["tokens_out"] == final.usage.output_tokens
    assert any("llamacpp reports no usage in streams" in r.getMessage() for r in caplog.records)

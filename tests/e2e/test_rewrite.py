"""A route's model rewrite reaches the upstream whatever the client hides in the body."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Rig, proxy_on
from tests.fakes.upstream import FakeUpstream


@pytest.mark.parametrize(
    "raw",
    [
        rb'{"model":"house-\u0078","metadata":{"model":"house-x"},"messages":[]}',
        rb'{"model":"house-x","model":"house-x","messages":[]}',
        rb'{"m\u006fdel":"house-x","tools":[{"model":"house-x"}],"messages":[]}',
    ],
)
def test_the_rewrite_cannot_be_bypassed(rig: Rig, raw: bytes) -> None:
    r = httpx.post(
        rig.url + "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
    )
    assert r.status_code == 200, r.text
    sent = rig.upstream.last().body
    pairs = json.loads(sent, object_pairs_hook=lambda p: p)
    assert [v for k, v in pairs if k == "model"] == ["gpt-4o-mini"]


def test_claude_codes_user_id_is_not_sent_to_an_openai_style_provider(rig: Rig) -> None:
    user_id = "user_5b7e_account_1f00_session_a1b2c3d4"
    r = httpx.post(
        rig.url + "/v1/messages",
        json={
            "model": "fast",
            "max_tokens": 5,
            "metadata": {"user_id": user_id},
            "messages": [{"role": "user", "content": "x"}],
        },
        headers={"anthropic-version": "2023-06-01"},
    )
    assert r.status_code == 200, r.text
    sent = rig.upstream.last()
    assert sent.path == "/v1/chat/completions"
    assert user_id.encode() not in sent.body and "user" not in sent.json()


def test_a_rewrite_to_another_claude_takes_out_what_that_model_refuses(tmp_path: Path) -> None:
    """A rule sends claude-opus-4-1 to claude-sonnet-5-5: the history's thinking (signed by
    another model) and the sampling parameters the newest model refuses are taken out; a
    request for the model the client named passes byte for byte."""
    with (
        FakeUpstream() as up,
        proxy_on(
            f"""
backends:
  anth: {{kind: anthropic, base_url: "{up.url}", key: sk-ant}}
routes:
  - {{match: "claude-opus-4-1", backend: anth, model: claude-sonnet-5-5}}
autodetect: {{environment: false, local: false}}
analytics: {{enabled: false}}
""",
            tmp_path,
        ) as proxy,
    ):
        said = [{"type": "thinking", "thinking": "hm", "signature": "s"}, {"type": "text", "text": "yo"}]
        history = [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": said},
            {"role": "user", "content": "again"},
        ]
        body = {"model": "claude-opus-4-1", "max_tokens": 9, "temperature": 0.5, "messages": history}
        headers = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
        r = httpx.post(proxy.url + "/v1/messages", json=body, headers=headers)
        assert r.status_code == 200, r.text
        sent = up.last().json()
        assert sent["model"] == "claude-sonnet-5-5" and "temperature" not in sent
        assert sent["messages"][1]["content"] == [{"type": "text", "text": "yo"}]
        raw = json.dumps({**body, "model": "claude-sonnet-5-5"}).encode()
        assert httpx.post(proxy.url + "/v1/messages", content=raw, headers=headers).status_code == 200
        assert up.last().body == raw  # asked for by name: sent as written

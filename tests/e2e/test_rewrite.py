"""A route's model rewrite reaches the upstream whatever the client hides in the body."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.conftest import Rig


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

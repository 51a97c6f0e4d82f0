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

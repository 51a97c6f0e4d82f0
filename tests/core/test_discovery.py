from __future__ import annotations

from tests.fakes.upstream import FakeUpstream
from turnout.core.discovery import list_models, probe_local_servers
from turnout.core.providers import LocalServer


def test_probe_finds_servers_that_answer_and_skips_the_rest(upstream: FakeUpstream) -> None:
    found = probe_local_servers([LocalServer("fake", upstream.port), LocalServer("nothing", 1)])
    assert [(b.name, b.models, b.source) for b in found] == [
        ("fake", ("local-model-a", "local-model-b"), f"local :{upstream.port}")
    ]
    assert found[0].base_url == f"http://127.0.0.1:{upstream.port}/v1"
    assert probe_local_servers([]) == []


def test_list_models_sends_key(upstream: FakeUpstream) -> None:
    assert list_models(upstream.url + "/v1", key="k") == ["local-model-a", "local-model-b"]
    assert upstream.requests[-1].headers["authorization"] == "Bearer k"

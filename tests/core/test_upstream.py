"""The one builder of the upstream request: URL, headers, credential, body."""

from __future__ import annotations

import orjson

from turnout.core.endpoints import classify
from turnout.core.exchange import Exchange
from turnout.core.models import Backend, Config, Decision, KeySpec
from turnout.core.placement import Placement
from turnout.core.pool import Pool
from turnout.core.upstream import build_upstream, credential_headers

ANTH = Backend("anth", "anthropic", "https://api.anthropic.com", "sk-ant-1111")
OAI = Backend("oai", "openai", "https://api.openai.com/v1", "sk-oai-2222", headers=(("X-Extra", "1"),))
LOCAL = Backend("local", "openai-compat", "http://127.0.0.1:8080/v1")
POOLED = Backend(
    "pooled",
    "openai-compat",
    "https://a.example/v1",
    pool=(KeySpec("eu", "k-eu", "https://eu.example:8443/v2"),),
)
POOL = Pool(Config({b.name: b for b in (ANTH, OAI, LOCAL, POOLED)}))


def exchange(
    path: str, body: dict, headers: tuple = (), *, requested: str = "m", model: str = "m"
) -> tuple[Exchange, Decision]:
    endpoint = classify(path)
    assert endpoint is not None
    x = Exchange(endpoint, 0.0)
    x.raw = x.wire = orjson.dumps(body)
    x.body, x.fields = body, ((b"content-type", b"application/json"), *headers)
    return x, Decision(OAI, model, requested, "r")


def place(backend: Backend, model: str = "m") -> Placement:
    return Placement(POOL.states[backend.name][0], backend, model)


def test_same_dialect_passes_the_clients_bytes_with_the_backends_credential() -> None:
    x, x.decision = exchange(
        "/v1/chat/completions", {"model": "m"}, ((b"host", b"127.0.0.1:3456"), (b"x-api-key", b"c"))
    )
    up = build_upstream(x, place(OAI))
    assert up.url == "https://api.openai.com/v1/chat/completions" and up.target.host == "api.openai.com"
    assert up.body is x.wire and not up.body_changed and up.translation is None
    fields = dict(up.fields)
    assert fields[b"authorization"] == b"Bearer sk-oai-2222" and fields[b"x-extra"] == b"1"
    assert b"host" not in fields and fields[b"x-api-key"] == b"c"  # Anthropic's header only goes to Anthropic


def test_anthropic_gets_its_key_and_version_and_keeps_beta() -> None:
    x, x.decision = exchange(
        "/v1/messages", {"model": "m", "max_tokens": 5, "messages": []}, ((b"anthropic-beta", b"b1"),)
    )
    fields = dict(build_upstream(x, place(ANTH)).fields)
    assert fields[b"x-api-key"] == b"sk-ant-1111" and fields[b"anthropic-version"] == b"2023-06-01"
    assert fields[b"anthropic-beta"] == b"b1" and b"authorization" not in fields


def test_a_rewritten_model_is_spliced_in() -> None:
    x, x.decision = exchange("/v1/chat/completions", {"model": "alias"}, requested="alias", model="real")
    up = build_upstream(x, place(LOCAL, "real"))
    assert up.body_changed and orjson.loads(up.body) == {"model": "real"}
    assert b"authorization" not in dict(up.fields)  # a keyless local server
    assert up.url == "http://127.0.0.1:8080/v1/chat/completions"


def test_the_other_dialect_is_translated_for_its_own_path() -> None:
    x, x.decision = exchange(
        "/v1/messages", {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    )
    up = build_upstream(x, place(OAI))
    assert up.path == "/v1/chat/completions" and up.translation is not None
    assert orjson.loads(up.body)["messages"] == [{"role": "user", "content": "hi"}]
    fields = dict(up.fields)
    assert fields[b"content-type"] == b"application/json" and fields[b"accept-encoding"] == b"identity"


def test_a_deployment_key_has_its_own_url() -> None:
    x, x.decision = exchange("/v1/chat/completions", {"model": "m"})
    up = build_upstream(x, place(POOLED))
    assert (
        up.url == "https://eu.example:8443/v2/chat/completions" and up.target.authority == "eu.example:8443"
    )
    assert dict(up.fields)[b"authorization"] == b"Bearer k-eu"


def test_credential_headers_are_cached_per_backend_and_key() -> None:
    assert credential_headers("openai", "k", ()) is credential_headers("openai", "k", ())
    drop, add = credential_headers("openai", None, ())
    assert add == () and b"authorization" in drop and b"anthropic-beta" in drop and b"host" in drop

from __future__ import annotations

import orjson
from mitmproxy import http
from mitmproxy.test import taddons

from tests.addons.helpers import flow, runtime
from turnout.addons._flows import SENT, Exchanges
from turnout.addons._mitm import WireHeaders
from turnout.addons.chain import Chain
from turnout.addons.intake import Intake
from turnout.addons.router import Router

WIRE = WireHeaders()


def route(f: http.HTTPFlow) -> http.HTTPFlow:
    """Through the router as the chain calls it (refusals answered in the client's dialect)."""
    exchanges = Exchanges()
    chain = Chain([Intake(exchanges), Router(runtime(), exchanges, WIRE)], exchanges)
    with taddons.context(chain):
        chain.requestheaders(f)  # type: ignore[attr-defined]
        chain.request(f)  # type: ignore[attr-defined]
    if exchange := exchanges.get(f):
        f.metadata["routed"] = exchange.summary()  # what mitmweb gets once the request is over
    return f


def error_json(f: http.HTTPFlow) -> dict:
    assert f.response is not None
    return orjson.loads(f.response.content or b"")


def test_routes_and_records_the_decision() -> None:
    f = route(
        flow("/v1/messages?beta=true", {"model": "sonnet", "max_tokens": 5, "stream": True, "messages": []})
    )
    assert f.response is None
    assert f.request.url == "https://api.anthropic.com/v1/messages"
    assert orjson.loads(f.request.content)["model"].startswith("claude-sonnet-")
    assert f.request.headers["content-length"] == str(len(f.request.content))
    summary = f.metadata["routed"]
    assert summary["backend"] == "anth" and summary["requested"] == "sonnet" and summary["key"] == "default"
    assert summary["stream"] is True and summary["dialect"] == "anthropic"
    assert "sk-ant-secret" not in str(summary)
    assert f.request.headers["x-api-key"] == "sk-…1111"  # the flow (mitmweb, exports) holds it masked
    assert WIRE.held(f) == ((b"x-api-key", b"sk-ant-secret-1111"),)  # the wire gets the key, once
    assert f.metadata[SENT] == ("anth", "default")  # which key, for a replay: never the value
    assert (
        f.comment.startswith("sonnet → anth as claude-sonnet-")
        and "(alias sonnet, default claude-*)" in f.comment
    )


def test_unchanged_model_keeps_body_bytes() -> None:
    raw = b'{"model":"gpt-4o",  "messages":[]}'
    f = route(flow("/chat/completions", raw))
    assert f.request.raw_content == raw
    assert f.request.url == "https://api.openai.com/v1/chat/completions"


def test_count_tokens_estimated_locally_for_openai_backends() -> None:
    f = route(
        flow(
            "/v1/messages/count_tokens",
            {"model": "llama3:8b", "messages": [{"role": "user", "content": "abcd" * 10}]},
        )
    )
    assert f.response is not None and f.response.status_code == 200
    assert orjson.loads(f.response.content) == {"input_tokens": 14}


def test_other_dialect_is_translated() -> None:
    f = route(
        flow(
            "/v1/messages",
            {
                "model": "gpt-4o",
                "max_tokens": 9,
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
    )
    assert f.response is None
    assert f.request.url == "https://api.openai.com/v1/chat/completions"
    sent = orjson.loads(f.request.content)
    assert sent["messages"] == [{"role": "user", "content": "hi"}] and sent["max_completion_tokens"] == 9
    assert sent["stream_options"] == {"include_usage": True}
    assert f.request.headers["accept-encoding"] == "identity"
    assert f.metadata["routed"]["translated"] == "anthropic → openai"
    assert f.comment.endswith("[anthropic → openai]")


def test_untranslatable_endpoints_are_a_clear_400() -> None:
    f = route(flow("/v1/embeddings", {"model": "claude-x", "input": "x"}))
    assert f.response is not None and f.response.status_code == 400
    assert "cannot be translated" in error_json(f)["error"]["message"]


def test_not_found_wrong_method_and_size_limits() -> None:
    f = route(flow("/v2/other", {"model": "x"}))
    assert f.response is not None and f.response.status_code == 404
    f = route(flow("/v1/messages", method="GET"))
    assert f.response is not None and f.response.status_code == 400
    big = flow("/v1/chat/completions", {"model": "gpt-4o"}, headers={"content-length": str(64 * 1024 * 1024)})
    route(big)
    assert big.response is not None and big.response.status_code == 413


def test_undecodable_body_is_a_400() -> None:
    f = flow("/v1/chat/completions", b"\x00garbage", headers={"content-encoding": "gzip"})
    f.request.raw_content = b"\x00garbage"
    route(f)
    assert f.response is not None and f.response.status_code == 400


def test_existing_response_is_respected() -> None:
    f = flow("/v1/messages", {"model": "claude-x"})
    f.response = http.Response.make(204)
    route(f)
    assert f.response.status_code == 204 and "backend" not in f.metadata["routed"]  # never routed


def test_a_request_with_secrets_says_so_in_its_comment_never_the_values() -> None:
    from tests.core.secret_samples import SAMPLES

    key, token = SAMPLES["aws_access_key"], SAMPLES["github_token"]
    f = route(
        flow(
            "/v1/chat/completions",
            {"model": "gpt-4o", "messages": [{"role": "user", "content": f"{key} {token}"}]},
        )
    )
    assert f.response is None
    sent = f.request.content or b""
    assert key.encode() not in sent and b"[[secret:aws_access_key:1]]" in sent
    assert f.comment.endswith("[scrubbed 2 secrets (aws_access_key, github_token)]")
    assert key not in str(f.metadata) and token not in f.comment
    local = route(
        flow("/v1/chat/completions", {"model": "llama3:8b", "messages": [{"role": "user", "content": key}]})
    )
    assert key.encode() in (local.request.content or b"") and "scrubbed" not in local.comment  # local: off

"""The secret scrubber for real: the official SDKs of every dialect through a real proxy
to scripted backends of every API. The backends never see a secret the client sent; the
client gets the real values back, in text and in tool calls' arguments, whole and
streamed (the scripted model says placeholders back three characters at a time)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest
from google import genai
from google.genai import types

from tests.core.secret_samples import PEM, SAMPLES
from tests.e2e.conftest import proxy_on
from tests.e2e.test_every_pair import BACKENDS, CLIENTS, Client
from tests.fakes.upstream import FakeUpstream
from turnout.server import ProxyHandle

KEY_ID, SECRET = SAMPLES["aws_access_key"], SAMPLES["aws_secret_key"]
TOKEN = SAMPLES["github_token"]
WRITE = {"type": "object", "properties": {"content": {"type": "string"}}, "required": ["content"]}


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyHandle, FakeUpstream]]:
    tmp = tmp_path_factory.mktemp("scrub")
    with (
        FakeUpstream() as up,
        proxy_on(
            f"""
backends:
  anth: {{kind: anthropic, base_url: "{up.url}", key: sk-ant-scrub, scrub: redact}}
  chat: {{kind: openai-compat, base_url: "{up.url}/v1", key: sk-chat-scrub, scrub: redact}}
  resp: {{kind: openai-responses, base_url: "{up.url}/v1", key: sk-resp-scrub, scrub: redact}}
  gem: {{kind: gemini, base_url: "{up.url}/v1beta", key: AIza-gem-scrub, scrub: redact}}
  blk: {{kind: openai-compat, base_url: "{up.url}/v1", key: sk-blk-scrub, scrub: block}}
  local: {{kind: openai-compat, base_url: "{up.url}/v1", key: sk-local-scrub}}
autodetect: {{environment: false, local: false}}
analytics: {{path: "{tmp / "analytics.sqlite3"}"}}
""",
            tmp,
        ) as proxy,
    ):
        yield proxy, up


def never_sent(upstream: FakeUpstream, since: int, *values: str) -> None:
    for request in upstream.requests[since:]:
        seen = request.body.decode("utf-8", "replace") + request.path + json.dumps(request.headers)
        for value in values:
            for form in (value, json.dumps(value)[1:-1], json.dumps(json.dumps(value)[1:-1])[1:-1]):
                assert form not in seen, f"{value[:12]}… reached the backend"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("client", CLIENTS)
def test_a_file_with_keys_is_read_the_backend_sees_placeholders_the_client_the_keys(
    rig: tuple[ProxyHandle, FakeUpstream], client: str, backend: str, tmp_path: Path
) -> None:
    proxy, upstream = rig
    note = tmp_path / ".env"
    note.write_text(f"AWS_ACCESS_KEY_ID={KEY_ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
    before = len(upstream.requests)
    answer = Client(client, proxy.url).read_file_round_trip(f"{backend}:scripted-model", note)
    assert answer == f"The file says: AWS_ACCESS_KEY_ID={KEY_ID}"
    never_sent(upstream, before, KEY_ID, SECRET)
    sent = upstream.requests[-1].body.decode()
    assert "[[secret:aws_access_key:1]]" in sent and "[[secret:aws_secret_key:1]]" in sent


def echo(client: str, url: str, model: str, text: str, stream: bool) -> tuple[str, dict[str, Any]]:
    """Send ``ECHO:text`` with a ``write`` tool; the text and the call's arguments that come back."""
    ask = "ECHO:" + text
    if client == "anthropic":
        claude = anthropic.Anthropic(base_url=url, api_key="c", max_retries=0)
        request: dict[str, Any] = {
            "model": model,
            "max_tokens": 99,
            "messages": [{"role": "user", "content": ask}],
            "tools": [{"name": "write", "input_schema": WRITE}],
        }
        if stream:
            with claude.messages.stream(**request) as s:
                message = s.get_final_message()
        else:
            message = claude.messages.create(**request)
        said = "".join(b.text for b in message.content if b.type == "text")
        (call,) = [b.input for b in message.content if b.type == "tool_use"]
        return said, dict(call)  # type: ignore[call-overload]
    gpt = openai.OpenAI(base_url=url + "/v1", api_key="c", max_retries=0)
    if client == "chat":
        tools: Any = [{"type": "function", "function": {"name": "write", "parameters": WRITE}}]
        messages: Any = [{"role": "user", "content": ask}]
        if not stream:
            reply = (
                gpt.chat.completions.create(model=model, messages=messages, tools=tools).choices[0].message
            )
            assert reply.tool_calls
            return reply.content or "", json.loads(reply.tool_calls[0].function.arguments)  # type: ignore[union-attr]
        said, arguments = "", ""
        for chunk in gpt.chat.completions.create(model=model, messages=messages, tools=tools, stream=True):
            for choice in chunk.choices:
                said += choice.delta.content or ""
                arguments += "".join(
                    c.function.arguments or "" for c in choice.delta.tool_calls or [] if c.function
                )
        return said, json.loads(arguments)
    if client == "responses":
        tools = [{"type": "function", "name": "write", "parameters": WRITE}]
        if stream:
            with gpt.responses.stream(model=model, input=ask, tools=tools, store=False) as s:
                response = s.get_final_response()
        else:
            response = gpt.responses.create(model=model, input=ask, tools=tools, store=False)
        (call,) = [o for o in response.output if o.type == "function_call"]
        return response.output_text, json.loads(call.arguments)
    gemini = genai.Client(api_key="c", http_options=types.HttpOptions(base_url=url))
    config = types.GenerateContentConfig(
        tools=[
            types.Tool(
                function_declarations=[types.FunctionDeclaration(name="write", parameters_json_schema=WRITE)]
            )
        ],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    if stream:
        said, args = "", {}
        for chunk in gemini.models.generate_content_stream(model=model, contents=ask, config=config):
            for part in chunk.candidates[0].content.parts or []:  # type: ignore[index,union-attr]
                said += part.text or ""
                if part.function_call:
                    args = dict(part.function_call.args or {})
        return said, args
    answer = gemini.models.generate_content(model=model, contents=ask, config=config)
    parts = answer.candidates[0].content.parts or []  # type: ignore[index,union-attr]
    said = "".join(p.text or "" for p in parts)
    (call,) = [p.function_call for p in parts if p.function_call]
    return said, dict(call.args or {})


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("client", CLIENTS)
def test_placeholders_said_back_in_pieces_reach_the_client_as_the_secrets(
    rig: tuple[ProxyHandle, FakeUpstream], client: str, backend: str, stream: bool
) -> None:
    """Text cut into three-character deltas and tool arguments into five-character ones:
    every placeholder arrives split; a key file's newlines survive JSON in the arguments."""
    proxy, upstream = rig
    text = f'my token {TOKEN}, my key:\n{PEM}\nand "{TOKEN}" again'
    before = len(upstream.requests)
    said, arguments = echo(client, proxy.url, f"{backend}:scripted-model", text, stream)
    assert said == text and arguments == {"content": text}
    never_sent(upstream, before, TOKEN, PEM, PEM.split("\n")[1])
    assert "[[secret:github_token:1]]" in upstream.requests[-1].body.decode()


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        (
            "/v1/messages",
            {"max_tokens": 9, "messages": [{"role": "user", "content": "MSG"}]},
            {"anthropic-version": "2023-06-01"},
        ),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "MSG"}]}, {}),
        ("/v1/responses", {"input": "MSG"}, {}),
        ("/v1beta/models/blk:m:generateContent", {"contents": [{"parts": [{"text": "MSG"}]}]}, {}),
    ],
    ids=["messages", "chat", "responses", "gemini"],
)
def test_block_refuses_in_the_clients_dialect_naming_kinds_not_values(
    rig: tuple[ProxyHandle, FakeUpstream], path: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    proxy, upstream = rig
    before = len(upstream.requests)
    raw = json.dumps({"model": "blk:m", **body}).replace("MSG", f"key {KEY_ID} and {TOKEN}")
    answer = httpx.post(
        proxy.url + path, content=raw, headers={"content-type": "application/json", **headers}
    )
    assert answer.status_code == 400
    error = answer.json()
    message = (error.get("error") or {}).get("message", "")
    assert "aws_access_key" in message and "github_token" in message and "scrub" in message
    assert KEY_ID not in answer.text and TOKEN not in answer.text
    if path.startswith("/v1/messages"):
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    if "generateContent" in path:
        assert error["error"]["status"] == "INVALID_ARGUMENT"
    assert len(upstream.requests) == before  # nothing went out


def test_a_local_backend_sees_local_secrets_by_default(rig: tuple[ProxyHandle, FakeUpstream]) -> None:
    proxy, upstream = rig
    gpt = openai.OpenAI(base_url=proxy.url + "/v1", api_key="c", max_retries=0)
    gpt.chat.completions.create(model="local:m", messages=[{"role": "user", "content": f"key {KEY_ID}"}])
    assert KEY_ID in upstream.last().body.decode()


def test_counted_in_analytics_and_said_in_the_log(rig: tuple[ProxyHandle, FakeUpstream]) -> None:
    proxy, _ = rig
    before = httpx.get(proxy.url + "/analytics").json()["last_hour"]["totals"].get("scrubbed", 0)
    gpt = openai.OpenAI(base_url=proxy.url + "/v1", api_key="c", max_retries=0)
    reply = gpt.chat.completions.with_raw_response.create(
        model="chat:m", messages=[{"role": "user", "content": f"{KEY_ID} {SECRET} {TOKEN}"}]
    )
    assert reply.http_response.status_code == 200
    after = httpx.get(proxy.url + "/analytics").json()["last_hour"]
    assert after["totals"]["scrubbed"] == before + 3
    assert orjson.dumps(after).find(KEY_ID.encode()) < 0

"""Every client dialect to every backend API, through one real proxy: the official SDKs
(anthropic, openai Chat and Responses, google-genai) against scripted backends speaking
Anthropic Messages, Chat Completions, the Responses API only, and Gemini's native API.

For each pair, streamed and whole: the answer's text arrives intact; and a tool round trip
(the model asks to read a file, the client sends the contents back, the model quotes
them) completes, with the call's id and arguments surviving both ways.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from tests.e2e.conftest import proxy_on
from tests.fakes.upstream import FakeUpstream
from turnout.server import ProxyHandle

BACKENDS = {"anth": "/v1/messages", "chat": "/v1/chat/completions", "resp": "/v1/responses", "gem": ":"}
CLIENTS = ["anthropic", "chat", "responses", "gemini"]
WORDS = "".join(f"w{i} " for i in range(20))


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ProxyHandle, FakeUpstream]]:
    tmp = tmp_path_factory.mktemp("pairs")
    with (
        FakeUpstream() as up,
        proxy_on(
            f"""
backends:
  anth: {{kind: anthropic, base_url: "{up.url}", key: sk-ant-pairs}}
  chat: {{kind: openai-compat, base_url: "{up.url}/v1", key: sk-chat-pairs}}
  resp: {{kind: openai-responses, base_url: "{up.url}/v1", key: sk-resp-pairs}}
  gem: {{kind: gemini, base_url: "{up.url}/v1beta", key: AIza-gem-pairs}}
autodetect: {{environment: false, local: false}}
analytics: {{path: "{tmp / "analytics.sqlite3"}"}}
""",
            tmp,
        ) as proxy,
    ):
        yield proxy, up


READ_FILE_SCHEMA = {
    "type": "object",
    "properties": {"file_path": {"type": "string"}},
    "required": ["file_path"],
}


class Client:
    """One SDK, asked the same two things whatever it speaks."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        self.claude = anthropic.Anthropic(base_url=url, api_key="client-key", max_retries=0)
        self.gpt = openai.OpenAI(base_url=url + "/v1", api_key="client-key", max_retries=0)
        self.gemini = genai.Client(api_key="client-key", http_options=types.HttpOptions(base_url=url))

    def text(self, model: str, stream: bool) -> str:
        if self.kind == "anthropic":
            ask: dict[str, Any] = {
                "model": model,
                "max_tokens": 50,
                "messages": [{"role": "user", "content": "hi"}],
            }
            if stream:
                with self.claude.messages.stream(**ask) as s:
                    return "".join(s.text_stream)
            return "".join(b.text for b in self.claude.messages.create(**ask).content if b.type == "text")
        if self.kind == "chat":
            messages: Any = [{"role": "user", "content": "hi"}]
            if stream:
                chunks = self.gpt.chat.completions.create(model=model, messages=messages, stream=True)
                return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            return (
                self.gpt.chat.completions.create(model=model, messages=messages).choices[0].message.content
                or ""
            )
        if self.kind == "responses":
            if stream:
                with self.gpt.responses.stream(model=model, input="hi") as s:
                    return s.get_final_response().output_text
            return self.gpt.responses.create(model=model, input="hi").output_text
        if stream:
            return "".join(
                c.text or "" for c in self.gemini.models.generate_content_stream(model=model, contents="hi")
            )
        return self.gemini.models.generate_content(model=model, contents="hi").text or ""

    def read_file_round_trip(self, model: str, note: Path) -> str:
        """Ask about ``note``; run the one read_file call the model makes; return its answer."""
        ask = f"What does FILE:{note} say?"
        if self.kind == "anthropic":
            tools: Any = [
                {"name": "read_file", "description": "Read a file.", "input_schema": READ_FILE_SCHEMA}
            ]
            history: list[Any] = [{"role": "user", "content": ask}]
            first = self.claude.messages.create(model=model, max_tokens=99, messages=history, tools=tools)
            (call,) = [b for b in first.content if b.type == "tool_use"]
            assert call.name == "read_file" and call.input == {"file_path": str(note)}
            history += [
                {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call.id, "content": note.read_text()}],
                },
            ]
            second = self.claude.messages.create(model=model, max_tokens=99, messages=history, tools=tools)
            return "".join(b.text for b in second.content if b.type == "text")
        if self.kind == "chat":
            tools = [{"type": "function", "function": {"name": "read_file", "parameters": READ_FILE_SCHEMA}}]
            history = [{"role": "user", "content": ask}]
            message = (
                self.gpt.chat.completions.create(model=model, messages=history, tools=tools)
                .choices[0]
                .message
            )
            (call,) = message.tool_calls or []
            assert call.function.name == "read_file" and json.loads(call.function.arguments) == {
                "file_path": str(note)
            }
            history += [
                message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": note.read_text()},
            ]
            return (
                self.gpt.chat.completions.create(model=model, messages=history, tools=tools)
                .choices[0]
                .message.content
                or ""
            )
        if self.kind == "responses":
            tools = [{"type": "function", "name": "read_file", "parameters": READ_FILE_SCHEMA}]
            history = [{"role": "user", "content": ask}]
            first = self.gpt.responses.create(model=model, input=history, tools=tools, store=False)
            (call,) = [o for o in first.output if o.type == "function_call"]
            assert call.name == "read_file" and json.loads(call.arguments) == {"file_path": str(note)}
            history += [o.model_dump(exclude_none=True) for o in first.output]
            history.append(
                {"type": "function_call_output", "call_id": call.call_id, "output": note.read_text()}
            )
            return self.gpt.responses.create(model=model, input=history, tools=tools, store=False).output_text
        declaration = types.FunctionDeclaration(name="read_file", parameters_json_schema=READ_FILE_SCHEMA)
        config = types.GenerateContentConfig(
            tools=[types.Tool(function_declarations=[declaration])],
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )
        question = types.Content(role="user", parts=[types.Part(text=ask)])
        first = self.gemini.models.generate_content(model=model, contents=[question], config=config)
        (call,) = first.function_calls or []
        assert call.name == "read_file" and call.args == {"file_path": str(note)}
        reply = types.Part(
            function_response=types.FunctionResponse(
                id=call.id, name="read_file", response={"output": note.read_text()}
            )
        )
        history = [question, first.candidates[0].content, types.Content(role="user", parts=[reply])]
        return self.gemini.models.generate_content(model=model, contents=history, config=config).text or ""


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("client", CLIENTS)
def test_text_reaches_every_client_from_every_backend(
    rig: tuple[ProxyHandle, FakeUpstream], client: str, backend: str, stream: bool
) -> None:
    proxy, upstream = rig
    answer = Client(client, proxy.url).text(f"{backend}:plain-model", stream)
    assert answer == (WORDS if stream else "hello from plain-model")
    sent = upstream.last()
    assert BACKENDS[backend] in sent.path
    assert "client-key" not in json.dumps(dict(sent.headers)) + sent.path


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("client", CLIENTS)
def test_a_tool_round_trip_for_every_pair(
    rig: tuple[ProxyHandle, FakeUpstream], client: str, backend: str, tmp_path: Path
) -> None:
    proxy, upstream = rig
    note = tmp_path / "note.txt"
    note.write_text("the password is swordfish\n")
    before = len(upstream.requests)
    answer = Client(client, proxy.url).read_file_round_trip(f"{backend}:scripted-model", note)
    assert answer == "The file says: the password is swordfish"
    turns = upstream.requests[before:]
    assert len(turns) == 2 and all(BACKENDS[backend] in r.path for r in turns)
    assert "swordfish" in turns[-1].body.decode()  # the file's contents went back as the tool's result


def test_claude_codes_hint_headers_and_prompt_size_choose_the_backend(tmp_path: Path) -> None:
    with (
        FakeUpstream() as up,
        proxy_on(
            f"""
backends:
  main: {{kind: anthropic, base_url: "{up.url}", key: sk-main}}
  cheap: {{kind: openai-compat, base_url: "{up.url}/v1", key: sk-cheap}}
  long: {{kind: gemini, base_url: "{up.url}/v1beta", key: AIza-long}}
routes:
  - {{when: {{request_class: subagent}}, backend: cheap, model: small-model}}
  - {{match: "claude-*", when: {{tokens_over: 2000}}, backend: long, model: long-model}}
autodetect: {{environment: false, local: false}}
analytics: {{enabled: false}}
""",
            tmp_path,
        ) as proxy,
    ):
        claude = anthropic.Anthropic(base_url=proxy.url, api_key="x", max_retries=0)
        ask: dict[str, Any] = {"model": "claude-sonnet-5-5", "max_tokens": 20}
        hi = [{"role": "user", "content": "hi"}]
        claude.messages.create(**ask, messages=hi)
        assert up.last().path == "/v1/messages"
        raw = claude.messages.with_raw_response.create(
            **ask, messages=hi, extra_headers={"x-claude-code-request-class": "subagent"}
        )
        assert up.last().path == "/v1/chat/completions" and up.last().json()["model"] == "small-model"
        assert raw.headers["x-turnout-backend"] == "cheap"
        claude.messages.create(**ask, messages=[{"role": "user", "content": "x " * 5000}])
        assert up.last().path == "/v1beta/models/long-model:generateContent"
        claude.messages.create(**ask, messages=hi, extra_headers={"x-claude-code-request-class": "main"})
        assert up.last().path == "/v1/messages"

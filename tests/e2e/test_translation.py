"""Any client reaches any model: the official SDKs, multi-turn streaming tool use, both ways."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import openai
import pytest

from tests.e2e.conftest import Rig

READ_TOOL = {
    "name": "read_file",
    "description": "Read a text file",
    "input_schema": {
        "type": "object",
        "properties": {"file_path": {"type": "string"}},
        "required": ["file_path"],
    },
}


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "note.txt"
    path.write_text("the password is swordfish\n")
    return path


@pytest.mark.parametrize("model", ["compat:scripted-model", "oai:scripted-model"])
def test_anthropic_sdk_runs_a_streaming_tool_conversation_on_an_openai_backend(
    rig: Rig, secret_file: Path, model: str
) -> None:
    client = anthropic.Anthropic(base_url=rig.url, api_key="x", max_retries=0)
    messages: list[dict] = [{"role": "user", "content": f"What does FILE:{secret_file} say?"}]
    with client.messages.stream(model=model, max_tokens=500, tools=[READ_TOOL], messages=messages) as stream:
        events = [e.type for e in stream]
        first = stream.get_final_message()
    assert events.count("message_start") == 1 and events[-1] == "message_stop"
    assert first.stop_reason == "tool_use"
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert call.name == "read_file" and call.input == {"file_path": str(secret_file)}
    upstream = rig.upstream.last().json()
    assert (
        upstream["tools"][0]["function"]["name"] == "read_file"
        and upstream["stream_options"]["include_usage"]
    )

    messages += [
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": secret_file.read_text()}],
        },
    ]
    with client.messages.stream(model=model, max_tokens=500, tools=[READ_TOOL], messages=messages) as stream:
        text = "".join(stream.text_stream)
        second = stream.get_final_message()
    assert text == "The file says: the password is swordfish" and second.stop_reason == "end_turn"
    sent = rig.upstream.last().json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    # The client saw an id unique to this response; the upstream gets its own id back.
    assert call.id.startswith("call_scripted_1-t")
    assert sent[1]["tool_calls"][0]["id"] == sent[2]["tool_call_id"] == "call_scripted_1"


def test_openai_sdk_runs_a_streaming_tool_conversation_on_an_anthropic_backend(
    rig: Rig, secret_file: Path
) -> None:
    client = openai.OpenAI(base_url=rig.url + "/v1", api_key="x", max_retries=0)
    tools = [
        {
            "type": "function",
            "function": {
                "name": READ_TOOL["name"],
                "description": READ_TOOL["description"],
                "parameters": READ_TOOL["input_schema"],
            },
        }
    ]
    messages: list[dict] = [{"role": "user", "content": f"What does FILE:{secret_file} say?"}]
    with client.chat.completions.stream(model="claude-scripted", tools=tools, messages=messages) as stream:
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls or []
    assert call.function.name == "read_file" and json.loads(call.function.arguments) == {
        "file_path": str(secret_file)
    }
    upstream = rig.upstream.last()
    assert upstream.path == "/v1/messages" and upstream.json()["tools"][0]["name"] == "read_file"

    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": secret_file.read_text()},
    ]
    chunks = list(
        client.chat.completions.create(
            model="claude-scripted",
            tools=tools,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The file says: the password is swordfish"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    sent = rig.upstream.last().json()["messages"]
    assert sent[-1]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": call.id,
        "content": [{"type": "text", "text": secret_file.read_text()}],
    }


def test_non_streaming_both_ways(rig: Rig, secret_file: Path) -> None:
    claude = anthropic.Anthropic(base_url=rig.url, api_key="x", max_retries=0)
    msg = claude.messages.create(
        model="compat:scripted-x",
        max_tokens=50,
        tools=[READ_TOOL],
        messages=[{"role": "user", "content": f"FILE:{secret_file}"}],
    )
    assert msg.stop_reason == "tool_use" and msg.model == "compat:scripted-x"
    gpt = openai.OpenAI(base_url=rig.url + "/v1", api_key="x", max_retries=0)
    done = gpt.chat.completions.create(model="claude-scripted", messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content == "OK" and done.choices[0].finish_reason == "stop"


def test_upstream_errors_arrive_in_the_clients_dialect(rig: Rig) -> None:
    claude = anthropic.Anthropic(base_url=rig.url, api_key="x", max_retries=0)
    with pytest.raises(anthropic.RateLimitError) as e:
        claude.messages.create(
            model="limited:groq-error-429", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert e.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "fake 429"}}
    assert e.value.response.headers["retry-after"] == "7"
    gpt = openai.OpenAI(base_url=rig.url + "/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.InternalServerError) as o:
        gpt.chat.completions.create(model="claude-error-500", messages=[{"role": "user", "content": "x"}])
    assert o.value.body["message"] == "fake 500"  # type: ignore[index]


def test_count_tokens_on_a_translated_route_is_an_estimate_with_system_and_tools(rig: Rig) -> None:
    claude = anthropic.Anthropic(base_url=rig.url, api_key="x", max_retries=0)
    small = claude.messages.count_tokens(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    big = claude.messages.count_tokens(
        model="gpt-4o", system="s" * 400, tools=[READ_TOOL], messages=[{"role": "user", "content": "hi"}]
    )
    assert big.input_tokens >= small.input_tokens + 100 + 20

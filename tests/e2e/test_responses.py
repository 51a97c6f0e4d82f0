"""The ``openai`` SDK's Responses API through a real proxy to backends that do not serve it:
Anthropic Messages and an OpenAI-compatible Chat server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from tests.e2e.conftest import ANTHROPIC_KEY, COMPAT_KEY, Rig

TOOLS = [
    {
        "type": "function",
        "name": "read_file",
        "description": "Read a file.",
        "parameters": {"type": "object", "properties": {"file_path": {"type": "string"}}},
    },
    {"type": "web_search"},  # hosted: dropped for these backends, never an error
]


@pytest.fixture
def gpt(rig: Rig) -> openai.OpenAI:
    return openai.OpenAI(base_url=rig.url + "/v1", api_key="placeholder-not-forwarded", max_retries=0)


@pytest.mark.parametrize(
    ("model", "path", "credential"),
    [
        ("claude-sonnet-5-5", "/v1/messages", ("x-api-key", ANTHROPIC_KEY)),
        ("local-model-a", "/v1/chat/completions", ("authorization", f"Bearer {COMPAT_KEY}")),
    ],
)
def test_responses_create_reaches_a_backend_of_another_dialect(
    gpt: openai.OpenAI, rig: Rig, model: str, path: str, credential: tuple[str, str]
) -> None:
    raw = gpt.responses.with_raw_response.create(
        model=model, instructions="Be brief.", input="hi", max_output_tokens=64
    )
    response = raw.parse()
    assert response.status == "completed" and response.model == model
    assert response.output_text == f"hello from {model}"
    assert response.usage is not None and response.usage.output_tokens > 0
    sent = rig.upstream.last()
    assert sent.path == path and sent.headers[credential[0]] == credential[1]
    body = sent.json()
    assert "input" not in body and "instructions" not in body
    assert "Be brief." in json.dumps(body)


@pytest.mark.parametrize("model", ["claude-haiku-5-5", "local-model-a"])
def test_responses_stream_reaches_a_backend_of_another_dialect(gpt: openai.OpenAI, model: str) -> None:
    with gpt.responses.stream(model=model, input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "".join(f"w{i} " for i in range(20))
    assert final.status == "completed" and final.usage is not None and final.usage.output_tokens == 20


def test_a_function_tool_round_trip_with_full_history(gpt: openai.OpenAI, rig: Rig, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("the password is swordfish\n")
    history: list = [{"role": "user", "content": f"What does FILE:{note} say?"}]
    first = gpt.responses.create(model="claude-scripted-1", input=history, tools=TOOLS, store=False)
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "read_file"
    assert json.loads(calls[0].arguments) == {"file_path": str(note)}
    history += [o.model_dump(exclude_none=True) for o in first.output]
    history.append({"type": "function_call_output", "call_id": calls[0].call_id, "output": note.read_text()})
    second = gpt.responses.create(model="claude-scripted-1", input=history, tools=TOOLS, store=False)
    assert second.output_text == "The file says: the password is swordfish"
    sent = rig.upstream.last().json()
    names = [t["name"] for t in sent["tools"]]
    assert names == ["read_file"]  # web_search dropped
    uses = [b for m in sent["messages"] for b in m["content"] if b.get("type") == "tool_use"]
    results = [b for m in sent["messages"] for b in m["content"] if b.get("type") == "tool_result"]
    assert uses[0]["id"] == results[0]["tool_use_id"] == "call_scripted_1"  # the upstream's own id back


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input": 5}, "input"),
        ({"input": [{"type": "message"}]}, "input[0].role"),
        ({"input": "x", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"input": [{"type": "function_call", "name": "f"}]}, "input[0].call_id"),
        ({"input": "x", "temperature": "hot"}, "temperature"),
        ({"input": []}, "input"),
    ],
)
def test_a_malformed_request_is_a_400_naming_the_field(rig: Rig, body: dict, field: str) -> None:
    r = httpx.post(rig.url + "/v1/responses", json={"model": "claude-sonnet-5-5", **body})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"].startswith(field)
    assert httpx.get(rig.url + "/health").status_code == 200


def test_a_backend_error_reaches_the_sdk_as_its_own_exception(gpt: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        gpt.responses.create(model="groq-error-400", input="x")
    with pytest.raises(openai.InternalServerError):
        gpt.responses.create(model="groq-error-500", input="x")


@pytest.mark.parametrize("model", ["claude-sonnet-5-5", "local-model-a"])
def test_previous_response_id_continues_on_any_backend(gpt: openai.OpenAI, rig: Rig, model: str) -> None:
    first = gpt.responses.create(model=model, input="My name is Ada.", instructions="Be brief.")
    second = gpt.responses.create(model=model, input="What is my name?", previous_response_id=first.id)
    assert second.status == "completed"
    sent = json.dumps(rig.upstream.last().json())
    assert "My name is Ada." in sent and f"hello from {model}" in sent and "What is my name?" in sent
    third = gpt.responses.create(model=model, input="And again?", previous_response_id=second.id)
    sent = json.dumps(rig.upstream.last().json())
    assert all(text in sent for text in ("My name is Ada.", "What is my name?", "And again?"))
    assert third.id != second.id != first.id


def test_an_unknown_or_unstored_previous_response_id_is_a_clear_400(gpt: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="previous_response_id"):
        gpt.responses.create(model="claude-sonnet-5-5", input="x", previous_response_id="resp_never_seen")
    forgotten = gpt.responses.create(model="claude-sonnet-5-5", input="x", store=False)
    with pytest.raises(openai.BadRequestError, match="not a response turnout kept"):
        gpt.responses.create(model="claude-sonnet-5-5", input="y", previous_response_id=forgotten.id)


def test_previous_response_id_after_a_streamed_answer(gpt: openai.OpenAI, rig: Rig) -> None:
    with gpt.responses.stream(model="claude-haiku-5-5", input="Remember: swordfish.") as stream:
        first = stream.get_final_response()
    gpt.responses.create(model="claude-haiku-5-5", input="What was it?", previous_response_id=first.id)
    sent = json.dumps(rig.upstream.last().json())
    assert "Remember: swordfish." in sent and "w19" in sent

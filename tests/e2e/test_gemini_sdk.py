"""Google's ``google-genai`` SDK through a real proxy to backends that do not speak Gemini:
Anthropic Messages and an OpenAI-compatible Chat server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.e2e.conftest import ANTHROPIC_KEY, COMPAT_KEY, Rig

MODELS = [("claude-sonnet-5-5", "/v1/messages"), ("local-model-a", "/v1/chat/completions")]


def client(rig: Rig, version: str = "v1beta") -> genai.Client:
    return genai.Client(
        api_key="placeholder-not-forwarded",
        http_options=types.HttpOptions(base_url=rig.url, api_version=version, retry_options=None),
    )


@pytest.mark.parametrize("version", ["v1beta", "v1"])
@pytest.mark.parametrize(("model", "path"), MODELS)
def test_generate_content_reaches_a_backend_of_another_dialect(
    rig: Rig, model: str, path: str, version: str
) -> None:
    gemini = client(rig, version)  # held: the SDK closes its HTTP client when the Client is collected
    answer = gemini.models.generate_content(
        model=model,
        contents="hi",
        config=types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=64),
    )
    assert answer.text == f"hello from {model}"
    assert answer.candidates[0].finish_reason == types.FinishReason.STOP
    assert answer.usage_metadata is not None and answer.usage_metadata.candidates_token_count
    sent = rig.upstream.last()
    assert sent.path == path and "Be brief." in json.dumps(sent.json())
    assert "placeholder-not-forwarded" not in json.dumps(dict(sent.headers)) + sent.path
    credential = sent.headers.get("x-api-key") or sent.headers["authorization"]
    assert credential.endswith(ANTHROPIC_KEY if path == "/v1/messages" else COMPAT_KEY)


@pytest.mark.parametrize(("model", "path"), MODELS)
def test_generate_content_stream(rig: Rig, model: str, path: str) -> None:
    gemini = client(rig)
    chunks = list(gemini.models.generate_content_stream(model=model, contents="hi"))
    assert "".join(c.text or "" for c in chunks) == "".join(f"w{i} " for i in range(20))
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata is not None and chunks[-1].usage_metadata.candidates_token_count == 20


def test_a_function_call_round_trip(rig: Rig, tmp_path: Path) -> None:
    note = tmp_path / "note.txt"
    note.write_text("the password is swordfish\n")
    read_file = types.FunctionDeclaration(
        name="read_file",
        description="Read a file.",
        parameters=types.Schema(type="OBJECT", properties={"file_path": types.Schema(type="STRING")}),
    )
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[read_file])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    ask = types.Content(role="user", parts=[types.Part(text=f"What does FILE:{note} say?")])
    gemini = client(rig)
    first = gemini.models.generate_content(model="claude-scripted-1", contents=[ask], config=config)
    calls = first.function_calls or []
    assert len(calls) == 1 and calls[0].name == "read_file" and calls[0].args == {"file_path": str(note)}
    reply = types.Part.from_function_response(name="read_file", response={"output": note.read_text()})
    history = [ask, first.candidates[0].content, types.Content(role="user", parts=[reply])]
    second = gemini.models.generate_content(model="claude-scripted-1", contents=history, config=config)
    assert second.text == "The file says: the password is swordfish"
    sent = rig.upstream.last().json()
    assert sent["tools"][0]["input_schema"]["properties"]["file_path"]["type"] == "string"  # Gemini's STRING


def test_count_tokens_and_the_model_list(rig: Rig) -> None:
    gemini = client(rig)
    counted = gemini.models.count_tokens(model="claude-sonnet-5-5", contents="hello there, world")
    assert counted.total_tokens == 5  # "hello there, world" is 18 characters: chars/4, rounded up
    names = [m.name for m in gemini.models.list()]
    assert "models/local-model-a" in names


def test_a_key_in_the_query_is_taken_off_and_never_forwarded(rig: Rig) -> None:
    url = rig.url + "/v1beta/models/local-model-a:generateContent?key=AIzaSECRETclientkey&alt=json"
    r = httpx.post(url, json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    assert r.status_code == 200, r.text
    sent = rig.upstream.last()
    assert "AIzaSECRET" not in sent.path + json.dumps(dict(sent.headers)) + sent.body.decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contents": 5}, "contents"),
        (
            {"contents": [{"role": "user", "parts": [{"functionCall": {"args": {}}}]}]},
            "contents[0].parts[0].functionCall.name",
        ),
        (
            {
                "contents": [{"role": "user", "parts": [{"text": "x"}]}],
                "generationConfig": {"temperature": "hot"},
            },
            "generationConfig.temperature",
        ),
        ({"contents": []}, "contents"),
    ],
)
def test_a_malformed_request_is_a_gemini_400_naming_the_field(rig: Rig, body: dict, field: str) -> None:
    r = httpx.post(rig.url + "/v1beta/models/claude-sonnet-5-5:generateContent", json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert (
        error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and error["message"].startswith(field)
    )


def test_backend_errors_reach_the_sdk_as_its_own_exceptions(rig: Rig) -> None:
    gemini = client(rig)
    with pytest.raises(errors.ClientError) as refused:
        gemini.models.generate_content(model="groq-error-400", contents="x")
    assert refused.value.code == 400
    with pytest.raises(errors.ServerError):
        gemini.models.generate_content(model="groq-error-500", contents="x")
    with pytest.raises(errors.ClientError) as unknown:
        gemini.models.generate_content(model="no-such-model-anywhere", contents="x")
    assert unknown.value.code == 404

"""Malformed requests to a translated route are the client's 400, naming the field."""

from __future__ import annotations

import pytest

from turnout.core.dialects.context import Context
from turnout.core.dialects.translate import translate_request, translate_response
from turnout.core.dialects.validate import check_request
from turnout.core.errors import BadRequest, BadUpstreamResponse
from turnout.core.models import Backend

OAI = Backend("oai", "openai", "https://api.openai.com/v1", "k")
ANTH = Backend("anth", "anthropic", "https://api.anthropic.com", "k")
ASK = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": 1}, "messages: must be an array"),
        ({**ASK, "messages": [{"role": "user", "content": [{"type": "image", "source": "x"}]}]},
         "messages[0].content[0].source: must be an object"),
        ({**ASK, "thinking": {"type": "enabled", "budget_tokens": "x"}},
         "thinking.budget_tokens: must be a whole number"),
        ({**ASK, "temperature": "hot"}, "temperature: must be a number"),
        ({**ASK, "temperature": float("nan")}, "temperature: must be a number"),
        ({**ASK, "system": 5}, "system: must be a string or an array"),
        ({**ASK, "tools": [{"name": 5}]}, "tools[0].name: must be a string"),
    ],
)  # fmt: skip
def test_anthropic_clients_mistakes_name_the_field(body: dict, field: str) -> None:
    with pytest.raises(
        BadRequest,
        match=field.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(").replace(")", r"\)"),
    ):
        translate_request(body, endpoint="messages", backend=OAI, model="m", requested="m")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**ASK, "stop": 5}, "stop: must be a string or an array of strings"),
        ({**ASK, "n": "2"}, "n: must be a whole number"),
        ({**ASK, "response_format": "x"}, "response_format: must be an object"),
        ({**ASK, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]},
         "messages[0].content[0].image_url: must be an object"),
        ({**ASK, "tools": [{"type": "function", "function": 5}]}, "tools[0].function: must be an object"),
        ({**ASK, "max_tokens": -1}, "max_tokens: must be a whole number from 0"),
        ({**ASK, "stream": "yes"}, "stream: must be true or false"),
    ],
)  # fmt: skip
def test_openai_clients_mistakes_name_the_field(body: dict, field: str) -> None:
    with pytest.raises(BadRequest) as e:
        translate_request(body, endpoint="chat", backend=ANTH, model="m", requested="m")
    assert field in e.value.message


@pytest.mark.parametrize(
    ("dialect", "messages", "field"),
    [
        ("anthropic", [None], "messages[0]: must be an object (got null)"),
        ("anthropic", [{"content": "x"}], "messages[0].role: required"),
        ("anthropic", [{"role": "user", "content": [{"type": "tool_result", "content": 7}]}],
         "messages[0].content[0].content: must be a string or an array"),
        ("openai", [{"role": "assistant", "tool_calls": [{"function": {"arguments": 3}}]}],
         "messages[0].tool_calls[0].function.arguments: must be a string or an object"),
    ],
)  # fmt: skip
def test_the_deep_check_names_message_level_mistakes(dialect: str, messages: list, field: str) -> None:
    with pytest.raises(BadRequest) as e:
        check_request({**ASK, "messages": messages}, dialect)
    assert field in e.value.message


def test_what_the_translators_do_not_read_passes() -> None:
    blocks = [{"type": "some_new_block", "payload": 5}, {"type": "text", "text": "hi", "extra": None}]
    odd = {**ASK, "vendor_field": {"anything": [1, None]}, "messages": [{"role": "user", "content": blocks}]}
    check_request(odd, "anthropic")
    translate_request(odd, endpoint="messages", backend=OAI, model="m", requested="m")


def test_absurd_nesting_is_a_400_not_a_crash() -> None:
    deep: dict = {}
    for _ in range(300):
        deep = {"d": deep}
    body = {**ASK, "tools": [{"name": "t", "input_schema": deep}]}
    with pytest.raises(BadRequest, match="nested too deeply"):
        translate_request(body, endpoint="messages", backend=OAI, model="m", requested="m")


@pytest.mark.parametrize(
    "body",
    [
        b"<html>oops</html>",
        b"[1, 2]",
        b'{"choices": 5}',
        b'{"choices": [{"message": 7}]}',
        b'{"content": "x"}',
    ],
)
def test_a_backend_answer_of_the_wrong_shape_is_a_502(body: bytes) -> None:
    for ctx in (Context("anthropic", "openai", "m"), Context("openai", "anthropic", "m")):
        with pytest.raises(BadUpstreamResponse, match="could not be read") as caught:
            translate_response(body, 200, ctx)
        assert caught.value.status == 502

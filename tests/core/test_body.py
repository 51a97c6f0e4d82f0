from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.core.body import parse_json_object, replace_model, requested_model
from turnout.core.errors import BadRequest


@pytest.mark.parametrize(
    ("raw", "needle"),
    [(b"", "empty"), (b"{", "not valid JSON"), (b"[]", "JSON object"), (b'"x"', "JSON object")],
)
def test_parse_errors(raw: bytes, needle: str) -> None:
    with pytest.raises(BadRequest, match=needle):
        parse_json_object(raw)


@pytest.mark.parametrize(
    ("body", "needle"), [({}, "no 'model'"), ({"model": ""}, "no 'model'"), ({"model": 1}, "string")]
)
def test_requested_model_errors(body: dict, needle: str) -> None:
    with pytest.raises(BadRequest, match=needle):
        requested_model(body)


def test_replace_model_keeps_every_other_byte() -> None:
    raw = b'{ "model" : "sonnet",\n "messages": [{"role":"user","content":"the model sonnet"}], "x": 1.50}'
    out = replace_model(raw, parse_json_object(raw), "claude-sonnet-4-6")
    assert out == raw.replace(b'"sonnet"', b'"claude-sonnet-4-6"', 1)


def test_replace_model_falls_back_to_reserializing_when_ambiguous() -> None:
    raw = b'{"model": "a", "metadata": {"model": "a"}}'
    out = replace_model(raw, parse_json_object(raw), "b")
    assert json.loads(out) == {"model": "b", "metadata": {"model": "a"}}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@given(
    model=st.text(min_size=1),
    new=st.text(min_size=1),
    rest=st.dictionaries(st.text(max_size=8).filter(lambda k: k != "model"), json_values, max_size=4),
    indent=st.booleans(),
)
def test_replace_model_property(model: str, new: str, rest: dict, indent: bool) -> None:
    body = {"model": model, **rest}
    raw = json.dumps(body, indent=2 if indent else None, ensure_ascii=indent).encode()
    out = replace_model(raw, orjson.loads(raw), new)
    assert orjson.loads(out) == {**body, "model": new}

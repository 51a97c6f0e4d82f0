from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from turnout.core.body import decode_body, parse_json_object, replace_model, requested_model
from turnout.core.errors import BadRequest, BodyTooLarge


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


@pytest.mark.parametrize(
    "raw",
    [
        # The case: the top-level key escaped, a nested one literal with the old value.
        rb'{"model":"gpt-4\u006f","metadata":{"model":"gpt-4o"}}',
        rb'{"\u006dodel":"gpt-4o","metadata":{"model":"gpt-4o"}}',
        rb'{"metadata":{"model":"gpt-4o"},"m\u006fdel":"gpt-4o"}',
        # Duplicated top-level keys: parsers disagree on which wins, so neither may survive.
        rb'{"model":"gpt-4o","model":"gpt-4o"}',
        rb'{"model":"gpt-4o-mini","x":1,"mod\u0065l":"gpt-4o"}',
        # A key that merely ends in model, and one with an escaped quote before it.
        rb'{"my\"model":"gpt-4o","model":"gpt-4o"}',
    ],
)
def test_only_the_top_level_model_changes(raw: bytes) -> None:
    out = replace_model(raw, parse_json_object(raw), "gpt-4o-mini")
    _assert_rewritten(raw, out, "gpt-4o-mini")


def _pairs(raw: bytes, keep: str) -> dict:
    """Parse ``raw`` as a parser that keeps the first or the last of duplicated keys would."""

    def hook(pairs: list) -> dict:
        out: dict = {}
        for k, v in pairs:
            if keep == "last" or k not in out:
                out[k] = v
        return out

    return json.loads(raw, object_pairs_hook=hook)


def _assert_rewritten(raw: bytes, out: bytes, new: str) -> None:
    """Every parser sees ``new`` at the top level and nothing else changed."""
    top_pairs = json.loads(out, object_pairs_hook=lambda pairs: pairs)
    assert [v for k, v in top_pairs if k == "model"] == [new]  # exactly one top-level model
    original = _pairs(raw, "last")
    for keep in ("first", "last"):
        parsed = _pairs(out, keep)
        assert parsed == {**original, "model": new}


def _escaped(text: str, pick: list[bool]) -> str:
    """``text`` as a JSON string literal with some characters written as \\uXXXX."""
    out = []
    for i, ch in enumerate(text):
        if pick[i % len(pick)] or ch in '"\\' or ord(ch) < 0x20:
            out.append("".join(f"\\u{u:04x}" for u in _utf16(ch)))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _utf16(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _document(pairs: list[tuple[str, object]], pick: list[bool]) -> str:
    def value(v: object) -> str:
        if isinstance(v, dict):
            return "{" + ",".join(f"{_escaped(k, pick)}:{value(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ",".join(value(x) for x in v) + "]"
        if isinstance(v, str):
            return _escaped(v, pick)
        return json.dumps(v)

    return "{" + ", ".join(f"{_escaped(k, pick)}: {value(v)}" for k, v in pairs) + "}"


keys = st.sampled_from(["model", "messages", "metadata", "x"]) | st.text(max_size=4)
nested = st.recursive(
    st.sampled_from(["gpt-4o", "a"]) | st.integers(0, 9),
    lambda children: st.dictionaries(keys, children, max_size=3) | st.lists(children, max_size=2),
    max_leaves=8,
)


@given(
    model=st.sampled_from(["gpt-4o", "gpt-4o-mini", "a"]),
    before=st.lists(st.tuples(keys, nested), max_size=3),
    after=st.lists(st.tuples(keys, nested), max_size=3),
    duplicate=st.booleans(),
    pick=st.lists(st.booleans(), min_size=1, max_size=5),
)
def test_replace_model_cannot_be_bypassed(
    model: str, before: list, after: list, duplicate: bool, pick: list[bool]
) -> None:
    """Escaped, duplicated and nested ``model`` keys anywhere: only the top level changes."""
    seen: set[str] = set()  # other keys unique: only model's duplicates are under test
    before = [(k, v) for k, v in before if k != "model" and not (k in seen or seen.add(k))]
    after = [(k, v) for k, v in after if k != "model" and not (k in seen or seen.add(k))]
    pairs = [*before, ("model", model), *after, *([("model", model)] if duplicate else [])]
    raw = _document(pairs, pick).encode()
    out = replace_model(raw, parse_json_object(raw), "rewritten-model")
    _assert_rewritten(raw, out, "rewritten-model")


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


def _bombs() -> dict[str, bytes]:
    import gzip
    import zlib

    import brotli
    import zstandard

    plain = b"\0" * (64 * 1024 * 1024)  # 64 MB of zeros: each of these is a few KB
    return {
        "gzip": gzip.compress(plain, 9),
        "deflate": zlib.compress(plain, 9),
        "br": brotli.compress(plain, quality=5),
        "zstd": zstandard.ZstdCompressor(level=3).compress(plain),
    }


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_a_compression_bomb_stops_at_the_limit_using_about_that_much_memory(encoding: str) -> None:
    import tracemalloc

    bomb = _bombs()[encoding]
    assert len(bomb) < 200_000
    limit = 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge, match="inflates past"):
            decode_body(bomb, encoding, limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * limit, peak  # the whole 64 MB was never made


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "identity", ""])
def test_honest_bodies_decode_whole(encoding: str) -> None:
    import gzip
    import zlib

    import brotli
    import zstandard

    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 300_000}]}).encode()
    packed = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": brotli.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }.get(encoding, lambda b: b)(body)
    assert decode_body(packed, encoding, 10 * 1024 * 1024) == body


@pytest.mark.parametrize(
    ("raw", "encoding", "needle"),
    [
        (b"not gzip at all", "gzip", "Cannot decode the request body: not valid gzip"),
        (b"x", "compress", "unsupported content-encoding 'compress'"),
    ],
)
def test_undecodable_bodies_are_a_400(raw: bytes, encoding: str, needle: str) -> None:
    with pytest.raises(BadRequest, match=needle):
        decode_body(raw, encoding, 1024)


def test_a_model_name_longer_than_any_real_one_is_refused() -> None:
    assert requested_model({"model": "m" * 256}) == "m" * 256
    with pytest.raises(BadRequest, match="1,000,000 characters long"):
        requested_model({"model": "m" * 1_000_000})

"""Placeholders in answers turned back into the secrets, in every dialect, whole and
streamed however the stream is cut: in text and in tool calls' arguments."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.secret_samples import SAMPLES
from tests.fakes.scripted import echo_scenario
from tests.golden import scenarios as gen
from tests.golden import upstreams
from turnout.core.restore import StreamRestorer, restore_body, restore_text

VALUES = {f"[[secret:{kind}:1]]": value for kind, value in SAMPLES.items()}
PLACEHOLDERS = sorted(VALUES)

STREAMS = {
    "messages": gen.anthropic_stream,
    "chat": gen.openai_stream,
    "responses": upstreams.responses_stream,
    "gemini": upstreams.gemini_stream,
}
WHOLE = {
    "messages": gen.anthropic_message,
    "chat": gen.openai_completion,
    "responses": upstreams.responses_response,
    "gemini": upstreams.gemini_response,
}


def events(stream: bytes) -> list[dict[str, Any]]:
    out = []
    for block in stream.replace(b"\r\n", b"\n").split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data:") and line[5:].strip() not in (b"", b"[DONE]"):
                out.append(json.loads(line[5:]))
    return out


def read_stream(api: str, stream: bytes) -> tuple[str, str]:
    """The text and the tool call's arguments a client would assemble."""
    text, arguments = "", ""
    for e in events(stream):
        if api == "messages" and e.get("type") == "content_block_delta":
            text += e["delta"].get("text", "")
            arguments += e["delta"].get("partial_json", "")
        elif api == "chat":
            for choice in e.get("choices") or []:
                text += choice["delta"].get("content") or ""
                for call in choice["delta"].get("tool_calls") or []:
                    arguments += call["function"].get("arguments") or ""
        elif api == "responses" and e.get("type") == "response.output_text.delta":
            text += e["delta"]
        elif api == "responses" and e.get("type") == "response.function_call_arguments.delta":
            arguments += e["delta"]
        elif api == "gemini":
            for part in e["candidates"][0]["content"]["parts"]:
                text += part.get("text", "")
                if "functionCall" in part:
                    arguments += json.dumps(part["functionCall"]["args"])
    return text, arguments


def read_whole(api: str, body: dict[str, Any]) -> tuple[str, str]:
    if api == "messages":
        text = "".join(b.get("text", "") for b in body["content"])
        arguments = "".join(json.dumps(b["input"]) for b in body["content"] if b["type"] == "tool_use")
    elif api == "chat":
        message = body["choices"][0]["message"]
        text = message["content"] or ""
        arguments = "".join(c["function"]["arguments"] for c in message.get("tool_calls") or [])
    elif api == "responses":
        items = body["output"]
        text = "".join(c["text"] for i in items if i["type"] == "message" for c in i["content"])
        arguments = "".join(i["arguments"] for i in items if i["type"] == "function_call")
    else:
        parts = body["candidates"][0]["content"]["parts"]
        text = "".join(p.get("text", "") for p in parts)
        arguments = "".join(json.dumps(p["functionCall"]["args"]) for p in parts if "functionCall" in p)
    return text, arguments


def cut(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` as whole events, grouped as a relay hands them on (one or several a read)."""
    whole = [e + b"\n\n" for e in data.replace(b"\r\n", b"\n").split(b"\n\n") if e.strip()]
    out, i = [], 0
    for size in sizes or [1]:
        if i >= len(whole):
            break
        out.append(b"".join(whole[i : i + size]))
        i += size
    if i < len(whole):
        out.append(b"".join(whole[i:]))
    return out


said = st.lists(
    st.one_of(st.sampled_from(PLACEHOLDERS), st.text(alphabet='ab [:]\n"\\{}', max_size=12)), max_size=6
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(STREAMS)), said, st.lists(st.integers(1, 4), max_size=40), st.booleans())
def test_a_streamed_answer_reaches_the_client_with_the_real_values(
    api: str, text: str, sizes: list[int], tool: bool
) -> None:
    stream = STREAMS[api](echo_scenario(text, ["write"] if tool else []))
    restorer = StreamRestorer(api, VALUES)
    out = b"".join(restorer(piece) for piece in cut(stream, sizes)) + restorer.end()
    got_text, got_arguments = read_stream(api, out)
    expected = restore_text(text, VALUES)
    assert got_text == expected
    if tool:
        assert json.loads(got_arguments) == {"content": expected}
    assert len(events(out)) == len(events(stream))  # no event lost or made up


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(WHOLE)), said, st.booleans())
def test_a_whole_answer_reaches_the_client_with_the_real_values(api: str, text: str, tool: bool) -> None:
    body = orjson.dumps(WHOLE[api](echo_scenario(text, ["write"] if tool else [])))
    got_text, got_arguments = read_whole(api, orjson.loads(restore_body(body, VALUES)))
    expected = restore_text(text, VALUES)
    assert got_text == expected
    if tool:
        assert json.loads(got_arguments) == {"content": expected}


def test_a_placeholder_split_in_every_place_is_put_back() -> None:
    placeholder = "[[secret:private_key:1]]"
    text = f"key: {placeholder} done"
    for at in range(1, len(text)):
        pieces = [text[:at], text[at:]]
        lines = [
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            *(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
                for p in pieces
            ),
            {"type": "content_block_stop", "index": 0},
        ]
        data = b"".join(b"event: x\ndata: " + orjson.dumps(e) + b"\n\n" for e in lines)
        restorer = StreamRestorer("messages", VALUES)
        out = b"".join(restorer(e + b"\n\n") for e in data.split(b"\n\n") if e) + restorer.end()
        assert read_stream("messages", out)[0] == f"key: {SAMPLES['private_key']} done", at


def test_reasoning_and_unknown_placeholders_are_left_as_written() -> None:
    body = {
        "content": [
            {"type": "thinking", "thinking": "[[secret:github_token:1]]", "signature": "s"},
            {"type": "text", "text": "[[secret:github_token:1]] [[secret:github_token:9]]"},
        ]
    }
    out = orjson.loads(restore_body(orjson.dumps(body), VALUES))
    assert out["content"][0] == body["content"][0]
    assert out["content"][1]["text"] == f"{SAMPLES['github_token']} [[secret:github_token:9]]"
    assert restore_body(b"not json [[secret:x:1]]", VALUES) == b"not json [[secret:x:1]]"


def test_a_restorer_that_breaks_ends_the_stream_with_an_error_event() -> None:
    """Never an exception into mitmproxy (it would drop the chunk and carry on)."""
    from turnout.core.passthrough import PassThrough

    class Broken(StreamRestorer):
        def __call__(self, data: bytes) -> bytes:
            raise RuntimeError("synthetic")

    relay = PassThrough("anthropic", api="messages")
    relay.restorer = Broken("messages", VALUES)
    out = relay(b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"[["}}\n\n')
    assert isinstance(out, list) and b"event: error" in out[0] and b"put the stream's secrets back" in out[0]
    assert relay.failure is not None and relay(b"") == []


def test_a_stream_cut_while_a_placeholders_start_is_held_gives_it_back_then_the_error() -> None:
    """The upstream dies after a delta ending in ``[[secr``: that text is not lost, the
    error event follows it, and nothing comes after."""
    from turnout.core.passthrough import PassThrough

    relay = PassThrough("anthropic", api="messages")
    relay.restorer = StreamRestorer("messages", VALUES)
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "key [[secr"}}
    assert relay(b"event: content_block_delta\ndata: " + orjson.dumps(delta) + b"\n\n") == []  # held
    tail = relay.fail("upstream went away")
    assert read_stream("messages", tail)[0] == "key [[secr" and tail.index(b"[[secr") < tail.index(b"error")
    assert relay(b"") == []

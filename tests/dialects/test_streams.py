"""Stream state-machine edge cases: odd upstreams, truncation, internal failures."""

from __future__ import annotations

import json

from turnout.core.dialects.context import Context
from turnout.core.dialects.sse import SSEParser
from turnout.core.dialects.translate import StreamAdapter


def events(raw: bytes) -> list[tuple[str | None, dict]]:
    p = SSEParser()
    return [
        (e.decode() if e else None, json.loads(d))
        for e, d in [*p.feed_raw(raw), *p.flush_raw()]
        if d != b"[DONE]"
    ]


def chunk(delta: dict, finish: str | None = None) -> bytes:
    return (
        b"data: "
        + json.dumps(
            {"id": "c1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        ).encode()
        + b"\n\n"
    )


def to_anthropic(*pieces: bytes) -> list[tuple[str | None, dict]]:
    adapter = StreamAdapter(Context("anthropic", "openai", "m"))
    return events(b"".join(b"".join(adapter(p)) for p in [*pieces, b""]))


def test_name_after_arguments_is_buffered_not_lost() -> None:
    out = to_anthropic(
        chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"arguments": '{"a":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "1}"}}]}),
        chunk({}, "tool_calls"),
        b"data: [DONE]\n\n",
    )
    kinds = [d["type"] for _, d in out]
    assert kinds == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert (
        "".join(d["delta"]["partial_json"] for _, d in out if d["type"] == "content_block_delta") == '{"a":1}'
    )


def test_reasoning_then_text_gets_a_signature_and_no_empty_blocks() -> None:
    out = to_anthropic(
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning": "hm"}),
        chunk({"content": ""}),
        chunk({"content": "ok"}, "stop"),
        b"data: [DONE]\n\n",
    )
    deltas = [d["delta"]["type"] for _, d in out if d["type"] == "content_block_delta"]
    assert deltas == ["thinking_delta", "signature_delta", "text_delta"]
    assert [d["content_block"]["type"] for _, d in out if d["type"] == "content_block_start"] == [
        "thinking",
        "text",
    ]


def test_truncated_stream_ends_with_an_error_event() -> None:
    out = to_anthropic(chunk({"content": "par"}))
    assert out[-1] == (
        "error",
        {
            "type": "error",
            "error": {"type": "api_error", "message": "The upstream stream ended before it finished."},
        },
    )


def test_no_finish_but_done_is_end_turn() -> None:
    out = to_anthropic(chunk({"content": "x"}), b"data: [DONE]\n\n")
    assert out[-2][1]["delta"]["stop_reason"] == "end_turn"


def test_usage_after_finish_is_merged_into_the_final_delta() -> None:
    usage = (
        b"data: "
        + json.dumps(
            {
                "choices": [],
                "usage": {
                    "prompt_tokens": 10,
                    "completion_tokens": 3,
                    "prompt_tokens_details": {"cached_tokens": 4},
                },
            }
        ).encode()
        + b"\n\n"
    )
    out = to_anthropic(chunk({"content": "x"}, "stop"), usage, b"data: [DONE]\n\n")
    assert out[-2][1]["usage"] == {
        "input_tokens": 6,
        "output_tokens": 3,
        "cache_read_input_tokens": 4,
        "cache_creation_input_tokens": 0,
    }


def test_adapter_turns_internal_failures_into_an_error_event() -> None:
    adapter = StreamAdapter(Context("openai", "anthropic", "m"))

    def broken(data: bytes) -> bytes:
        raise ValueError("boom")

    adapter.translator.feed = broken  # type: ignore[method-assign]
    out = b"".join(adapter(b"event: x\ndata: {}\n\n"))
    assert (
        json.loads(out.removeprefix(b"data: "))["error"]["message"]
        == "turnout could not translate the stream (ValueError)"
    )
    assert adapter(b"more") == []  # one error, then nothing: the stream has ended for the client
    assert adapter(b"") == []

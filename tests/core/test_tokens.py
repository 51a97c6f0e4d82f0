from __future__ import annotations

from turnout.core.tokens import PER_IMAGE, PER_MESSAGE, estimate_input_tokens


def test_counts_system_messages_and_tools() -> None:
    base = {"messages": [{"role": "user", "content": "x" * 400}]}
    assert estimate_input_tokens(base) == 100 + PER_MESSAGE
    with_system = {**base, "system": [{"type": "text", "text": "s" * 800}]}
    assert estimate_input_tokens(with_system) == 300 + PER_MESSAGE
    tool = {"name": "t", "description": "d" * 396, "input_schema": {"type": "object"}}
    assert estimate_input_tokens({**base, "tools": [tool]}) > estimate_input_tokens(base) + 99


def test_blocks_images_tool_calls_and_results() -> None:
    body = {
        "system": "sys",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "abcd"},
                    {"type": "image", "source": {"type": "base64", "data": "A" * 10000}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm"},
                    {"type": "tool_use", "id": "t", "name": "ls", "input": {"p": "/"}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "out"}]},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "function": {"name": "f"}}]},
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": {"url": "data:..."}}, {"other": 1}],
            },
        ],
    }
    n = estimate_input_tokens(body)
    assert n >= 2 * PER_IMAGE + 5 * PER_MESSAGE
    assert n < 2 * PER_IMAGE + 5 * PER_MESSAGE + 40  # image bytes are not counted as text


def test_tolerates_odd_shapes() -> None:
    assert estimate_input_tokens({}) == 0
    assert estimate_input_tokens({"messages": "nope"}) == 0
    assert estimate_input_tokens({"messages": [1, {"content": 5}]}) == 1 + 2 * PER_MESSAGE

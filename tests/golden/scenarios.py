"""The golden corpus, written as scenarios; ``corpus.py --write`` turns them into files.

Each scenario is what a model says (thinking, text, tool calls, a stop, usage) plus how
the upstream says it. From it come the upstream bytes in both dialects, exactly as the
providers frame them (OpenAI: ``data:`` lines, tool-call fragments, the usage chunk,
``[DONE]``; Anthropic: ``event:`` + ``data:`` lines, block start/delta/stop), and the
whole (non-streamed) responses. The expected client side is produced by turnout's
translators and committed after review; the tests then hold turnout to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tool:
    id: str
    name: str
    pieces: list[str]  # the arguments JSON, as the upstream fragments it


@dataclass
class Scenario:
    name: str
    thinking: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    finish: str = "stop"  # OpenAI finish_reason as the upstream sends it
    stop_reason: str = "end_turn"  # Anthropic stop_reason as the upstream sends it
    usage: tuple[int, int, int] = (25, 12, 0)  # prompt (incl. cached), completion, cached
    stream_usage: bool = True  # the OpenAI upstream sends a usage chunk
    gemini_tools: bool = False  # tool calls without index, whole in one delta
    reasoning_field: str = "reasoning_content"
    error_mid_stream: str | None = None  # an error after the first text piece
    http_error: tuple[int, str] | None = None  # the upstream refuses before any stream
    request_anthropic: dict[str, Any] | None = None
    request_openai: dict[str, Any] | None = None


def _sse(data: Any, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def openai_stream(s: Scenario) -> bytes:
    base = {
        "id": "chatcmpl-gold",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "up-model",
        "system_fingerprint": None,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        c = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if s.stream_usage:
            c["usage"] = None
        return _sse(c)

    out = [chunk({"role": "assistant", "content": ""})]
    for piece in s.thinking:
        out.append(chunk({"content": None, s.reasoning_field: piece}))
    for i, piece in enumerate(s.text):
        out.append(chunk({"content": piece}))
        if i == 0 and s.error_mid_stream:
            out.append(_sse({"error": {"message": s.error_mid_stream, "type": "server_error", "code": None}}))
            return "".join(out).encode()
    for k, tool in enumerate(s.tools):
        if s.gemini_tools:
            out.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "id": tool.id,
                                "type": "function",
                                "function": {"name": tool.name, "arguments": "".join(tool.pieces)},
                            }
                        ]
                    }
                )
            )
            continue
        first, *rest = tool.pieces or [""]
        out.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": k,
                            "id": tool.id,
                            "type": "function",
                            "function": {"name": tool.name, "arguments": first},
                        }
                    ]
                }
            )
        )
        for piece in rest:
            out.append(chunk({"tool_calls": [{"index": k, "function": {"arguments": piece}}]}))
    out.append(chunk({}, s.finish))
    if s.stream_usage:
        prompt, completion, cached = s.usage
        out.append(
            _sse(
                {
                    **base,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": prompt,
                        "completion_tokens": completion,
                        "total_tokens": prompt + completion,
                        "prompt_tokens_details": {"cached_tokens": cached},
                        "completion_tokens_details": {"reasoning_tokens": 3 if s.thinking else 0},
                    },
                }
            )
        )
    out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def openai_completion(s: Scenario) -> dict[str, Any]:
    prompt, completion, cached = s.usage
    message: dict[str, Any] = {"role": "assistant", "content": "".join(s.text) or None, "refusal": None}
    if s.thinking:
        message[s.reasoning_field] = "".join(s.thinking)
    if s.tools:
        message["tool_calls"] = [
            {"id": t.id, "type": "function", "function": {"name": t.name, "arguments": "".join(t.pieces)}}
            for t in s.tools
        ]
    return {
        "id": "chatcmpl-gold",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "up-model",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": s.finish}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def _anthropic_usage(s: Scenario) -> dict[str, int]:
    prompt, completion, cached = s.usage
    return {
        "input_tokens": prompt - cached,
        "output_tokens": completion,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def anthropic_stream(s: Scenario) -> bytes:
    usage = _anthropic_usage(s)
    out = [
        _sse(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_gold",
                    "type": "message",
                    "role": "assistant",
                    "model": "up-model",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**usage, "output_tokens": 1},
                },
            },
            "message_start",
        )
    ]
    index = 0

    def block(start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        nonlocal index
        out.append(
            _sse(
                {"type": "content_block_start", "index": index, "content_block": start}, "content_block_start"
            )
        )
        for d in deltas:
            out.append(
                _sse({"type": "content_block_delta", "index": index, "delta": d}, "content_block_delta")
            )
        out.append(_sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        index += 1

    if s.thinking:
        block(
            {"type": "thinking", "thinking": "", "signature": ""},
            [{"type": "thinking_delta", "thinking": t} for t in s.thinking]
            + [
                {
                    "type": "signature_delta",
                    "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
                }
            ],
        )
    if s.text:
        if s.error_mid_stream:
            out.append(
                _sse(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                    "content_block_start",
                )
            )
            out.append(
                _sse(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": s.text[0]},
                    },
                    "content_block_delta",
                )
            )
            out.append(
                _sse(
                    {"type": "error", "error": {"type": "overloaded_error", "message": s.error_mid_stream}},
                    "error",
                )
            )
            return "".join(out).encode()
        out.append(_sse({"type": "ping"}, "ping"))
        block({"type": "text", "text": ""}, [{"type": "text_delta", "text": t} for t in s.text])
    for tool in s.tools:
        block(
            {"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}},
            [{"type": "input_json_delta", "partial_json": ""}]
            + [{"type": "input_json_delta", "partial_json": p} for p in tool.pieces],
        )
    out.append(
        _sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": s.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
            "message_delta",
        )
    )
    out.append(_sse({"type": "message_stop"}, "message_stop"))
    return "".join(out).encode()


def anthropic_message(s: Scenario) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if s.thinking:
        content.append(
            {
                "type": "thinking",
                "thinking": "".join(s.thinking),
                "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
            }
        )
    if s.text:
        content.append({"type": "text", "text": "".join(s.text)})
    for t in s.tools:
        content.append(
            {"type": "tool_use", "id": t.id, "name": t.name, "input": json.loads("".join(t.pieces) or "{}")}
        )
    return {
        "id": "msg_gold",
        "type": "message",
        "role": "assistant",
        "model": "up-model",
        "content": content,
        "stop_reason": s.stop_reason,
        "stop_sequence": None,
        "usage": _anthropic_usage(s),
    }


WEATHER = Tool("call_w1", "get_weather", ['{"ci', 'ty": "Par', 'is"}'])
TIME = Tool("call_t2", "get_time", ['{"tz": ', '"Europe/Paris"}'])
IMAGE_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
TOOLS_A = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
    {
        "name": "get_time",
        "description": "Time in a zone",
        "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}},
    },
]
TOOLS_O = [
    {
        "type": "function",
        "function": {"name": t["name"], "description": t["description"], "parameters": t["input_schema"]},
    }
    for t in TOOLS_A
]

SCENARIOS = [
    Scenario(
        "plain_text",
        text=["Hello", ", world", "!"],
        request_anthropic={
            "model": "m",
            "max_tokens": 100,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "Say hello"}],
        },
        request_openai={
            "model": "m",
            "max_tokens": 100,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Say hello"},
            ],
        },
    ),
    Scenario(
        "multi_turn",
        text=["Paris", " again."],
        request_anthropic={
            "model": "m",
            "max_tokens": 50,
            "temperature": 0.3,
            "system": [
                {"type": "text", "text": "You know geography.", "cache_control": {"type": "ephemeral"}}
            ],
            "messages": [
                {"role": "user", "content": "Capital of France?"},
                {"role": "assistant", "content": [{"type": "text", "text": "Paris."}]},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "And again?"}, {"type": "text", "text": ""}],
                },
            ],
        },
        request_openai={
            "model": "m",
            "temperature": 1.7,
            "top_p": 0.9,
            "user": "u-1",
            "messages": [
                {"role": "developer", "content": "You know geography."},
                {"role": "user", "content": "Capital of France?"},
                {"role": "assistant", "content": "Paris."},
                {"role": "user", "content": "And again?"},
            ],
        },
    ),
    Scenario(
        "image",
        text=["A red pixel."],
        request_anthropic={
            "model": "m",
            "max_tokens": 50,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": IMAGE_B64},
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                        {"type": "text", "text": "What are these?"},
                    ],
                }
            ],
        },
        request_openai={
            "model": "m",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What are these?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{IMAGE_B64}"}},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"},
                        },
                    ],
                }
            ],
        },
    ),
    Scenario(
        "one_tool",
        text=["Let me check."],
        tools=[WEATHER],
        finish="tool_calls",
        stop_reason="tool_use",
        request_anthropic={
            "model": "m",
            "max_tokens": 200,
            "tools": TOOLS_A,
            "tool_choice": {"type": "any"},
            "messages": [{"role": "user", "content": "Weather in Paris?"}],
        },
        request_openai={
            "model": "m",
            "tools": TOOLS_O,
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "messages": [{"role": "user", "content": "Weather in Paris?"}],
        },
    ),
    Scenario(
        "parallel_tools",
        tools=[WEATHER, TIME],
        finish="tool_calls",
        stop_reason="tool_use",
        request_anthropic={
            "model": "m",
            "max_tokens": 200,
            "tools": TOOLS_A,
            "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": False},
            "messages": [
                {"role": "user", "content": "Weather and time in Paris?"},
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "call_w1",
                            "name": "get_weather",
                            "input": {"city": "Paris"},
                        },
                        {
                            "type": "tool_use",
                            "id": "call_t2",
                            "name": "get_time",
                            "input": {"tz": "Europe/Paris"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "call_w1", "content": "18C, sunny"},
                        {
                            "type": "tool_result",
                            "tool_use_id": "call_t2",
                            "content": [{"type": "text", "text": "14:05"}],
                        },
                        {"type": "text", "text": "Thanks!"},
                    ],
                },
            ],
        },
        request_openai={
            "model": "m",
            "tools": TOOLS_O,
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "messages": [
                {"role": "user", "content": "Weather and time in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_w1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                        },
                        {
                            "id": "functions.get_time:1",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": ""},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_w1", "content": "18C, sunny"},
                {
                    "role": "tool",
                    "tool_call_id": "functions.get_time:1",
                    "content": [{"type": "text", "text": "14:05"}],
                },
                {"role": "user", "content": "Thanks!"},
            ],
        },
    ),
    Scenario(
        "tool_error",
        text=["The tool failed; retrying is pointless."],
        request_anthropic={
            "model": "m",
            "max_tokens": 200,
            "tools": TOOLS_A,
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "X"}}
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_01",
                            "is_error": True,
                            "content": [
                                {"type": "text", "text": "unknown city"},
                                {
                                    "type": "image",
                                    "source": {
                                        "type": "base64",
                                        "media_type": "image/png",
                                        "data": IMAGE_B64,
                                    },
                                },
                            ],
                        }
                    ],
                },
            ],
        },
        request_openai={
            "model": "m",
            "tools": TOOLS_O,
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "toolu_01",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{not json"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "toolu_01", "content": "Error: unknown city"},
            ],
        },
    ),
    Scenario(
        "thinking_then_tool",
        thinking=["The user wants", " weather."],
        tools=[WEATHER],
        finish="tool_calls",
        stop_reason="tool_use",
        request_anthropic={
            "model": "m",
            "max_tokens": 4000,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tools": TOOLS_A,
            "messages": [
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Need the city.", "signature": "sig"},
                        {"type": "redacted_thinking", "data": "xyz"},
                        {"type": "text", "text": "Which city?"},
                    ],
                },
                {"role": "user", "content": "Paris"},
            ],
        },
        request_openai={
            "model": "m",
            "reasoning_effort": "high",
            "temperature": 0.5,
            "tools": TOOLS_O,
            "tool_choice": "required",
            "messages": [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": "Which city?", "reasoning_content": "Need the city."},
                {"role": "user", "content": "Paris"},
            ],
        },
    ),
    Scenario("long_stream", text=[f"word{i} " for i in range(2000)], usage=(40, 2000, 0)),
    Scenario(
        "max_tokens_stop",
        text=["This answer is cut"],
        finish="length",
        stop_reason="max_tokens",
        request_anthropic={"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "Essay"}]},
        request_openai={
            "model": "m",
            "max_completion_tokens": 5,
            "max_tokens": 99,
            "messages": [{"role": "user", "content": "Essay"}],
        },
    ),
    Scenario(
        "stop_sequence",
        text=["one, two"],
        finish="stop",
        stop_reason="stop_sequence",
        request_anthropic={
            "model": "m",
            "max_tokens": 50,
            "stop_sequences": ["three"],
            "top_k": 5,
            "metadata": {"user_id": "u-9"},
            "messages": [{"role": "user", "content": "Count"}],
        },
        request_openai={"model": "m", "stop": "three", "messages": [{"role": "user", "content": "Count"}]},
    ),
    Scenario("error_before_stream", http_error=(429, "Rate limit reached for requests")),
    Scenario("error_during_stream", text=["Partial", " answer"], error_mid_stream="Overloaded"),
    Scenario("stream_without_usage", text=["No usage here."], stream_usage=False),
    Scenario(
        "gemini_tools",
        text=["Checking both."],
        tools=[WEATHER, TIME],
        finish="stop",
        stop_reason="tool_use",
        gemini_tools=True,
    ),
    Scenario(
        "deepseek_reasoning",
        thinking=["Let me think", " step by step."],
        text=["42"],
        usage=(30, 20, 10),
        request_anthropic={
            "model": "m",
            "max_tokens": 100000,
            "messages": [
                {"role": "user", "content": "Answer?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Earlier reasoning", "signature": "x"},
                        {"type": "tool_use", "id": "toolu_9", "name": "get_time", "input": {}},
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "noon"}],
                },
            ],
            "tools": TOOLS_A,
        },
    ),
]

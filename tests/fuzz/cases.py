"""Seeded hostile requests and responses: the fuzz suite's generator.

``request_case(rng)`` makes one client request as a careless or hostile client would:
a valid Anthropic or OpenAI body (tools, images, tool results, thinking, streams) with
one to three mutations at random places (a wrong type, a deleted field, a huge or
non-finite number, a deep nesting, an unknown block), or broken bytes (truncated JSON,
bad UTF-8, a BOM, a non-object), a wrong method, a wrong or missing content type, a
gzip body that lies, an unknown path; routed to the same dialect, to the other one, or
to no backend. ``mutated_message``/``mutated_stream`` do the same to a backend's answer.
Everything is a function of the ``random.Random`` passed in: a failure names its seed.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.upstream import anthropic_message, anthropic_stream, openai_completion, openai_stream

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="


def anthropic_body(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "M",
        "max_tokens": rng.choice([16, 1024, 4096]),
        "messages": [{"role": "user", "content": "hello"}],
    }
    if rng.random() < 0.5:
        body["system"] = rng.choice(["be brief", [{"type": "text", "text": "be brief"}]])
    if rng.random() < 0.5:
        body["tools"] = [
            {
                "name": "read",
                "description": "read a file",
                "input_schema": {"type": "object", "properties": {}},
            }
        ]
        body["tool_choice"] = {"type": rng.choice(["auto", "any"])}
    if rng.random() < 0.5:
        body["messages"] += [
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "reading"},
                    {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {"path": "a.py"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "x=1"}],
                    },
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                ],
            },
        ]
    for name, value in (("temperature", 0.5), ("top_p", 0.9), ("stop_sequences", ["END"]), ("stream", True)):
        if rng.random() < 0.3:
            body[name] = value
    if rng.random() < 0.2:
        body["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    return body


def openai_body(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "M", "messages": [{"role": "user", "content": "hello"}]}
    if rng.random() < 0.5:
        body["messages"].insert(0, {"role": "system", "content": "be brief"})
    if rng.random() < 0.5:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": "read", "description": "read", "parameters": {"type": "object"}},
            }
        ]
        body["tool_choice"] = rng.choice(
            ["auto", "required", {"type": "function", "function": {"name": "read"}}]
        )
    if rng.random() < 0.5:
        body["messages"] += [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "read", "arguments": '{"path": "a"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "x=1"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "and this"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                ],
            },
        ]
    for name, value in (
        ("temperature", 0.5),
        ("max_tokens", 100),
        ("stop", ["END"]),
        ("n", 1),
        ("response_format", {"type": "json_object"}),
        ("stream", True),
        ("stream_options", {"include_usage": True}),
    ):
        if rng.random() < 0.3:
            body[name] = value
    return body


def responses_body(rng: random.Random) -> dict[str, Any]:
    """What Codex sends: items, function and freeform tools, namespaces, hosted tools."""
    body: dict[str, Any] = {
        "model": "M",
        "input": rng.choice(["hello", [{"role": "user", "content": "hello"}]]),
    }
    if rng.random() < 0.5:
        body["instructions"] = "be brief"
    if rng.random() < 0.5:
        body["tools"] = [
            {"type": "function", "name": "read", "parameters": {"type": "object", "properties": {}}},
            {
                "type": "custom",
                "name": "apply_patch",
                "format": {"type": "grammar", "definition": "start: x"},
            },
            {"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "f"}]},
            {"type": "web_search"},
        ]
        body["tool_choice"] = rng.choice(["auto", "required", {"type": "function", "name": "read"}])
    if rng.random() < 0.5:
        body["input"] = [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "hm"}],
             "encrypted_content": rng.choice(["gAAAA", "dHVybm91dDE6eyJvIjoiYW50aHJvcGljIn0="])},
            {"type": "function_call", "call_id": "call_1", "name": "read", "arguments": '{"path": "a"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "x=1"},
            {"type": "custom_tool_call", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin"},
            {"type": "custom_tool_call_output", "call_id": "call_2", "output": "ok"},
            {"type": "local_shell_call", "call_id": "call_3"},
        ]  # fmt: skip
    for name, value in (
        ("temperature", 0.5),
        ("max_output_tokens", 100),
        ("reasoning", {"effort": "high", "summary": "auto"}),
        ("text", {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}),
        ("stream", True),
        ("store", False),
        ("parallel_tool_calls", False),
    ):
        if rng.random() < 0.3:
            body[name] = value
    return body


def gemini_body(rng: random.Random) -> dict[str, Any]:
    """What Gemini CLI and google-genai send: contents and parts, declarations, config."""
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    if rng.random() < 0.5:
        body["systemInstruction"] = {"parts": [{"text": "be brief"}]}
    if rng.random() < 0.5:
        schema = {"type": "OBJECT", "properties": {"file_path": {"type": "STRING", "nullable": True}}}
        body["tools"] = [
            {"functionDeclarations": [{"name": "read_file", "parameters": schema}]},
            {"googleSearch": {}},
        ]
        body["toolConfig"] = {"functionCallingConfig": {"mode": rng.choice(["AUTO", "ANY", "NONE"])}}
    if rng.random() < 0.5:
        body["contents"] += [
            {"role": "model", "parts": [
                {"text": "hm", "thought": True, "thoughtSignature": "R29vZ2xl"},
                {"functionCall": {"name": "read_file", "args": {"file_path": "a"}}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "read_file", "response": {"output": "x=1"}}},
                {"inlineData": {"mimeType": "image/png", "data": PNG}},
            ]},
        ]  # fmt: skip
    config: dict[str, Any] = {}
    for name, value in (
        ("temperature", 0.5),
        ("maxOutputTokens", 100),
        ("stopSequences", ["END"]),
        ("thinkingConfig", {"thinkingLevel": "HIGH", "includeThoughts": True}),
        ("responseMimeType", "application/json"),
        ("responseJsonSchema", {"type": "OBJECT"}),
    ):
        if rng.random() < 0.3:
            config[name] = value
    if config:
        body["generationConfig"] = config
    return body


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def odd_value(rng: random.Random) -> Any:
    """A value a client should not send there (most of the time)."""
    return rng.choice(
        [
            None,
            True,
            0,
            -1,
            2**70,
            -(2**70),
            1e308,
            0.5,
            "",
            "x",
            "hot",
            "x" * rng.choice([10, 5000]),
            "\u0000\ud800?",
            [],
            [1, "a", None],
            {},
            {"type": "unknown_block", "text": 5},
            {"type": "text"},
            {"type": "image", "source": "http://x"},
            {"role": 5, "content": {}},
            _nested(rng.choice([50, 300])),
            {"a": {"b": {"c": {"d": []}}}},
        ]
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def mutate(rng: random.Random, doc: Any, times: int = 1) -> Any:
    """``doc`` with ``times`` random edits: replace, delete, or add a key, anywhere."""
    doc = copy.deepcopy(doc)
    for _ in range(times):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            return odd_value(rng)
        path = rng.choice(paths)
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = rng.random()
        if action < 0.6:
            parent[last] = odd_value(rng)
        elif action < 0.8:
            del parent[last]
        elif isinstance(parent, dict):
            parent[rng.choice(["type", "role", "content", "text", "zzz", "stream", "model"])] = odd_value(rng)
        else:
            parent.insert(last, odd_value(rng))
    return doc


@dataclass
class Case:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    dialect: str  # the client's dialect (anthropic, openai, responses): errors come in its shape
    note: str
    sent: Any = field(default=None, repr=False)  # the JSON sent, when it was JSON


PATHS = {
    "anthropic": ["/v1/messages", "/v1/messages/count_tokens", "/messages"],
    "openai": ["/v1/chat/completions", "/chat/completions", "/v1/embeddings"],
    "responses": ["/v1/responses", "/responses"],
    "gemini": [
        "/v1beta/models/{}:generateContent",
        "/v1beta/models/{}:streamGenerateContent?alt=sse",
        "/v1/models/{}:generateContent",
        "/v1beta/models/{}:countTokens",
    ],
}
MODELS = {
    # (client dialect, where to): the model that gets it there
    "same": {"anthropic": "claude-sonnet-4-5", "openai": "gpt-4o", "responses": "gpt-4o", "gemini": "gpt-4o"},
    "translated": {
        "anthropic": "gpt-4o",
        "openai": "claude-sonnet-4-5",
        "responses": "claude-sonnet-4-5",
        "gemini": "claude-sonnet-4-5",
    },
}  # no Gemini backend here: a Gemini client is always translated
BODIES = {
    "anthropic": anthropic_body,
    "openai": openai_body,
    "responses": responses_body,
    "gemini": gemini_body,
}


def request_case(rng: random.Random) -> Case:
    dialect = rng.choice(["anthropic", "openai", "responses", "gemini"])
    route = rng.choice(["same", "same", "translated", "translated", "nowhere"])
    path = rng.choice(PATHS[dialect])
    base = BODIES[dialect](rng)
    if path.endswith("/embeddings"):
        base = {"model": "M", "input": rng.choice(["hello", ["a", "b"]])}
    model = MODELS[route][dialect] if route != "nowhere" else rng.choice(["no-such-model", "x" * 300])
    if dialect == "gemini":
        path = path.format(model)  # Gemini names the model in the path
    else:
        base["model"] = model
    headers = {"content-type": "application/json"}
    if dialect == "anthropic":
        headers["anthropic-version"] = "2023-06-01"
    kind = rng.random()
    note = f"{dialect} {route} {path}"
    doc: Any = base
    if kind < 0.70:
        doc = mutate(rng, base, rng.choice([1, 1, 2, 3]))
        note += " mutated"
    body = json.dumps(doc, allow_nan=True).encode() if kind < 0.80 else b""
    if kind >= 0.80:  # broken bytes, methods, content types, encodings, paths
        raw = json.dumps(base).encode()
        broken = rng.choice(
            [
                raw[: rng.randrange(len(raw))],
                b"\xef\xbb\xbf" + raw,
                raw.replace(b'"hello"', b'"\xff\xfe"'),
                b"[" + raw + b"]",
                b'"just a string"',
                b"null",
                b"",
                raw.replace(b"0.5", b"NaN"),
                raw + b"garbage",
                b'{"model": "' + b"\\" * 3 + b'"}',
            ]
        )
        body, note = broken, note + " broken-bytes"
        extra = rng.random()
        if extra < 0.15:
            headers["content-type"] = rng.choice(
                ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
            )
            note += " content-type"
        elif extra < 0.25:
            del headers["content-type"]
        elif extra < 0.35:
            headers["content-encoding"] = "gzip"
            body = rng.choice([gzip.compress(raw), b"\x1f\x8b" + raw[:20], gzip.compress(b" " * 3_000_000)])
            note += " gzip"
        elif extra < 0.45:
            path = rng.choice(["/v1/nope", "/v2/messages", "/", "/v1/models/x", "/%2e%2e/etc/passwd"])
            note += " unknown-path"
            if dialect == "gemini":  # nothing says Gemini outside /v1beta: OpenAI's shape
                return Case("POST", path, headers, body, "openai", note, doc)
        elif extra < 0.55:
            return Case(
                rng.choice(["GET", "PUT", "DELETE", "PATCH"]), path, headers, body, dialect, note + " method"
            )
    return Case("POST", path, headers, body, dialect, note, doc)


def other_wire(wire: str, stream: bool) -> Any:
    """A Responses-only or a Gemini backend's answer (tests/golden/upstreams.py)."""
    from tests.golden import upstreams
    from tests.golden.scenarios import Scenario

    s = Scenario("fuzz", text=["a ", "b ", "c"], usage=(5, 3, 0))
    if wire == "responses":
        return upstreams.responses_stream(s) if stream else upstreams.responses_response(s)
    return (
        upstreams.gemini_stream(s).replace(b"\r\n\r\n", b"\n\n") if stream else upstreams.gemini_response(s)
    )


def mutated_message(rng: random.Random, anthropic: bool, model: str, wire: str = "") -> bytes:
    """A backend's whole answer, damaged (or not, one time in five)."""
    message = (
        other_wire(wire, False)
        if wire
        else anthropic_message(model)
        if anthropic
        else openai_completion(model)
    )
    if rng.random() < 0.2:
        return json.dumps(message).encode()
    if rng.random() < 0.1:
        return rng.choice([b"", b"{", b"[]", b"null", b'"x"', b"<html>oops</html>"])
    return json.dumps(mutate(rng, message, rng.choice([1, 2, 3])), allow_nan=True).encode()


def mutated_stream(rng: random.Random, anthropic: bool, model: str, wire: str = "") -> bytes:
    """A backend's SSE stream with events mutated, dropped, repeated or cut."""
    if wire:
        raw = other_wire(wire, True)
    else:
        raw = (
            anthropic_stream(model, ["a ", "b ", "c"])
            if anthropic
            else openai_stream(model, ["a ", "b ", "c"])
        )
    events = [e for e in raw.split(b"\n\n") if e]
    out = []
    for event in events:
        r = rng.random()
        if r < 0.1:
            continue  # dropped
        if r < 0.15:
            out.append(event)  # repeated
        if r < 0.45:
            head, _, data = event.rpartition(b"data: ")
            try:
                parsed = json.loads(data)
            except ValueError:
                out.append(event)
                continue
            data = json.dumps(mutate(rng, parsed, 1), allow_nan=True).encode()
            event = head + b"data: " + data
        out.append(event)
    if rng.random() < 0.2:
        rng.shuffle(out)
    stream = b"\n\n".join(out) + b"\n\n"
    if rng.random() < 0.1:
        stream = stream[: rng.randrange(len(stream))]
    return stream

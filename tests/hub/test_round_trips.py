"""Property: a request of any API, read into the hub and written back in that API, says
the same thing — the hub loses nothing an API can express. Requests are generated in the
hub (hypothesis), written in each API, then read back and written again: the second
writing must equal the first, and the conversation read back must be the one generated."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from turnout.core.hub import chat_request, gemini_request, messages_request, responses_request
from turnout.core.hub.conversation import Request, Text, Tool, ToolCall, ToolChoice, ToolResult, Turn
from turnout.core.models import Quirks

WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
ARGS = st.dictionaries(NAMES, st.one_of(st.integers(-99, 99), WORDS, st.booleans()), max_size=3)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    tools = draw(st.lists(NAMES, min_size=0, max_size=3, unique=True))
    turns: list[Turn] = [Turn("user", [Text(draw(WORDS))])]
    for k in range(draw(st.integers(0, 3))):
        said: list[Any] = [Text(draw(WORDS))] if draw(st.booleans()) or not tools else []
        if tools:
            name = draw(st.sampled_from(tools))
            said.append(ToolCall(f"call_{k}", name, json.dumps(draw(ARGS))))
            turns.append(Turn("assistant", said))
            turns.append(Turn("user", [ToolResult(f"call_{k}", [Text(draw(WORDS))])]))
        else:
            turns.append(Turn("assistant", said))
            turns.append(Turn("user", [Text(draw(WORDS))]))
    return Request(
        system=[Text(draw(WORDS))] if draw(st.booleans()) else [],
        turns=turns,
        tools=[
            Tool(n, draw(WORDS), {"type": "object", "properties": {"a": {"type": "string"}}}) for n in tools
        ],
        tool_choice=ToolChoice(draw(st.sampled_from(["auto", "none", "required"]))) if tools else None,
        max_tokens=draw(st.integers(1, 4096)),
        temperature=draw(st.sampled_from([None, 0.0, 0.5, 1.0])),
        stop=draw(st.lists(WORDS, max_size=3)),
    )


def said(request: Request) -> list[tuple[str, Any]]:
    """What the conversation says, in order, whatever the turns' grouping."""
    out: list[tuple[str, Any]] = (
        [("system", "\n".join(t.text for t in request.system))] if request.system else []
    )
    for turn in request.turns:
        for part in turn.parts:
            if isinstance(part, Text):
                out.append((turn.role, part.text))
            elif isinstance(part, ToolCall):
                out.append(("call", (part.name, json.loads(part.arguments or "{}"))))
            elif isinstance(part, ToolResult):
                out.append(("result", "".join(c.text for c in part.content if isinstance(c, Text))))
    return out


Write = Callable[[Request], dict[str, Any]]
APIS: dict[str, tuple[Write, Callable[[dict[str, Any]], Request]]] = {
    "messages": (
        lambda r: messages_request.write_request(r, model="claude-3-7", quirks=Quirks())[0],
        messages_request.read_request,
    ),
    "chat": (
        lambda r: chat_request.write_request(r, model="m", quirks=Quirks())[0],
        lambda body: chat_request.read_request(body, "seed"),
    ),
    "responses": (
        lambda r: responses_request.write_request(r, model="m", quirks=Quirks())[0],
        lambda body: responses_request.read_request({**body, "stream": False}),
    ),
    "gemini": (
        lambda r: gemini_request.write_request(r, model="m", quirks=Quirks())[0],
        gemini_request.read_request,
    ),
}


def check(api: str, request: Request) -> None:
    write, read = APIS[api]
    body = write(request)
    back = read(json.loads(json.dumps(body)))  # as a client would send it: JSON
    assert write(back) == body, api
    assert said(back) == said(request), api
    assert [t.name for t in back.tools] == [t.name for t in request.tools]


@settings(max_examples=150, deadline=None)
@given(request=requests())
def test_messages_round_trip(request: Request) -> None:
    check("messages", request)


@settings(max_examples=150, deadline=None)
@given(request=requests())
def test_chat_round_trip(request: Request) -> None:
    check("chat", request)


@settings(max_examples=150, deadline=None)
@given(request=requests())
def test_responses_round_trip(request: Request) -> None:
    check("responses", request)


@settings(max_examples=150, deadline=None)
@given(request=requests())
def test_gemini_round_trip(request: Request) -> None:
    check("gemini", request)

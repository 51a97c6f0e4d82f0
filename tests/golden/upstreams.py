"""The golden scenarios as a Responses-only backend and a Gemini backend send them.

Written from the providers' documented wire formats, independently of turnout's writers:
the OpenAI Responses API's event sequence (``response.created`` … ``response.completed``,
each with ``sequence_number``), and Gemini's ``streamGenerateContent?alt=sse`` chunks
(each a partial ``GenerateContentResponse``, CRLF-framed, the function call whole in one
part, the last chunk with ``finishReason`` and ``usageMetadata``).
"""

from __future__ import annotations

import json
from typing import Any

from tests.golden.scenarios import Scenario

SIGNATURE = "RXFRQkNnSVlBaElNMWdiY0RhOUdKd1pBMmIzaEdneEJkanJrekxva3kzZGwxcGtp"  # base64, as Google's


def _usage(s: Scenario) -> dict[str, Any]:
    prompt, completion, cached = s.usage
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 3 if s.thinking else 0},
        "total_tokens": prompt + completion,
    }


def _response(status: str, output: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
    return {
        "id": "resp_gold",
        "object": "response",
        "created_at": 1700000000,
        "status": status,
        "model": "up-model",
        "output": output,
        "usage": usage,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
    }


def _items(s: Scenario) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if s.thinking:
        summary = [{"type": "summary_text", "text": "".join(s.thinking)}]
        items.append(
            {"type": "reasoning", "id": "rs_gold", "summary": summary, "encrypted_content": "gAAAAgold"}
        )
    if s.text:
        content = [{"type": "output_text", "text": "".join(s.text), "annotations": []}]
        items.append(
            {
                "type": "message",
                "id": "msg_gold",
                "status": "completed",
                "role": "assistant",
                "content": content,
            }
        )
    for tool in s.tools:
        items.append(
            {
                "type": "function_call",
                "id": f"fc_{tool.id}",
                "call_id": tool.id,
                "name": tool.name,
                "arguments": "".join(tool.pieces),
                "status": "completed",
            }
        )
    return items


def responses_response(s: Scenario) -> dict[str, Any]:
    status = "incomplete" if s.finish == "length" else "completed"
    return _response(status, _items(s), _usage(s))


def responses_stream(s: Scenario) -> bytes:
    events: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append({"type": kind, "sequence_number": len(events), **fields})

    emit("response.created", response=_response("in_progress", []))
    emit("response.in_progress", response=_response("in_progress", []))
    for index, item in enumerate(_items(s)):
        where = {"output_index": index, "item_id": item["id"]}
        if item["type"] == "reasoning":
            emit("response.output_item.added", output_index=index, item={**item, "summary": []})
            emit(
                "response.reasoning_summary_part.added",
                **where,
                summary_index=0,
                part={"type": "summary_text", "text": ""},
            )
            for piece in s.thinking:
                emit("response.reasoning_summary_text.delta", **where, summary_index=0, delta=piece)
            emit("response.reasoning_summary_text.done", **where, summary_index=0, text="".join(s.thinking))
        elif item["type"] == "message":
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "content": []},
            )
            part = {"type": "output_text", "text": "", "annotations": []}
            emit("response.content_part.added", **where, content_index=0, part=part)
            for k, piece in enumerate(s.text):
                emit("response.output_text.delta", **where, content_index=0, delta=piece)
                if k == 0 and s.error_mid_stream:
                    emit("error", code="server_error", message=s.error_mid_stream, param=None)
                    return _frame(events)
            emit("response.output_text.done", **where, content_index=0, text="".join(s.text))
        else:
            tool = next(t for t in s.tools if t.id == item["call_id"])
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "arguments": "", "status": "in_progress"},
            )
            for piece in tool.pieces:
                emit("response.function_call_arguments.delta", **where, delta=piece)
            emit("response.function_call_arguments.done", **where, arguments=item["arguments"])
        emit("response.output_item.done", output_index=index, item=item)
    final = responses_response(s)
    if not s.stream_usage:
        final["usage"] = None
    emit("response.incomplete" if final["status"] == "incomplete" else "response.completed", response=final)
    return _frame(events)


def _frame(events: list[dict[str, Any]]) -> bytes:
    return "".join(
        f"event: {e['type']}\ndata: {json.dumps(e, separators=(',', ':'))}\n\n" for e in events
    ).encode()


def _gemini_usage(s: Scenario) -> dict[str, int]:
    prompt, completion, cached = s.usage
    usage = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion,
        "totalTokenCount": prompt + completion,
    }
    if cached:
        usage["cachedContentTokenCount"] = cached
    if s.thinking:
        usage["thoughtsTokenCount"] = 3
    return usage


def _chunk(parts: list[dict[str, Any]], finish: str | None = None, usage: Any = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [candidate], "modelVersion": "up-model", "responseId": "gold"}
    if usage is not None:
        out["usageMetadata"] = usage
    return out


def _finish(s: Scenario) -> str:
    return "MAX_TOKENS" if s.finish == "length" else "STOP"


def _calls(s: Scenario) -> list[dict[str, Any]]:
    parts = []
    for k, tool in enumerate(s.tools):
        part: dict[str, Any] = {
            "functionCall": {"name": tool.name, "args": json.loads("".join(tool.pieces) or "{}")}
        }
        if k == 0 and s.thinking:
            part["thoughtSignature"] = SIGNATURE  # Gemini signs the first call of a thinking turn
        parts.append(part)
    return parts


def gemini_response(s: Scenario) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if s.thinking:
        parts.append({"text": "".join(s.thinking), "thought": True})
    if s.text:
        parts.append({"text": "".join(s.text)})
    return _chunk(parts + _calls(s), _finish(s), _gemini_usage(s))


def gemini_stream(s: Scenario) -> bytes:
    chunks = [_chunk([{"text": piece, "thought": True}]) for piece in s.thinking]
    for k, piece in enumerate(s.text):
        chunks.append(_chunk([{"text": piece}]))
        if k == 0 and s.error_mid_stream:
            chunks.append({"error": {"code": 503, "message": s.error_mid_stream, "status": "UNAVAILABLE"}})
            return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)
    if s.tools:
        chunks.append(_chunk(_calls(s)))
    last = _chunk([], _finish(s), _gemini_usage(s) if s.stream_usage else None)
    chunks.append(last)
    return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks)

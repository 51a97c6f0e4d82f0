"""A scripted model for end-to-end tool-use conversations, in either dialect.

Turn one: the model calls a tool on the file named in the user's newest prompt
(``FILE:<path>``), using Claude Code's ``Read`` or Gemini CLI's ``read_file`` tool when
offered, else the first tool.
Next turn, once a tool result is in the history: it answers with text quoting that
result. Like llama.cpp and Ollama, it repeats its ids: every response is
``chatcmpl-gold`` and every call ``call_scripted_1``. Replies are
built with the golden corpus's generators, so they are framed like real providers.

Offered Codex's tools (``exec_command`` and the freeform ``apply_patch``), it works as a
coding agent would: it reads the file with a shell command, then patches it (the
password's word upper-cased), then says it is done.

For the secret scrubber's tests: ``ECHO:<text>`` is said back in pieces of three
characters (so a placeholder in it arrives split over many deltas), and, when a tool is
offered, also passed whole as the ``content`` argument of a call to it; after
``FILE:<src> COPY:<dest>``, once the file is read, the model writes what it read into
``<dest>`` with Claude Code's ``Write`` tool.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.golden.scenarios import Scenario, Tool

_FILE = re.compile(r"FILE:(\S+)")
_LINE_NUMBER = re.compile(r"^\s*\d+(\t|→)")  # Claude Code's Read numbers the lines it returns


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    out = []
    for part in content or []:
        if isinstance(part, dict):
            if isinstance(part.get("text"), str):
                out.append(part["text"])
            if part.get("type") == "tool_result":
                out.append(_texts(part.get("content")))
    return "\n".join(out)


def _last_tool_result(body: dict[str, Any]) -> str | None:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "tool":
            return _texts(message.get("content"))
        content = message.get("content")
        if isinstance(content, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in content
        ):
            return _texts([b for b in content if b.get("type") == "tool_result"])
        if message.get("role") == "user":
            return None
    return None


def _newest_file(body: dict[str, Any]) -> str | None:
    """The file named in the newest user text that names one (a continued session carries
    the earlier turns' prompts; Claude Code appends context after the prompt)."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            content = [b for b in content if isinstance(b, dict) and b.get("type") != "tool_result"]
        if found := _FILE.findall(_texts(content)):
            return str(found[-1])
    return None


def _tool_names(body: dict[str, Any]) -> list[str]:
    names = []
    for tool in body.get("tools") or []:
        names.append((tool.get("function") or {}).get("name") or tool.get("name") or "")
    return [n for n in names if n]


def _tool_results(body: dict[str, Any]) -> list[str]:
    """Every tool result in the history, in order, in either dialect."""
    results = []
    for message in body.get("messages") or []:
        if message.get("role") == "tool":
            results.append(_texts(message.get("content")))
        elif isinstance(message.get("content"), list):
            for block in message["content"]:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    results.append(_texts(block.get("content")))
    return results


def _call(name: str, arguments: dict[str, Any], text: str) -> Scenario:
    encoded = json.dumps(arguments)
    pieces = [encoded[i : i + 9] for i in range(0, len(encoded), 9)]
    return Scenario(
        "scripted",
        text=[text],
        tools=[Tool("call_scripted_1", name, pieces)],
        finish="tool_calls",
        stop_reason="tool_use",
    )


def codex_scenario(body: dict[str, Any]) -> Scenario:
    """Read the file with ``exec_command``, patch it with ``apply_patch``, report."""
    results = _tool_results(body)
    path = _newest_file(body) or "missing.txt"
    if not results:
        return _call("exec_command", {"cmd": f"cat {path}"}, "Reading the file.")
    if len(results) == 1:
        line = next((ln for ln in results[0].splitlines() if "password is" in ln), "").strip()
        word = line.rsplit(" ", 1)[-1]
        shouted = line[: -len(word)] + word.upper()
        patch = f"*** Begin Patch\n*** Update File: {path}\n@@\n-{line}\n+{shouted}\n*** End Patch\n"
        return _call("apply_patch", {"input": patch}, "Patching it.")
    return Scenario("scripted", text=["Done: ", "the file ", "is patched."])


def _as_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses or Gemini request as the Chat-shaped history the script reads."""
    if isinstance(body.get("input"), str):
        body = {**body, "input": [{"role": "user", "content": body["input"]}]}
    if isinstance(body.get("input"), list):
        messages: list[dict[str, Any]] = []
        for item in body["input"]:
            if item.get("type") in ("function_call_output", "custom_tool_call_output"):
                messages.append({"role": "tool", "content": item.get("output")})
            elif item.get("role") in ("user", "assistant"):
                messages.append({"role": item["role"], "content": item.get("content")})
        tools = [{"name": t.get("name")} for t in body.get("tools") or []]
        return {"messages": messages, "tools": tools}
    if isinstance(body.get("contents"), list):
        messages = []
        for content in body["contents"]:
            for part in content.get("parts") or []:
                if "functionResponse" in part:
                    response = part["functionResponse"].get("response") or {}
                    messages.append({"role": "tool", "content": str(response.get("output", response))})
                elif "text" in part and not part.get("thought"):
                    role = "assistant" if content.get("role") == "model" else "user"
                    messages.append({"role": role, "content": part["text"]})
        declarations = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
        return {"messages": messages, "tools": [{"name": d.get("name")} for d in declarations]}
    return body


_ECHO = re.compile(r"ECHO:(.*)", re.DOTALL)
_COPY = re.compile(r"COPY:(\S+)")


def _newest_mark(body: dict[str, Any], mark: re.Pattern[str]) -> re.Match[str] | None:
    """``mark`` in the newest user text that holds it (Claude Code sends reminders as user
    messages of their own around the prompt)."""
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user" and (found := mark.search(_texts(message.get("content")))):
            return found
    return None


def echo_scenario(text: str, tools: list[str]) -> Scenario:
    pieces = [text[i : i + 3] for i in range(0, len(text), 3)]
    if not tools:
        return Scenario("scripted", text=pieces)
    arguments = json.dumps({"content": text})
    calls = [Tool("call_echo_1", tools[0], [arguments[i : i + 5] for i in range(0, len(arguments), 5)])]
    return Scenario("scripted", text=pieces, tools=calls, finish="tool_calls", stop_reason="tool_use")


def copy_scenario(body: dict[str, Any], dest: str) -> Scenario | None:
    """Read the file, then write what it said into ``dest``, then say so."""
    results = _tool_results(body)
    if len(results) == 1 and "Write" in _tool_names(body):
        lines = [_LINE_NUMBER.sub("", line, count=1) for line in results[0].splitlines()]
        content = "\n".join(lines).strip("\n") + "\n"
        return _call("Write", {"file_path": dest, "content": content}, "Copying it.")
    if len(results) >= 2:
        return Scenario("scripted", text=["Copied."])
    return None


def scripted_scenario(body: dict[str, Any]) -> Scenario:
    body = _as_chat(body)
    if "apply_patch" in _tool_names(body):
        return codex_scenario(body)
    if echo := _newest_mark(body, _ECHO):
        return echo_scenario(echo.group(1), _tool_names(body))
    if (dest := _newest_mark(body, _COPY)) and (copied := copy_scenario(body, dest.group(1))):
        return copied
    result = _last_tool_result(body)
    if result is not None:
        lines = [_LINE_NUMBER.sub("", line).strip() for line in result.splitlines()]
        quoted = next((line for line in lines if line), "")
        words = f"The file says: {quoted}".split(" ")
        return Scenario("scripted", text=[w + " " for w in words[:-1]] + [words[-1]])
    path = _newest_file(body)
    names = _tool_names(body)
    if not path or not names:
        return Scenario("scripted", text=["OK"])
    name = next((n for n in ("Read", "read_file") if n in names), names[0])  # Claude Code's, Gemini CLI's
    key = "file_path" if name in ("Read", "read_file") else "path"
    arguments = json.dumps({key: path})
    pieces = [arguments[i : i + 7] for i in range(0, len(arguments), 7)]
    return Scenario(
        "scripted",
        text=["Reading it."],
        tools=[Tool("call_scripted_1", name, pieces)],
        finish="tool_calls",
        stop_reason="tool_use",
    )

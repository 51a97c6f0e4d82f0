"""Secrets out of requests, in every dialect: never in what leaves, always the same
placeholder for the same value, opaque values untouched, bounded memory."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.secret_samples import SAMPLES, in_context
from turnout.core.scrub import PLACEHOLDER, SecretsFound, SeenBodies, Vault, Vaults, conversation_key, scrub
from turnout.core.secrets import Scanner

SCANNER = Scanner()


def messages_body(texts: list[str]) -> tuple[str, dict[str, Any]]:
    return "messages", {
        "model": "claude-sonnet-5-5",
        "system": [{"type": "text", "text": texts[0]}],
        "messages": [
            {"role": "user", "content": texts[1]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": texts[2]},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "Write",
                        "input": {"file_path": "/tmp/x", "content": texts[3]},
                    },
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": texts[4]}],
            },
        ],
    }


def chat_body(texts: list[str]) -> tuple[str, dict[str, Any]]:
    return "chat", {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": texts[0]},
            {"role": "user", "content": [{"type": "text", "text": texts[1]}]},
            {
                "role": "assistant",
                "content": texts[2],
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": "write",
                            "arguments": orjson.dumps({"content": texts[3]}).decode(),
                        },
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": texts[4]},
        ],
    }


def responses_body(texts: list[str]) -> tuple[str, dict[str, Any]]:
    return "responses", {
        "model": "gpt-5",
        "instructions": texts[0],
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": texts[1]}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": texts[2]}]},
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "write",
                "arguments": orjson.dumps({"content": texts[3]}).decode(),
            },
            {"type": "function_call_output", "call_id": "c1", "output": texts[4]},
        ],
    }


def gemini_body(texts: list[str]) -> tuple[str, dict[str, Any]]:
    return "gemini", {
        "systemInstruction": {"parts": [{"text": texts[0]}]},
        "contents": [
            {"role": "user", "parts": [{"text": texts[1]}]},
            {
                "role": "model",
                "parts": [
                    {"text": texts[2]},
                    {"functionCall": {"name": "write", "args": {"content": texts[3]}}},
                ],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "write", "response": {"output": texts[4]}}}],
            },
        ],
    }


BODIES = [messages_body, chat_body, responses_body, gemini_body]


def scrubbed(endpoint: str, body: dict[str, Any], vaults: Vaults | None = None) -> Any:
    return scrub(endpoint, body, orjson.dumps(body), (), SCANNER, vaults if vaults is not None else Vaults())


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(BODIES),
    st.sampled_from(sorted(SAMPLES)),
    st.integers(0, 4),
    st.text(max_size=40),
    st.text(max_size=40),
)
def test_no_secret_of_any_kind_leaves_in_any_dialect(
    make: Any, kind: str, where: int, before: str, after: str
) -> None:
    value = SAMPLES[kind]
    texts = ["You are helpful.", "hello", "ok", "done", "the file"]
    texts[where] = f"{before}\n{in_context(kind, value)}\n{after}"
    endpoint, body = make(texts)
    out = scrubbed(endpoint, body)
    assert out is not None
    sent = out.raw.decode("utf-8", "surrogatepass")
    escaped = orjson.dumps(value).decode()[1:-1]
    assert value not in sent and escaped not in sent and escaped.replace('"', '\\\\\\"') not in sent
    assert kind in out.kinds and PLACEHOLDER.search(sent)
    assert out.vault.values[f"[[secret:{kind}:1]]"] == value or kind in ("aws_secret_key",)


def test_a_body_without_secrets_is_left_alone() -> None:
    endpoint, body = messages_body(["system", "max_tokens: 32000", "a", "b", "password = os.environ['X']"])
    assert scrubbed(endpoint, body) is None


def test_the_same_value_is_the_same_placeholder_across_a_conversation() -> None:
    vaults = Vaults()
    key, token = SAMPLES["aws_access_key"], SAMPLES["github_token"]
    first = {"model": "m", "messages": [{"role": "user", "content": f"my key {key}"}]}
    out1 = scrubbed("messages", first, vaults)
    assert out1 is not None and "[[secret:aws_access_key:1]]" in out1.raw.decode()
    second = {
        "model": "m",
        "messages": [
            *first["messages"],
            {"role": "assistant", "content": f"noted {key}"},
            {"role": "user", "content": f"and {token} and {key} again"},
        ],
    }
    out2 = scrubbed("messages", second, vaults)
    assert out2 is not None
    sent = out2.raw.decode()
    assert sent.count("[[secret:aws_access_key:1]]") == 3 and "[[secret:github_token:1]]" in sent
    assert out2.vault is out1.vault and len(vaults) == 1
    other = scrubbed(
        "messages", {"model": "m", "messages": [{"role": "user", "content": f"{token}"}]}, vaults
    )
    assert other is not None and other.vault is not out1.vault and len(vaults) == 2


def test_opaque_values_and_signed_reasoning_are_never_changed() -> None:
    key = SAMPLES["aws_access_key"]
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": f"iVBOR{key}AAAA"},
                    },
                    {"type": "text", "text": f"key {key}"},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": f"the model wrote {key}", "signature": "c2lnbmF0dXJl"},
                    {"type": "text", "text": "ok"},
                ],
            },
        ],
    }
    out = scrubbed("messages", body)
    assert out is not None
    content = out.body["messages"][0]["content"]
    assert content[0]["source"]["data"] == f"iVBOR{key}AAAA" and key not in content[1]["text"]
    assert out.body["messages"][1]["content"][0] == body["messages"][1]["content"][0]


def test_a_member_named_like_a_secret_in_tool_input() -> None:
    value = SAMPLES["secret_assignment"]
    body = {"model": "m", "messages": [{"role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": "login", "input": {"user": "ann", "password": value}},
    ]}]}  # fmt: skip
    out = scrubbed("messages", body)
    assert out is not None and value not in out.raw.decode()
    assert out.body["messages"][0]["content"][0]["input"] == {
        "user": "ann",
        "password": "[[secret:secret_assignment:1]]",
    }


def test_ascii_hidden_in_unicode_escapes_is_still_found() -> None:
    key = SAMPLES["github_token"]
    raw = (
        '{"model":"m","messages":[{"role":"user","content":"'
        + "".join(f"\\u{ord(c):04x}" for c in key)
        + '"}]}'
    ).encode()
    body = orjson.loads(raw)
    out = scrub("messages", body, raw, (), SCANNER, Vaults())
    assert out is not None and key not in out.raw.decode()


def test_the_conversation_is_known_by_its_session_header_or_first_message() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    longer = {"messages": [*body["messages"], {"role": "assistant", "content": "yes"}]}
    assert conversation_key("messages", body, ()) == conversation_key("messages", longer, ())
    assert conversation_key("messages", body, ()) != conversation_key("chat", body, ())
    session = ((b"x-claude-code-session-id", b"abc"),)
    assert conversation_key("messages", body, session) == conversation_key("chat", {}, session)


def test_vaults_are_bounded_and_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    vaults = Vaults(conversations=3, max_bytes=100, ttl=10)
    for i in range(5):
        vaults.get(bytes([i])).placeholder("k", "v" * 10)
    assert len(vaults) == 3
    big = vaults.get(b"big")
    for i in range(20):
        big.placeholder("k", f"{i:02d}" * 5)
    assert vaults.get(b"big") is big and len(vaults) == 1  # over the byte bound: the others went
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 11)
    assert vaults.get(b"big") is not big  # expired


def test_a_vault_refuses_past_its_limit() -> None:
    vault = Vault()
    for i in range(Vault.LIMIT):
        vault.placeholder("k", str(i))
    assert vault.placeholder("k", "0") == "[[secret:k:1]]"
    with pytest.raises(SecretsFound, match="more than"):
        vault.placeholder("k", "new")


def test_a_body_that_grows_is_searched_again_past_what_it_shares_and_nothing_is_missed() -> None:
    """Every turn an agent resends the history: what was clean is not searched again, but a
    secret anywhere in what changed is found, even one that straddles the change."""
    seen, vaults = SeenBodies(), Vaults()
    history = [{"role": "user", "content": "x" * 50_000}, {"role": "assistant", "content": "y" * 50_000}]

    def send(messages: list[dict[str, Any]]) -> Any:
        body = {"model": "m", "messages": messages}
        return scrub("messages", body, orjson.dumps(body), (), SCANNER, vaults, seen)

    assert send(history) is None and send(history) is None  # clean, then the same again
    same = orjson.dumps({"model": "m", "messages": history})
    assert seen.start(same) == (len(same), [])
    token = SAMPLES["github_token"]
    later = send([*history, {"role": "user", "content": f"here {token}"}])
    assert later is not None and token not in later.raw.decode()
    turn = [
        *history,
        {"role": "user", "content": f"here {token}"},
        {"role": "assistant", "content": "z" * 40_000},
    ]
    again = send(
        [*turn, {"role": "user", "content": f"and {SAMPLES['npm_token']}"}]
    )  # the token found before
    assert (
        again is not None
        and token not in again.raw.decode()
        and SAMPLES["npm_token"] not in again.raw.decode()
    )
    assert (
        again.raw.decode().count("[[secret:github_token:1]]") == 1
        and "[[secret:npm_token:1]]" in again.raw.decode()
    )
    changed = [
        {"role": "user", "content": "x" * 20_000 + " " + SAMPLES["aws_access_key"] + " " + "x" * 30_000},
        history[1],
    ]
    found = send(changed)
    assert found is not None and SAMPLES["aws_access_key"] not in found.raw.decode()
    pem = SAMPLES["private_key"]
    straddling = [{"role": "user", "content": "x" * 49_990 + pem}, history[1]]  # starts before the change
    found = send(straddling)
    assert found is not None and "PRIVATE KEY" not in found.raw.decode()


def test_tokens_are_replaced_in_the_bytes_and_opaque_values_still_stay() -> None:
    """The quick way (no walk) only where the walk would have replaced them."""
    token, google = SAMPLES["github_token"], SAMPLES["google_api_key"]
    thinking = {"type": "thinking", "thinking": "plan", "signature": "c2ln+/="}
    result = {"type": "tool_result", "tool_use_id": "t", "content": f'token = "{token}"'}
    body = {
        "model": "m",
        "messages": [{"role": "assistant", "content": [thinking]}, {"role": "user", "content": [result]}],
    }
    out = scrubbed("messages", body)
    assert out is not None and out.parsed is None  # spliced: the body was neither walked nor parsed
    sent = orjson.loads(out.raw)
    assert sent["messages"][0]["content"][0] == thinking
    assert sent["messages"][1]["content"][0]["content"] == 'token = "[[secret:github_token:1]]"'
    assert out.body == sent  # parsed when a translation asks
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": f"AAAA/{google}/AAAA"},
    }
    body["messages"][1]["content"] = [image, result]  # a look-alike in an image's base64: walked instead
    walked = scrubbed("messages", body)
    assert walked is not None and walked.parsed is not None and dict(walked.kinds) == {"github_token": 1}
    assert walked.body["messages"][1]["content"][0] == image

"""The detectors: every kind found wherever it sits, and nothing found in ordinary text."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import re
import uuid
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.secret_samples import SAMPLES, in_context
from turnout.core.secrets import KINDS, Scanner, UserPattern

ROOT = Path(__file__).resolve().parents[2]
SCANNER = Scanner()


def test_every_kind_has_a_sample() -> None:
    assert set(SAMPLES) == KINDS


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_is_found_as_itself(kind: str) -> None:
    value = SAMPLES[kind]
    text = in_context(kind, value).encode()
    found = {(f.kind, f.value) for f in SCANNER.find(text)}
    assert (kind, value.encode()) in found


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_is_found_in_json_and_in_json_in_json(kind: str) -> None:
    """The fast path searches the body's bytes: escaped quotes and newlines must not hide anything."""
    text = in_context(kind, SAMPLES[kind])
    once = orjson.dumps({"content": f"see {text} here"})
    twice = orjson.dumps({"arguments": once.decode()})
    for data in (once, twice):
        assert any(f.kind == kind for f in SCANNER.find(data)), data[:200]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(SAMPLES)), st.text(max_size=60), st.text(max_size=60))
def test_found_between_any_text(kind: str, before: str, after: str) -> None:
    """Whatever surrounds it (a separator is all a real file puts there)."""
    text = f"{before}\n{in_context(kind, SAMPLES[kind])}\n{after}".encode("utf-8", "surrogatepass")
    assert any(f.kind == kind for f in SCANNER.find(text))


def corpus() -> list[tuple[str, bytes]]:
    """Ordinary code and prose: the project's own sources and docs (not its tests, which
    hold fake keys on purpose), and the shapes that look random but are not secrets."""
    files = [
        *ROOT.glob("turnout/**/*.py"),
        *ROOT.glob("bench/*.py"),
        *ROOT.glob("*.md"),
        *ROOT.glob("bench/*.md"),
    ]
    files += [ROOT / "config" / "example.yaml", ROOT / "pyproject.toml"]
    out = [(str(p.relative_to(ROOT)), p.read_bytes()) for p in files]
    rng = random.Random(7)
    blobs = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(300)]
    blobs += [hashlib.sha1(str(i).encode()).hexdigest() for i in range(300)]
    blobs += [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(300)]
    image = base64.b64encode(rng.randbytes(300_000)).decode()
    out.append(("hashes and uuids", "\n".join(f"id: {b}" for b in blobs).encode()))
    out.append(
        ("a base64 image", orjson.dumps({"type": "image", "source": {"type": "base64", "data": image}}))
    )
    out.append(("a data URL", f'{{"url": "data:image/png;base64,{image}"}}'.encode()))
    return out


def test_ordinary_code_and_prose_hold_no_secrets() -> None:
    lines = 0
    for name, data in corpus():
        lines += data.count(b"\n")
        found = [(f.kind, data[max(0, f.start - 30) : f.end + 10]) for f in SCANNER.find(data)]
        assert not found, (name, found)
    assert lines > 15_000  # a corpus worth the name


@pytest.mark.parametrize(
    "text",
    [
        'password = os.environ["DB_PASSWORD"]',
        "api_key: ${OPENAI_API_KEY}",
        "token = request.headers.get",
        "max_tokens: 32000",
        '"tokenizer": "cl100k_base"',
        "password: <your-password>",
        "https://user:password@host/v1",
        "http://turnout:KEY@127.0.0.1:3457",
        "secret = xxxxxxxxxxxxxxxx",
        "AWS example: AKIAIOSFODNN7EXAMPL",  # 19 characters: not a key id
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "sk-ant-secret-1111",
    ],
)
def test_placeholders_and_code_references_are_not_secrets(text: str) -> None:
    assert SCANNER.find(text.encode()) == []


def test_the_allowlist_and_the_users_own_patterns() -> None:
    github = SAMPLES["github_token"]
    scanner = Scanner(
        [UserPattern("internal_token", re.compile(rb"itk_[a-z0-9]{16}"))],
        allow=[github, "/sk-proj-.*/"],
    )
    text = f"{github} {SAMPLES['openai_key']} itk_0123456789abcdef {SAMPLES['npm_token']}".encode()
    assert [f.kind for f in scanner.find(text)] == ["internal_token", "npm_token"]
    assert [f.kind for f in scanner.scan(text)[0]] == ["npm_token"]  # a body: the patterns are for strings


def test_an_aws_key_pair_is_two_findings_and_overlaps_are_resolved() -> None:
    text = in_context("aws_secret_key", SAMPLES["aws_secret_key"]).encode()
    found = SCANNER.find(text)
    assert [f.kind for f in found] == ["aws_access_key", "aws_secret_key"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))


def test_a_json_member_named_like_a_secret() -> None:
    value = SAMPLES["secret_assignment"].encode()
    assert SCANNER.assigned("db_password", value) == "secret_assignment"
    assert SCANNER.assigned("AWS_SECRET_ACCESS_KEY", SAMPLES["aws_secret_key"].encode()) == "aws_secret_key"
    assert SCANNER.assigned("description", value) is None
    assert SCANNER.assigned("password", b"hunter") is None  # too short to be sure
    assert json.dumps(SAMPLES)  # the samples are JSON-safe

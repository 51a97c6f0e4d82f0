"""Property: however the upstream bytes are split into reads, the client gets the same stream."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.golden.corpus import ROOT, run_stream, to_anthropic_ctx, to_openai_ctx
from tests.golden.scenarios import SCENARIOS

NAMES = [s.name for s in SCENARIOS if not s.http_error and s.name != "long_stream"]


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """Non-empty reads, as mitmproxy delivers them (``b""`` means the end)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=0), max_size=60))
def test_openai_upstream_any_split(name: str, cuts: list[int]) -> None:
    upstream = (ROOT / name / "openai.sse").read_bytes()
    expected = (ROOT / name / "client_anthropic.sse").read_bytes()
    assert run_stream(to_anthropic_ctx(), split(upstream, cuts)) == expected


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0), max_size=60))
def test_anthropic_upstream_any_split(name: str, cuts: list[int]) -> None:
    upstream = (ROOT / name / "anthropic.sse").read_bytes()
    expected = (ROOT / name / "client_openai.sse").read_bytes()
    assert run_stream(to_openai_ctx(), split(upstream, cuts)) == expected


@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(min_value=0), max_size=20))
@settings(max_examples=200, deadline=None)
def test_garbage_never_raises_and_always_ends_the_stream(data: bytes, cuts: list[int]) -> None:
    anthropic_out = run_stream(to_anthropic_ctx(), split(data, cuts))
    assert (
        anthropic_out.rstrip().endswith((b'{"type":"message_stop"}', b'"}}')) and b"event: " in anthropic_out
    )
    openai_out = run_stream(to_openai_ctx(), split(data, cuts))
    assert openai_out.endswith((b"data: [DONE]\n\n", b"}}\n\n"))


def test_crlf_framing_and_byte_at_a_time() -> None:
    upstream = (ROOT / "one_tool" / "openai.sse").read_bytes()
    expected = (ROOT / "one_tool" / "client_anthropic.sse").read_bytes()
    crlf = upstream.replace(b"\n", b"\r\n")
    assert run_stream(to_anthropic_ctx(), [crlf[i : i + 1] for i in range(len(crlf))]) == expected

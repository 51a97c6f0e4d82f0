from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from mitmproxy.http import Headers

from turnout.core.headers import header_value, rewrite

FIELDS = ((b"Host", b"a"), (b"Authorization", b"Bearer x"), (b"X-Two", b"1"), (b"x-two", b"2"))


def test_header_value_is_case_insensitive_and_takes_the_first() -> None:
    assert header_value(FIELDS, b"x-two") == b"1"
    assert header_value(FIELDS, b"authorization") == b"Bearer x"
    assert header_value(FIELDS, b"missing") is None


def test_rewrite_drops_every_occurrence_and_places_additions() -> None:
    out = rewrite(FIELDS, frozenset({b"host", b"x-two"}), ((b"x-new", b"n"),), first=((b"host", b"b"),))
    assert out == ((b"host", b"b"), (b"Authorization", b"Bearer x"), (b"x-new", b"n"))


def test_rewrite_without_changes_returns_the_same_tuple() -> None:
    assert rewrite(FIELDS, frozenset({b"absent"})) is FIELDS


names = st.sampled_from([b"Host", b"host", b"X-Api-Key", b"authorization", b"content-type", b"x-a"])
pairs = st.lists(st.tuples(names, st.binary(min_size=0, max_size=5)), max_size=8).map(tuple)


@given(pairs, st.frozensets(st.sampled_from([b"host", b"x-api-key", b"authorization", b"x-a"])))
def test_rewrite_agrees_with_mitmproxy_headers(
    fields: tuple[tuple[bytes, bytes], ...], drop: frozenset[bytes]
) -> None:
    expected = Headers(fields)
    for name in drop:
        expected.pop(name.decode(), None)
    assert rewrite(fields, drop) == expected.fields
    for name in (b"host", b"x-a", b"content-type"):
        values = Headers(fields).get_all(name.decode())
        first = values[0].encode("utf-8", "surrogateescape") if values else None
        assert header_value(fields, name) == first

"""A mitmweb replay: the key it went out with is put back on the wire by backend and
alias, or the replay is refused when the config no longer has that key."""

from __future__ import annotations

import orjson
from mitmproxy.test import taddons

from tests.addons.helpers import flow, runtime
from turnout.addons._flows import SENT
from turnout.addons._mitm import WireHeaders
from turnout.addons.secrecy import Secrecy


def _replayed(sent: tuple[str, str]):  # type: ignore[no-untyped-def]
    f = flow("/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 5, "messages": []})
    f.is_replay = "request"
    f.metadata[SENT] = sent
    return f


def test_a_replay_gets_its_key_back_on_the_wire_only() -> None:
    wire = WireHeaders()
    secrecy = Secrecy(runtime(), wire)
    f = _replayed(("anth", "default"))
    with taddons.context(secrecy):
        secrecy.requestheaders(f)
    assert f.response is None and wire.held(f) == ((b"x-api-key", b"sk-ant-secret-1111"),)
    assert "sk-ant-secret" not in str(f.request.headers)


def test_a_replay_whose_key_is_gone_is_refused_in_its_dialect() -> None:
    wire = WireHeaders()
    secrecy = Secrecy(runtime(), wire)
    for sent in (("gone", "default"), ("anth", "no-such-alias")):
        f = _replayed(sent)
        with taddons.context(secrecy):
            secrecy.requestheaders(f)
        assert f.response is not None and f.response.status_code == 404
        body = orjson.loads(f.response.content or b"")
        assert body["type"] == "error" and "no longer has" in body["error"]["message"]
        assert wire.held(f) == ()


def test_a_client_request_is_left_alone() -> None:
    wire = WireHeaders()
    secrecy = Secrecy(runtime(), wire)
    f = flow("/v1/messages", {"model": "x", "messages": []})
    f.metadata[SENT] = ("anth", "default")  # not a replay: a client cannot set is_replay
    with taddons.context(secrecy):
        secrecy.requestheaders(f)
    assert f.response is None and wire.held(f) == ()

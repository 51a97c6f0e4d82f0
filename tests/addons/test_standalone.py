from __future__ import annotations

from mitmproxy.addons import proxyserver
from mitmproxy.test import taddons

from turnout.addons.chain import build_chain
from turnout.addons.standalone import StandaloneDefaults


def test_default_mode_becomes_turnouts_listener() -> None:
    addon = StandaloneDefaults()
    with taddons.context(addon, proxyserver.Proxyserver()) as tctx:
        addon.running()
        assert tctx.options.mode == ["reverse:http://127.0.0.1:9@127.0.0.1:3456"]
        assert tctx.options.connection_strategy == "lazy"


def test_explicit_mode_wins() -> None:
    addon = StandaloneDefaults()
    with taddons.context(addon) as tctx:
        tctx.options.update(mode=["reverse:http://x@127.0.0.1:4000"])
        addon.running()
        assert tctx.options.mode == ["reverse:http://x@127.0.0.1:4000"]


def test_chain_order() -> None:
    names = [type(a).__name__ for a in build_chain().members]
    assert names == [
        "ConfigLoader",
        "Catalog",
        "Gate",
        "Endpoints",
        "Router",
        "Relay",
        "RateLimits",
        "Failover",
        "Translator",
        "UpstreamErrors",
        "Analytics",
        "RequestLog",
    ]

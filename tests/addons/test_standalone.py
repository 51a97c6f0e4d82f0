from __future__ import annotations

from mitmproxy.addons import proxyserver
from mitmproxy.test import taddons

from turnout.addons.chain import build_chain
from turnout.addons.standalone import StandaloneDefaults


def test_default_mode_becomes_turnouts_listener_when_the_script_loads() -> None:
    addon = StandaloneDefaults()
    with taddons.context(proxyserver.Proxyserver(), build_chain()) as tctx:
        tctx.master.addons.add(addon)
        addon.configure(set(tctx.options.keys()))  # as a script is, when it loads: before listening
        assert tctx.options.mode == ["reverse:http://127.0.0.1:9@127.0.0.1:3456"]
        assert tctx.options.connection_strategy == "lazy"
        tctx.options.update(mode=["regular"])  # chosen later (mitmweb's UI): stays chosen
        assert tctx.options.mode == ["regular"]


def test_listen_host_and_port_options_place_the_default_listener() -> None:
    with taddons.context(proxyserver.Proxyserver(), build_chain()) as tctx:
        tctx.options.update(listen_port=4123)
        tctx.master.addons.add(addon := StandaloneDefaults())
        addon.configure(set(tctx.options.keys()))
        assert tctx.options.mode == ["reverse:http://127.0.0.1:9@127.0.0.1:4123"]


def test_explicit_mode_wins() -> None:
    with taddons.context(proxyserver.Proxyserver(), build_chain()) as tctx:
        tctx.options.update(mode=["reverse:http://x@127.0.0.1:4000"])
        tctx.master.addons.add(addon := StandaloneDefaults())
        addon.configure(set(tctx.options.keys()))
        assert tctx.options.mode == ["reverse:http://x@127.0.0.1:4000"]


def test_chain_order() -> None:
    names = [type(a).__name__ for a in build_chain().members]
    assert names == [
        "ConfigLoader",
        "Drain",
        "Sharing",
        "Catalog",
        "ClientTimeouts",
        "Secrecy",
        "Intake",
        "Interception",
        "Gate",
        "Endpoints",
        "ClientCopy",
        "Router",
        "WebUpdates",
        "Relay",
        "RateLimits",
        "Failover",
        "Translator",
        "UpstreamErrors",
        "Analytics",
        "RequestLog",
    ]
    lean = [type(a).__name__ for a in build_chain(web=False).members]  # turnout proxy without --web
    assert lean == [n for n in names if n not in ("ClientCopy", "WebUpdates", "Secrecy")]


def test_a_network_listener_without_a_key_is_refused_and_answers_403() -> None:
    from mitmproxy.test import tflow

    addon = StandaloneDefaults()
    with taddons.context(addon, build_chain()) as tctx:
        tctx.options.update(mode=["reverse:http://x@127.0.0.1:4000"], turnout_api_key="")
        assert addon.refusal is None
        # mitmweb can change options while running: the listener opens, the refusal holds it shut.
        tctx.options.update(mode=["reverse:http://x@0.0.0.0:4000"])
        assert addon.refusal and "refusing to listen on 0.0.0.0" in addon.refusal
        flow = tflow.tflow()
        addon.requestheaders(flow)
        assert flow.response is not None and flow.response.status_code == 403
        tctx.options.update(mode=["reverse:http://x@[::]:4000"])
        assert addon.refusal and "::" in addon.refusal
        tctx.options.update(mode=["reverse:http://x"], listen_host="")  # every interface
        assert addon.refusal
        tctx.options.update(turnout_api_key="k")
        assert addon.refusal is None

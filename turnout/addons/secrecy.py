"""A flow never holds a backend's key: it shows it masked, and the key goes on the wire only.

A flow is what mitmweb shows, what its exports (curl, HTTPie, raw) print and what a saved
flow file keeps, so the router puts the masked credential (``sk-…abcd``) into the flow
and hands the real one to ``_mitm.WireHeaders``, which writes it into the copy of the
request mitmproxy sends, once.

Only where a flow can be seen: mitmweb, and ``mitmdump -s`` (which can save flows).
``turnout proxy`` without ``--web`` keeps no flow past its request and shows none, so it
leaves this out of its chain (``chain.concerns``) and the key in the flow (~10 µs a
request saved).

A flow replayed from mitmweb goes out again as it shows, to the backend it went to: the
key it went out with (named in ``flow.metadata``, by backend and alias, never by value)
is looked up in the config in effect and put back on the wire. A replay is the mitmweb
user's own action, so the gate does not ask it for ``TURNOUT_API_KEY``, and it is not
routed again (an edit made in mitmweb goes out as made).
"""

from __future__ import annotations

from mitmproxy import http

from turnout.addons import _mitm
from turnout.addons._flows import SENT, dialect_of, error_response, resent
from turnout.core.errors import NotFound
from turnout.core.runtime import Runtime
from turnout.core.upstream import credential_headers

__all__ = ["Secrecy"]


class Secrecy:
    def __init__(self, runtime: Runtime, wire: _mitm.WireHeaders) -> None:
        self.runtime = runtime
        self.wire = wire

    def running(self) -> None:
        self.wire.install()

    def done(self) -> None:
        self.wire.uninstall()

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not resent(flow):
            return
        backend_name, alias = flow.metadata[SENT]
        backend = self.runtime.config.backends.get(backend_name)
        state = self.runtime.pool.state(backend_name, alias) if self.runtime.pool is not None else None
        if backend is None or state is None:
            flow.response = error_response(
                dialect_of(flow),
                NotFound(
                    f"this flow went to backend {backend_name!r} with key {alias!r}, which the config in "
                    "effect no longer has; it cannot be replayed."
                ),
            )
            return
        _, fields = credential_headers(backend.kind, state.spec.key, backend.headers)
        self.wire.hold(flow, fields)

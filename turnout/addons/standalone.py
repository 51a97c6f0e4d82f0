"""What ``mitmdump -s addons/router.py`` / ``mitmweb -s addons/router.py`` need on top of the chain.

- **Listen like a router, from the start.** Under plain mitmdump the default mode is a
  regular proxy on every interface's :8080 (llama.cpp's port), which is not what a
  router is. If the user left ``mode`` at its default, it becomes turnout's reverse
  listener on 127.0.0.1:3456 (or ``--listen-host``/``-p`` if given), with the lazy
  connection strategy, when the script loads: before mitmproxy opens any listener, so
  :8080 is never bound. Any ``--mode`` given wins.
- **The same bind rule as ``turnout proxy``.** A listener on a non-loopback address
  without ``TURNOUT_API_KEY`` would serve the network with the user's keys: refused. A
  script cannot stop mitmproxy from opening the listener, so the refusal is an error at
  startup (mitmdump and mitmweb exit on it) and, until the options are fixed (mitmweb
  can change them live), every request is answered 403.
- **The client's Host header kept** (the gate checks it; turnout sets the backend's).
"""

from __future__ import annotations

import logging

from mitmproxy import ctx, http

from turnout.addons._flows import dialect_of, error_response
from turnout.addons.gate import listen_hosts
from turnout.core.errors import ConfigError, Forbidden
from turnout.server import ServerSettings, check_bind

logger = logging.getLogger(__name__)


class StandaloneDefaults:
    def __init__(self) -> None:
        self.refusal: str | None = None
        self._placed = False

    def configure(self, updated: set[str]) -> None:
        if not self._placed:  # once: a mode chosen later in mitmweb's UI stays chosen
            self._placed = True
            self._listen_like_a_router()
        if updated & {"mode", "listen_host", "turnout_api_key"}:
            self.refusal = self._bind_refusal()
            if self.refusal:
                logger.error(self.refusal)
        if not ctx.options.keep_host_header:
            ctx.options.update(keep_host_header=True)

    def _bind_refusal(self) -> str | None:
        for host in listen_hosts(ctx.options.mode, ctx.options.listen_host):
            try:
                check_bind(host or "0.0.0.0", ctx.options.turnout_api_key)
            except ConfigError as e:
                return e.message
        return None

    def _listen_like_a_router(self) -> None:
        if ctx.options.mode != ["regular"]:
            return
        host = ctx.options.listen_host or ServerSettings.host
        port = ctx.options.listen_port if ctx.options.listen_port is not None else ServerSettings.port
        values = ServerSettings(host=host, port=port).option_values()
        ctx.options.update(mode=values["mode"], connection_strategy="lazy", tcp_timeout=values["tcp_timeout"])
        logger.warning(f"listening as a router on http://{host}:{port} (pass --mode to change)")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self.refusal and not flow.response:
            flow.response = error_response(dialect_of(flow), Forbidden(self.refusal))

"""Clients that hold connections without using them are let go.

mitmproxy closes a connection only after ``tcp_timeout`` (an hour here, so that a slow
backend is never cut off) without a byte either way. That lets a client hold sockets
for nothing: one sending its headers a byte a second (slowloris), keep-alive
connections left open by the thousand, a client that stops reading its response. At
the process's file limit, new clients could no longer connect. So, by
``limits.client_timeout`` (60 s):

- a connection with no request in flight must complete a request's headers and body
  within that time of connecting, or of its last response ending; else it is closed
  (an idle keep-alive connection is simply closed, as every HTTP server does: clients
  reconnect);
- a client that stops reading a response it asked for (bytes wait to be sent and none
  moved for that long) is dropped;
- at ``limits.max_clients`` connections, a new client first displaces the longest-idle
  one; if none is idle it is refused.

And a burst of clients connecting at once (a load test, a fleet of agents starting) is
not refused or delayed by the listen backlog: turnout listens with ``turnout_backlog``
(4096; asyncio's default is 100) pending connections.

While a request waits for its backend, the client is not to blame: the backend's
``timeout`` and ``read_timeout`` govern (``upstream_errors.py``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field

from mitmproxy import connection, ctx, http
from mitmproxy.addonmanager import Loader

from turnout.addons import _mitm
from turnout.addons._flows import Sweeper
from turnout.core.runtime import Runtime

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Client:
    conn: connection.Client
    idle_since: float  # monotonic; when the last response ended (or the connection opened)
    receiving: dict[str, float] = field(default_factory=dict)  # flow id → when it began to arrive
    in_flight: set[str] = field(default_factory=set)  # flow ids whose request arrived
    tunnel: http.HTTPFlow | None = None  # the CONNECT of a blind tunnel (--intercept)


class ClientTimeouts:
    SWEEP = 1.0

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.clients: dict[str, _Client] = {}
        self.sweeper = Sweeper(self.SWEEP, self.sweep)
        self.listening = _mitm.Listening(
            lambda: ctx.options.turnout_backlog, lambda: ctx.options.turnout_reuse_port
        )

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "turnout_backlog",
            int,
            4096,
            "Connections that may wait to be accepted (asyncio's default is 100; the kernel caps it at "
            "net.core.somaxconn).",
        )
        loader.add_option(
            "turnout_reuse_port",
            bool,
            False,
            "Listen with SO_REUSEPORT: worker processes accept on one port (turnout proxy --workers).",
        )

    def configure(self, updated: set[str]) -> None:
        self.listening.install()  # before the listeners open (proxyserver's running)

    def running(self) -> None:
        raise_file_limit()
        self.sweeper.start()

    def done(self) -> None:
        self.sweeper.stop()
        self.clients.clear()
        self.listening.uninstall()

    # Connections

    def client_connected(self, client: connection.Client) -> None:
        now = time.monotonic()
        if len(self.clients) >= self.runtime.config.limits.max_clients and not self._displace_idlest():
            client.error = "turnout: too many client connections (limits.max_clients)"
            self.runtime.say_once(
                "max clients",
                f"refusing new clients: {len(self.clients)} connections are busy "
                "(limits.max_clients in the config)",
            )
            return
        self.clients[client.id] = _Client(client, now)

    def client_disconnected(self, client: connection.Client) -> None:
        self.clients.pop(client.id, None)

    def _displace_idlest(self) -> bool:
        idle = [c for c in self.clients.values() if not c.in_flight and not c.receiving]
        if not idle:
            return False
        idlest = min(idle, key=lambda c: c.idle_since)
        del self.clients[idlest.conn.id]
        _mitm.close_client(idlest.conn)
        return True

    # Requests

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if (client := self.clients.get(flow.client_conn.id)) is None:
            return
        busy = client.in_flight or client.receiving
        # The first request on an idle connection had all the idle time to arrive in.
        client.receiving[flow.id] = time.monotonic() if busy else client.idle_since

    def request(self, flow: http.HTTPFlow) -> None:
        if (client := self.clients.get(flow.client_conn.id)) is not None:
            client.receiving.pop(flow.id, None)
            client.in_flight.add(flow.id)

    def response(self, flow: http.HTTPFlow) -> None:
        self._over(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._over(flow)

    def _over(self, flow: http.HTTPFlow) -> None:
        if (client := self.clients.get(flow.client_conn.id)) is None:
            return
        client.receiving.pop(flow.id, None)
        client.in_flight.discard(flow.id)
        if not client.in_flight and not client.receiving:
            client.idle_since = time.monotonic()

    # The sweep

    def sweep(self, now: float, wall: float) -> None:
        timeout = self.runtime.config.limits.client_timeout
        for client in list(self.clients.values()):
            why = self._overdue(client, timeout, now, wall)
            if why is not None:
                logger.info("closing %s: %s", _peer(client.conn), why)
                del self.clients[client.conn.id]
                _mitm.close_client(client.conn)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        """A CONNECT to a host turnout does not decrypt becomes a blind tunnel: its traffic
        is no request of turnout's, so none of these deadlines apply (mitmproxy's
        ``tcp_timeout`` closes a tunnel idle for an hour)."""
        client = self.clients.get(flow.client_conn.id)
        if client is not None and flow.request.host.lower() not in self.runtime.intercepted:
            client.tunnel = flow

    @staticmethod
    def _overdue(client: _Client, timeout: float, now: float, wall: float) -> str | None:
        if client.tunnel is not None and (
            client.tunnel.response is None or client.tunnel.response.status_code == 200
        ):
            return None  # open (a CONNECT refused, 407, leaves the connection to the rules)
        if client.receiving and now - min(client.receiving.values()) > timeout:
            return f"no whole request within {timeout:g} s (limits.client_timeout)"
        if not client.in_flight and not client.receiving and now - client.idle_since > timeout:
            return f"idle for {timeout:g} s"
        if client.in_flight and _mitm.unsent_bytes(client.conn) > 0:
            last = _mitm.last_activity(client.conn)
            if last is not None and wall - last > timeout:
                return f"read nothing of its response for {timeout:g} s"
        return None


def _peer(client: connection.Client) -> str:
    host, port, *_ = client.peername or ("?", 0)
    return f"client {host}:{port}"


def raise_file_limit() -> None:
    """Every client and backend connection is a file: let the process have as many as allowed
    (macOS starts shells at 256, which a few idle browsers can use up)."""
    try:
        import resource
    except ImportError:  # Windows has no such limit to raise
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < want:
        with contextlib.suppress(ValueError, OSError):  # macOS caps below the hard limit (OPEN_MAX)
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

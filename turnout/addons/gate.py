"""Who may talk to turnout, and the client's own credentials stripped before anything else.

- ``TURNOUT_API_KEY``: when set, every route but ``/health`` requires it, sent as
  ``x-api-key`` or ``Authorization: Bearer`` and compared in constant time.
- Web pages: a request carrying ``Origin`` is refused unless the origin is listed under
  ``access.origins`` (CSRF); with no key set, a ``Host`` that is not a loopback name, the
  listen address or one of ``access.hosts`` is refused (DNS rebinding); API routes take
  JSON bodies only (a page can send ``text/plain`` without asking). See ``core/access.py``.
- Loops: a request that already passed through this turnout (its ``Via`` names it) is
  refused.
- Whatever credentials the client sent (often placeholders, sometimes its cookies) are
  removed here, so they can never reach a backend. One exception, asked for in the config:
  with ``intercept.passthrough_unrouted``, an intercepted request's own credentials are
  kept aside (in memory, on its exchange), for the router to send them on to the host the
  client meant if no route serves the request.
- Through the interception listener (``--intercept``): the proxy's key is checked on the
  CONNECT (``interception.py``), the request's host must be one turnout decrypts, and the
  loopback ``Host`` rule does not apply (the host is the provider's).
"""

from __future__ import annotations

import functools
import hmac
import os

from mitmproxy import ctx, http
from mitmproxy.addonmanager import Loader
from mitmproxy.proxy.mode_specs import ProxyMode

from turnout.addons._flows import Exchanges, drop_headers
from turnout.addons.interception import Interception, intercepted
from turnout.core.access import content_type_ok, host_name, is_loopback_host, passed_through
from turnout.core.errors import Forbidden, LoopDetected, Unauthorized, UnsupportedMediaType
from turnout.core.headers import header_value
from turnout.core.runtime import Runtime

CLIENT_CREDENTIAL_HEADERS = frozenset(
    {
        b"authorization",
        b"x-api-key",
        b"api-key",
        b"x-goog-api-key",
        b"openai-organization",
        b"openai-project",
        b"cookie",
        b"proxy-authorization",
    }
)
CLIENT_OWN_HEADERS = CLIENT_CREDENTIAL_HEADERS - {b"proxy-authorization"}  # turnout's door, not the host's
OPEN_PATHS = ("/health",)


@functools.lru_cache(maxsize=64)
def _json(content_type: bytes) -> bool:
    return content_type_ok(content_type.decode("latin-1"))


def presented_key(headers: http.Headers, query_key: str | None = None) -> str | None:
    """The key a client sent: ``x-api-key``, ``Authorization: Bearer``, or Gemini's
    ``x-goog-api-key`` header or ``?key=`` query parameter."""
    if key := headers.get("x-api-key") or headers.get("x-goog-api-key"):
        return key
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else query_key or None


def take_query_key(request: http.Request) -> str | None:
    """Gemini clients may send their key as ``?key=``: taken off the request at once, so it
    is never forwarded, logged or recorded; returned for the gate to check."""
    if b"key=" not in request.data.path:
        return None
    query = request.query
    keys = query.get_all("key")
    if not keys:
        return None
    query.pop("key", None)
    return keys[0]


def listen_hosts(modes: list[str], default: str = "") -> frozenset[str]:
    """The addresses turnout's listeners bind (``reverse:…@host:port``, else ``--listen-host``);
    ``""`` means every interface. A mode mitmproxy cannot parse binds nothing."""
    hosts = set()
    for mode in modes:
        try:
            hosts.add(ProxyMode.parse(mode).listen_host(default).strip("[]").lower())
        except ValueError:
            continue
    return frozenset(hosts)


class Gate:
    def __init__(
        self, runtime: Runtime, exchanges: Exchanges, interception: Interception | None = None
    ) -> None:
        self.runtime = runtime
        self.exchanges = exchanges
        self.interception = interception or Interception()
        self.api_key: bytes = b""
        self.listening: frozenset[str] = frozenset()
        self._read = False
        self._hosts: dict[tuple[bytes, tuple[str, ...], frozenset[str]], bool] = {}

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "turnout_api_key",
            str,
            os.environ.get("TURNOUT_API_KEY", ""),
            "Key clients must send (x-api-key or Authorization: Bearer) on every route but /health. "
            "Defaults to $TURNOUT_API_KEY; empty: no local access control (loopback only).",
        )

    def _loopback(self, raw_host: bytes, extra: tuple[str, ...]) -> bool:
        """Whether a Host header names this machine; remembered per value (clients send the
        same one every time) for as long as the config and the listeners stay the same."""
        key = (raw_host, extra, self.listening)
        if (known := self._hosts.get(key)) is None:
            if len(self._hosts) >= 256:
                self._hosts.clear()
            host = host_name(raw_host.decode("latin-1"))
            known = self._hosts[key] = is_loopback_host(host, (*self.listening, *extra))
        return known

    def configure(self, updated: set[str]) -> None:
        # Read on the first configure whatever it updated: the option's default comes from
        # the environment, and a host that never sets it must still be gated by it.
        if "turnout_api_key" in updated or not self._read:
            self.api_key = ctx.options.turnout_api_key.encode()
            self._read = True
        if updated & {"mode", "listen_host"} or not self.listening:
            self.listening = listen_hosts(ctx.options.mode, ctx.options.listen_host) - {""}

    @staticmethod
    def _own(flow: http.HTTPFlow, query_key: str | None) -> tuple[tuple[bytes, bytes], ...]:
        """The client's credentials, for its own host should no route serve the request; a
        ``?key=`` becomes the ``x-goog-api-key`` header Gemini also takes (never in a URL)."""
        own = [(k.lower(), v) for k, v in flow.request.headers.fields if k.lower() in CLIENT_OWN_HEADERS]
        if query_key and not any(k == b"x-goog-api-key" for k, _ in own):
            own.append((b"x-goog-api-key", query_key.encode("latin-1", "replace")))
        return tuple(own)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or flow.is_replay == "request":
            return  # a replay is the mitmweb user's own action, not a client's request
        request = flow.request
        query_key = take_query_key(request)
        sent = (presented_key(request.headers, query_key) or "").encode() if self.api_key else b""
        via_proxy = intercepted(flow)
        proxy_ok = via_proxy and self.interception.authorized(flow)
        passes = proxy_ok and self.runtime.config.intercept.passthrough_unrouted
        own = self._own(flow, query_key) if passes else ()
        drop_headers(request.headers, CLIENT_CREDENTIAL_HEADERS)  # first: a refused flow keeps none either
        fields = request.headers.fields
        access = self.runtime.config.access
        if (origin := header_value(fields, b"origin")) is not None:
            shown = origin.decode("latin-1")[:100]
            if shown not in access.origins:
                raise Forbidden(
                    f"turnout does not answer web pages (Origin: {shown}); list the origin under "
                    "access.origins in the config to allow it."
                )
        if via_proxy:  # the interception listener: a provider's host, and the proxy's own door
            if not proxy_ok:
                raise Unauthorized(
                    "This turnout requires its API key (TURNOUT_API_KEY) as Proxy-Authorization: put it "
                    "in the proxy URL, http://turnout:KEY@127.0.0.1:3457."
                )
            if request.host.lower() not in self.runtime.intercepted:
                raise Forbidden(
                    f"turnout handles LLM provider hosts only, not {request.host[:100]!r}; other hosts "
                    "go through it as HTTPS tunnels (list a host under intercept.hosts to handle it)."
                )
        elif not self.api_key:
            raw_host = header_value(fields, b"host") or request.data.authority  # HTTP/2: :authority
            if raw_host and not self._loopback(raw_host, access.hosts):
                host = host_name(raw_host.decode("latin-1"))
                raise Forbidden(
                    f"turnout answers only loopback names, not {host[:100]!r}; list it under access.hosts "
                    "in the config, or set TURNOUT_API_KEY."
                )
        elif request.path.split("?", 1)[0] not in OPEN_PATHS and not hmac.compare_digest(sent, self.api_key):
            raise Unauthorized(
                "This turnout requires its API key (TURNOUT_API_KEY): send it as x-api-key, "
                "Authorization: Bearer or (Gemini clients) x-goog-api-key."
            )
        exchange = self.exchanges.get(flow)
        if request.method == "POST" and exchange is not None and exchange.endpoint.name != "unknown":
            kind = header_value(fields, b"content-type")
            if kind is not None and not _json(kind):
                raise UnsupportedMediaType(
                    "turnout's API takes JSON bodies: send content-type: application/json."
                )
        if header_value(fields, b"via") is not None:
            vias = [v.decode("latin-1") for k, v in fields if k.lower() == b"via"]
            if passed_through(vias, self.runtime.instance):
                raise LoopDetected(
                    "This request has already passed through this turnout: a backend's base_url points "
                    "back at it (directly or through another proxy). Fix that base_url."
                )
        if own and exchange is not None:
            exchange.own = own  # let through: the router sends them on only if no route serves it

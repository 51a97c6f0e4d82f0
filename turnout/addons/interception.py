"""The interception listener (``turnout proxy --intercept``): tools that cannot change
their base URL reach turnout through ``HTTPS_PROXY``.

Which CONNECTs are decrypted is mitmproxy's ``allow_hosts`` decision, fed the LLM
provider hosts by ``ConfigLoader`` (``core/interception.py``); every other host is a
blind tunnel. Decrypted requests go through the same chain as the local endpoint's:
the gate, routing, keys, translation. Here, the proxy's own door: with
``TURNOUT_API_KEY`` set, a proxy client must send it in ``Proxy-Authorization`` (Basic,
with the key as the password, or Bearer) on its CONNECT, or get a 407; it fails closed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging

from mitmproxy import connection, ctx, http
from mitmproxy.addonmanager import Loader
from mitmproxy.proxy.mode_specs import RegularMode

from turnout.addons._flows import drop_headers
from turnout.core.errors import error_body

logger = logging.getLogger(__name__)

PROXY_AUTHORIZATION = frozenset({b"proxy-authorization"})


def intercepted(flow: http.HTTPFlow) -> bool:
    """Whether ``flow`` came through the interception listener (not the local endpoint)."""
    return isinstance(flow.client_conn.proxy_mode, RegularMode)


def proxy_key(headers: http.Headers) -> bytes:
    """The key in ``Proxy-Authorization``: Basic's password, or a Bearer token ("" if none)."""
    scheme, _, value = headers.get("proxy-authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip().encode()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return b""
        return decoded.partition(b":")[2]
    return b""


class Interception:
    def __init__(self) -> None:
        self._authorized: set[str] = set()  # client connections whose CONNECT carried the key

    def load(self, loader: Loader) -> None:
        loader.add_option(
            "turnout_intercept",
            bool,
            False,
            "The interception listener is on: LLM provider hosts are decrypted and handled, every "
            "other host is tunnelled (turnout proxy --intercept).",
        )

    def http_connect(self, flow: http.HTTPFlow) -> None:
        try:
            self._connect(flow)
        except Exception:  # fail closed: no tunnel when the door could not be checked
            logger.exception("CONNECT refused: could not check it")
            flow.response = _refusal(502, "turnout could not check this CONNECT; see its log.")

    def _connect(self, flow: http.HTTPFlow) -> None:
        key = ctx.options.turnout_api_key.encode()
        if key and not hmac.compare_digest(proxy_key(flow.request.headers), key):
            flow.response = _refusal(
                407,
                "This turnout requires its API key (TURNOUT_API_KEY) as Proxy-Authorization: "
                "put it in the proxy URL, http://turnout:KEY@127.0.0.1:3457.",
            )
            flow.response.headers["proxy-authenticate"] = 'Basic realm="turnout"'
            return
        drop_headers(flow.request.headers, PROXY_AUTHORIZATION)
        self._authorized.add(flow.client_conn.id)

    def authorized(self, flow: http.HTTPFlow) -> bool:
        """A request through the listener may be handled: its CONNECT carried the key, or (a
        plain-HTTP proxy request) it carries the key itself; always, with no key set."""
        key = ctx.options.turnout_api_key.encode()
        if not key or flow.client_conn.id in self._authorized:
            return True
        return hmac.compare_digest(proxy_key(flow.request.headers), key)

    def client_disconnected(self, client: connection.Client) -> None:
        self._authorized.discard(client.id)


def _refusal(status: int, message: str) -> http.Response:
    body = error_body("openai", status, message)
    return http.Response.make(status, body, {"content-type": "application/json"})

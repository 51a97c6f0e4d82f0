"""What mitmweb shows of turnout's flows, when there is a mitmweb (``--web``, ``mitmweb -s``).

A flow's request is what went to the backend; the client's own request (its path, its
model, its dialect's body) is kept beside it when turnout changed it, and a content view
named "turnout" shows both in the Request tab. A routed flow is pushed to mitmweb's page
at once (mitmweb would otherwise show it at the placeholder upstream until it ends), and
a flow turnout answered itself shows turnout's own address. Under ``turnout proxy``
without ``--web`` there is no view, and none of this costs anything.
"""

from __future__ import annotations

import json
from typing import Any

from mitmproxy import contentviews, ctx, http
from mitmproxy.hooks import UpdateHook
from mitmproxy.net import encoding

from turnout.addons._flows import SENT, SUMMARY, resent

__all__ = ["ClientCopy", "TurnoutContentview", "WebUpdates"]

CLIENT = "turnout.client"  # the flow.metadata key of the client's request, as it arrived


def _has_view() -> bool:
    return ctx.master.addons.get("view") is not None


class ClientCopy:
    """Before the router: keep the client's request (the gate has taken its credentials)."""

    def __init__(self) -> None:
        self.active = False

    def running(self) -> None:
        self.active = _has_view()
        if self.active and "turnout" not in contentviews.registry.available_views():
            contentviews.add(TurnoutContentview())

    def request(self, flow: http.HTTPFlow) -> None:
        if not self.active or flow.response or resent(flow):
            return
        request = flow.request
        flow.metadata[CLIENT] = {
            "method": request.method,
            "path": request.path,
            "body": request.raw_content or b"",
            "encoding": request.headers.get("content-encoding", ""),
        }


class WebUpdates:
    """After the router: mitmweb sees where each request really went."""

    def __init__(self) -> None:
        self.active = False

    def running(self) -> None:
        self.active = _has_view()

    def request(self, flow: http.HTTPFlow) -> None:
        if not self.active or SENT not in flow.metadata or resent(flow):
            return
        kept = flow.metadata.get(CLIENT)
        if kept is not None and kept["body"] is flow.request.raw_content:
            kept["body"] = b""  # sent as it came: shown once is enough
            kept["unchanged"] = True
        ctx.master.addons.trigger(UpdateHook([flow]))

    def response(self, flow: http.HTTPFlow) -> None:
        self._answered_here(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._answered_here(flow)

    def _answered_here(self, flow: http.HTTPFlow) -> None:
        """Never sent anywhere: show turnout's own address, not the reverse-mode placeholder."""
        if not self.active or SENT in flow.metadata:
            return
        if (kept := flow.metadata.get(CLIENT)) is not None:
            kept.update(body=b"", unchanged=True)  # the flow's request is the client's own
        if flow.client_conn.sockname:
            flow.request.port = flow.client_conn.sockname[1]


class TurnoutContentview(contentviews.Contentview):
    """The Request tab of a flow turnout changed: what the client sent, then what went out."""

    syntax_highlight: contentviews.SyntaxHighlight = "yaml"  # named "Turnout", after the class

    def prettify(self, data: bytes, metadata: contentviews.Metadata) -> str:
        flow = metadata.flow
        kept: dict[str, Any] = flow.metadata.get(CLIENT, {}) if flow is not None else {}
        summary = flow.metadata.get(SUMMARY, {}) if flow is not None else {}
        lines = [f"# The client sent {kept.get('method', '?')} {kept.get('path', '?')}"]
        if "requested" in summary:
            lines[0] += f", asking for model {summary['requested']!r}"
        if summary.get("backend"):
            lines.append(
                f"# turnout sent it to {summary['backend']} as {summary.get('model', '?')!r}"
                + (f", translated ({summary['translated']})" if summary.get("translated") else "")
            )
        if flow is not None and SENT not in flow.metadata:
            lines += ["# turnout answered it itself; nothing went upstream.", _pretty(data)]
            return "\n".join(lines)
        if kept.get("unchanged"):
            lines += ["# Body sent unchanged:", _pretty(data)]
            return "\n".join(lines)
        body = kept.get("body", b"")
        if kept.get("encoding"):
            try:
                body = encoding.decode(body, kept["encoding"])
            except ValueError:
                body = b"(compressed as " + kept["encoding"].encode() + b", and not decodable)"
        lines += ["# The client's body:", _pretty(body), "", "# The body sent upstream:", _pretty(data)]
        return "\n".join(lines)

    def render_priority(self, data: bytes, metadata: contentviews.Metadata) -> float:
        flow = metadata.flow
        if flow is None or CLIENT not in flow.metadata:
            return -1
        is_request = isinstance(flow, http.HTTPFlow) and metadata.http_message is flow.request
        return 2 if is_request else -1  # over JSON's 1: the default view of such a request


def _pretty(data: bytes) -> str:
    try:
        return json.dumps(json.loads(data), indent=2, ensure_ascii=False)
    except ValueError:
        return data.decode("utf-8", "replace")

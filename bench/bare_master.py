"""The baseline: a lean mitmproxy master (same addons turnout uses) with one trivial addon.

``python bench/bare_master.py UPSTREAM_URL [--as-shipped]`` prints its port. The addon only
streams SSE (without it mitmproxy would buffer streams, which is not a fair baseline).
mitmproxy is changed as turnout changes it (``_mitm.Relaying``: chunks that arrived
together relayed as one piece, no debug type checks; ``_mitm.Dispatch``: hooks called
without walking the chain), so that what turnout costs more is its own chain;
``--as-shipped`` leaves mitmproxy as it comes.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile

from mitmproxy import http, options

from turnout.addons._mitm import Dispatch, Relaying
from turnout.server import lean_master


class StreamSSE:
    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response and flow.response.headers.get("content-type", "").startswith("text/event-stream"):
            flow.response.stream = True


class PrintPort:
    def running(self) -> None:
        from mitmproxy import ctx

        print(ctx.master.addons.get("proxyserver").listen_addrs()[0][1], flush=True)


async def main(upstream: str, as_shipped: bool) -> None:
    if not as_shipped:
        Relaying().install()
    opts = options.Options()
    m = lean_master(opts)  # exactly the master turnout runs, without turnout's chain
    if not as_shipped:
        Dispatch.install(m)
    m.addons.add(StreamSSE(), PrintPort())
    opts.update(
        mode=[f"reverse:{upstream}@127.0.0.1:0"],
        connection_strategy="lazy",
        confdir=tempfile.mkdtemp(),
        termlog_verbosity="warn",
    )
    await m.run()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], "--as-shipped" in sys.argv))

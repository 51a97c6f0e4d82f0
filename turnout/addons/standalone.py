"""Listen defaults for ``mitmdump -s addons/router.py`` / ``mitmweb -s addons/router.py``.

Under plain mitmdump the default mode is a regular proxy on :8080, which is not what a
router is. If the user left ``mode`` at its default, switch to turnout's reverse listener
on 127.0.0.1:3456 with the lazy connection strategy; any ``--mode`` given wins.
"""

from __future__ import annotations

import logging

from mitmproxy import ctx

from turnout.server import ServerSettings

logger = logging.getLogger(__name__)


class StandaloneDefaults:
    def running(self) -> None:
        # Not in configure: mitmdump re-applies its command line after loading scripts.
        if ctx.options.mode == ["regular"]:
            values = ServerSettings().option_values()
            ctx.options.update(
                mode=values["mode"], connection_strategy="lazy", tcp_timeout=values["tcp_timeout"]
            )
            logger.warning("listening as a router on http://127.0.0.1:3456 (pass --mode to change)")

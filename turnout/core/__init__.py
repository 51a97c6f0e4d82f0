"""turnout's core: config, routing, dialect helpers, credentials and errors.

Nothing under ``turnout.core`` imports mitmproxy, so it is tested with plain pytest and
reused by the CLI and the library API. The addons in ``turnout.addons`` are thin glue
around it.
"""

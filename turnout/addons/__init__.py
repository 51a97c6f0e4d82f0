"""turnout's mitmproxy addons: thin glue between mitmproxy's hooks and ``turnout.core``.

The chain, in order, is built by ``turnout.addons.chain.build_chain``.
"""

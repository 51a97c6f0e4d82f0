"""Entry script: ``mitmdump -s addons/router.py`` or ``mitmweb -s addons/router.py``.

It builds exactly the chain ``turnout proxy`` builds (turnout.addons.chain); the only
extra is StandaloneDefaults, which listens on 127.0.0.1:3456 unless --mode is given.
"""

from turnout.addons.chain import build_chain
from turnout.addons.standalone import StandaloneDefaults

addons = [StandaloneDefaults(), build_chain()]

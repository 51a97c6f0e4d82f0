from __future__ import annotations

import pytest

from turnout.core.models import Config
from turnout.core.runtime import Runtime


def test_runtime_before_and_after_install() -> None:
    runtime = Runtime()
    assert not runtime.ready
    with pytest.raises(RuntimeError, match="not loaded"):
        _ = runtime.config
    with pytest.raises(RuntimeError, match="not loaded"):
        _ = runtime.resolver
    cfg = Config({})
    runtime.install(cfg)
    assert runtime.ready and runtime.config is cfg and runtime.resolver.config is cfg

from __future__ import annotations

from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from turnout.addons.config import ConfigLoader, self_urls
from turnout.core.runtime import Runtime


def test_loads_into_the_runtime_and_rejects_bad_config(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("backends: {b: {kind: openai, key: k}}\nautodetect: {environment: false}")
    bad = tmp_path / "bad.yaml"
    bad.write_text("backends: {b: {kind: nope}}")
    runtime = Runtime()
    loader = ConfigLoader(runtime)
    with taddons.context(loader) as tctx:
        tctx.configure(loader, turnout_config=str(good), turnout_discover=False)
        assert list(runtime.config.backends) == ["b"]
        with pytest.raises(exceptions.OptionsError, match=r"turnout_config: .*bad.yaml: backends.b.kind"):
            tctx.configure(loader, turnout_config=str(bad))
        assert list(runtime.config.backends) == ["b"]  # the old config stays in effect


def test_self_urls() -> None:
    urls = set(self_urls(["reverse:http://127.0.0.1:9@127.0.0.1:3456", "regular"]))
    assert urls == {"http://127.0.0.1:3456", "http://localhost:3456"}

"""What the real-CLI tests share: the pinned npm package installed on first use, and a
proxy that routes every model to one scripted upstream of a given kind."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.conftest import proxy_on
from tests.fakes.upstream import FakeUpstream
from turnout.server import ProxyHandle


def npm_installed(package_dir: Path, marker: Path, binary: Path, version: str) -> Path:
    """``binary`` from the package pinned in ``package_dir`` (``npm ci`` when ``marker``,
    its native part, is missing), checked to be ``version``. Fails, never skips."""
    if not marker.exists():
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=package_dir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0 or not marker.exists():
            pytest.fail(f"could not install {package_dir.name} from npm:\n{result.stdout}\n{result.stderr}")
    shown = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
    assert version in shown.stdout, shown
    return binary


@contextmanager
def scripted(kind: str, key: str, tmp: Path, scrub: str = "") -> Iterator[tuple[ProxyHandle, FakeUpstream]]:
    """A proxy sending every model, as ``scripted-model``, to a scripted upstream of ``kind``
    (``scrub``: the backend's secret policy, if not the default for a local one, off)."""
    bases = {"anthropic": "", "gemini": "/v1beta"}
    with (
        FakeUpstream() as up,
        proxy_on(
            f"""
backends:
  scripted:
    kind: {kind}
    base_url: {up.url}{bases.get(kind, "/v1")}
    key: {key}
    {f"scrub: {scrub}" if scrub else ""}
routes:
  - match: "*"
    backend: scripted
    model: scripted-model
autodetect: {{environment: false, local: false}}
analytics: {{path: {tmp / "analytics.sqlite3"}}}
""",
            tmp,
        ) as proxy,
    ):
        yield proxy, up

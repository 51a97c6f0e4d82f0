from __future__ import annotations

import pytest

from turnout.core.governor import Governor


def test_concurrency_and_spacing() -> None:
    g = Governor(max_concurrent=2, min_interval=0.5)
    assert g.active and g.try_start(10.0) == 0.0
    assert g.try_start(10.1) == pytest.approx(0.4)  # too soon
    assert g.try_start(10.5) == 0.0
    assert g.try_start(11.5) > 0  # two in flight
    g.finish()
    assert g.try_start(11.5) == 0.0 and g.in_flight == 2
    assert not Governor().active and Governor().try_start(0) == 0.0

"""A backend's rate governor: at most N requests in flight, at least T seconds apart.

``Governor`` counts in this process. A ``Board`` (``core/shared.py``) hands out
governors whose counts live where every worker or instance sees them, so the limits
hold for the backend, not per process; they answer the same three questions.
"""

from __future__ import annotations

__all__ = ["Governor"]

BUSY = 0.02  # seconds a request waits before asking again when every slot is taken


class Governor:
    def __init__(self, max_concurrent: int | None = None, min_interval: float = 0.0) -> None:
        self.max_concurrent = max_concurrent
        self.min_interval = min_interval
        self._in_flight = 0
        self._last_start = float("-inf")

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def try_start(self, now: float) -> float:
        """0 and the request is counted as started; otherwise seconds to wait before asking again."""
        if self.max_concurrent is not None and self._in_flight >= self.max_concurrent:
            return BUSY
        gap = self._last_start + self.min_interval - now
        if gap > 0:
            return gap
        self._in_flight += 1
        self._last_start = now
        return 0.0

    def finish(self) -> None:
        self._in_flight = max(self._in_flight - 1, 0)

    @property
    def active(self) -> bool:
        return self.max_concurrent is not None or self.min_interval > 0

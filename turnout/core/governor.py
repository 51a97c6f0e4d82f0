"""A backend's rate governor: at most N requests in flight, at least T seconds apart."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Governor"]


@dataclass
class Governor:
    max_concurrent: int | None = None
    min_interval: float = 0.0
    in_flight: int = 0
    last_start: float = float("-inf")

    def try_start(self, now: float) -> float:
        """0 and the request is counted as started; otherwise seconds to wait before asking again."""
        if self.max_concurrent is not None and self.in_flight >= self.max_concurrent:
            return 0.02
        gap = self.last_start + self.min_interval - now
        if gap > 0:
            return gap
        self.in_flight += 1
        self.last_start = now
        return 0.0

    def finish(self) -> None:
        self.in_flight = max(self.in_flight - 1, 0)

    @property
    def active(self) -> bool:
        return self.max_concurrent is not None or self.min_interval > 0

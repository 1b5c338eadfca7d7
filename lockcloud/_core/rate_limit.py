"""Client-side pacing: a request rate with a one-second burst, and a cap on calls in flight."""

from __future__ import annotations

import asyncio
import math
import time
from types import TracebackType

from lockcloud._core.errors import ValidationError

__all__ = ["RateLimiter"]


class RateLimiter:
    """Client-side limits: ``rate`` requests per second (burst of one second's worth) and ``max_in_flight``."""

    def __init__(self, rate: float | None = None, max_in_flight: int | None = None) -> None:
        if rate is not None and (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise ValidationError(
                f"rate must be a finite number of requests per second above zero, got {rate!r}"
            )
        if max_in_flight is not None and (
            isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1
        ):
            raise ValidationError(f"max_in_flight must be an int of at least 1, got {max_in_flight!r}")
        self._interval = 1.0 / rate if rate else 0.0
        self._burst = max(1.0, rate or 1.0) * self._interval
        self._next_free = 0.0
        self._slots = asyncio.Semaphore(max_in_flight) if max_in_flight else None

    async def acquire(self) -> None:
        """Wait for this call's turn: the rate's next slot, then a free place among ``max_in_flight``."""
        if self._interval:
            now = time.monotonic()
            start = max(self._next_free, now - self._burst)
            self._next_free = start + self._interval
            if start > now:
                await asyncio.sleep(start - now)
        if self._slots is not None:
            await self._slots.acquire()

    def release(self) -> None:
        """The call ended (however): its place among ``max_in_flight`` is free again."""
        if self._slots is not None:
            self._slots.release()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

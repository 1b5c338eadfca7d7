"""How often and how long a call that failed transiently is tried again (the formula the event sources share)."""

from __future__ import annotations

import random

import attrs

from lockcloud._core.errors import ValidationError
from lockcloud._core.validation import seconds

__all__ = ["RetryPolicy", "doubled", "exponential", "jittered"]

#: The smallest delay doubling starts from, so that a zero delay still backs off.
_FLOOR = 0.01


def exponential(initial: float, attempt: int, ceiling: float) -> float:
    """The delay before attempt ``attempt + 1``: ``initial`` doubled per attempt after the first, capped."""
    # min() first keeps a long run of attempts from overflowing the power of two.
    return min(ceiling, initial * 2.0 ** min(attempt - 1, 64))


def doubled(delay: float, ceiling: float) -> float:
    """The next delay after ``delay`` failed again (for loops that keep their delay rather than count attempts)."""
    return min(max(delay, _FLOOR) * 2, ceiling)


def jittered(delay: float) -> float:
    """Somewhere between half of ``delay`` and all of it: clients that failed together do not retry together, and
    none retries at once."""
    return delay * (0.5 + random.random() / 2)


@attrs.frozen
class RetryPolicy:
    """How often and how long to retry a call that failed transiently.

    ``max_attempts`` counts the first try. Backoff doubles from ``initial_backoff`` up to ``max_backoff``, each wait
    jittered between half and all of it; no attempt starts after ``deadline`` seconds from the first. ``RetryPolicy.never()`` disables retries.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    deadline: float | None = 30.0

    def __attrs_post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ValidationError(f"max_attempts must be an int, got {type(self.max_attempts).__name__}")
        if not 1 <= self.max_attempts <= _MAX_ATTEMPTS:
            raise ValidationError(f"max_attempts must be between 1 and {_MAX_ATTEMPTS} (1 means no retries)")
        for name in ("initial_backoff", "max_backoff"):
            seconds(getattr(self, name), name, allow_zero=True)
        if self.deadline is not None:
            seconds(self.deadline, "deadline")

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(max_attempts=1)

    def backoff(self, attempt: int) -> float:
        """The jittered delay before attempt ``attempt + 1`` (the formula the event sources use too)."""
        return jittered(exponential(self.initial_backoff, attempt, self.max_backoff))


_MAX_ATTEMPTS = 100

"""How often and how long a call that failed transiently is tried again (the formula the event sources share)."""

from __future__ import annotations

import random

import attrs

from lockcloud._core.errors import ValidationError
from lockcloud._core.validation import seconds

__all__ = ["RetryPolicy"]


@attrs.frozen
class RetryPolicy:
    """How often and how long to retry a call that failed transiently.

    ``max_attempts`` counts the first try. Backoff doubles from ``initial_backoff`` up to ``max_backoff`` with full
    jitter; no attempt starts after ``deadline`` seconds from the first. ``RetryPolicy.never()`` disables retries.
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
        """Full-jitter delay before attempt ``attempt + 1``."""
        ceiling = min(self.max_backoff, self.initial_backoff * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)


_MAX_ATTEMPTS = 100

"""Tuya's clock as seen from here: every envelope carries the server time ``t``, and requests are stamped with it.

A skewed local clock must never produce a 1013 error, and token expiry is judged on the same clock.
"""

from __future__ import annotations

import logging
import math
import time

__all__ = ["ServerClock", "plausible_server_time"]

logger = logging.getLogger("lockcloud.auth")

# Tuya's clock is believed only inside these bounds (2020-01-01 .. 2100-01-01): a wild ``t`` must not poison every
# later call. The local clock is not the reference, since correcting a wrong local clock is the point.
_EARLIEST_SERVER_MS = 1_577_836_800_000
_LATEST_SERVER_MS = 4_102_444_800_000


def plausible_server_time(value: object) -> float | None:
    """``value`` as milliseconds if it can be Tuya's clock (a finite number between 2020 and 2100), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not _EARLIEST_SERVER_MS <= value <= _LATEST_SERVER_MS:
        return None
    return float(value)


class ServerClock:
    """Tuya's clock as seen from here: a skewed local clock never produces a 1013 error.

    Every envelope carries the server time ``t``; the offset to the local clock is kept and used both for the ``t``
    header and for deciding when a token expires. A ``t`` that cannot be Tuya's clock is ignored with a warning.
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self._warned = False

    def observe(self, server_time_ms: object) -> bool:
        """Adopt ``server_time_ms`` if it is plausible; returns whether it was."""
        if server_time_ms is None:
            return False
        adopted = plausible_server_time(server_time_ms)
        if adopted is None:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "ignoring an implausible server time (t=%.40r); the clock offset stays %.3f s",
                    server_time_ms,
                    self.offset,
                )
            return False
        self.offset = adopted / 1000.0 - time.time()
        return True

    def now(self) -> float:
        """Server time in epoch seconds."""
        return time.time() + self.offset

    def now_ms(self) -> str:
        return str(int(self.now() * 1000))

"""Jittered exponential backoff, and subscribing a source again with it (the stream's pump, the relay forwarder)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from lockcloud._errors import EventStreamError
from lockcloud.events._source import Source, SourceClosed

logger = logging.getLogger("lockcloud.events")

#: The smallest delay doubling starts from, so that a zero delay still backs off.
_FLOOR = 0.01


def jittered(delay: float) -> float:
    """Somewhere between half of ``delay`` and all of it: consumers that failed together do not retry together."""
    return delay * (0.5 + random.random() / 2)


def doubled(delay: float, ceiling: float) -> float:
    return min(max(delay, _FLOOR) * 2, ceiling)


async def resubscribe(
    source: Source, delay: float, ceiling: float, *, who: str, gone: Callable[[], bool] = lambda: False
) -> float | None:
    """Call ``source.resubscribe()`` after a jittered ``delay``, doubling it up to ``ceiling`` per failure.

    Returns the delay to start from after the next failure once it succeeded, or None if ``gone()`` says the
    caller went away meanwhile. :class:`SourceClosed` is raised through: a closed source is not retried.
    ``who`` starts the log lines ("event stream", "relay").
    """
    while True:
        await asyncio.sleep(jittered(delay))
        try:
            await source.resubscribe()
        except SourceClosed:
            raise
        except EventStreamError as exc:
            delay = doubled(delay, ceiling)
            logger.warning(
                "%s %s: subscribing failed (%s); next try in ~%.1f s", who, source.description, exc, delay
            )
            if gone():
                return None
            continue
        logger.info("%s %s: subscribed again", who, source.description)
        return delay

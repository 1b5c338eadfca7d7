"""Reading a source that subscribes again after a failure (the stream, the forwarder), with the one backoff of
:mod:`lockcloud._core.retry`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from lockcloud._core.errors import EventStreamError
from lockcloud._core.retry import doubled, jittered
from lockcloud.events._source import Source, SourceClosed, SourceMessage

logger = logging.getLogger("lockcloud.events")

__all__ = ["doubled", "jittered", "receive_or_resubscribe", "resubscribe"]


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


async def receive_or_resubscribe(
    source: Source,
    delay: float,
    ceiling: float,
    *,
    who: str,
    wanted: Callable[[], bool],
    resubscribed: Callable[[], None],
) -> Sequence[SourceMessage] | None:
    """The next batch of ``source``; after a transport failure, subscribe again (see :func:`resubscribe`) and read on.

    None once the source is closed, or ``wanted()`` says the caller no longer reads. ``resubscribed`` is called
    after each successful resubscription. Anything but an :class:`~lockcloud.EventStreamError` is raised through.
    """
    while True:
        try:
            return await source.receive()
        except SourceClosed:
            return None
        except EventStreamError as exc:
            if not wanted():
                return None
            logger.warning("%s %s: receiving failed (%s); subscribing again", who, source.description, exc)
        try:
            resumed = await resubscribe(source, delay, ceiling, who=who, gone=lambda: not wanted())
        except SourceClosed:
            return None
        if resumed is None:
            return None
        resubscribed()
        delay = resumed

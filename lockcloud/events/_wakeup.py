"""How a source's ``receive`` sleeps until there is something to hand over (the webhook, the WebSocket source)."""

from __future__ import annotations

import asyncio


class Wakeup:
    """Wakes the one task waiting in :meth:`wait`; a :meth:`wake` with nobody waiting is dropped.

    So the waiter checks what it waits for before each :meth:`wait`, with no ``await`` in between: then nothing
    that happens before it sleeps can be missed. Cancelling the waiter leaves nothing behind.
    """

    __slots__ = ("_waiter",)

    def __init__(self) -> None:
        self._waiter: asyncio.Future[None] | None = None

    async def wait(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            if self._waiter is waiter:
                self._waiter = None

    def wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

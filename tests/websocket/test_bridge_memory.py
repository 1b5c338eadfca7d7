"""The simulator's WebSocket bridge remembers a bounded number of unacknowledged messages with ackTimeoutMillis=0."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from lockcloud.events import WebSocketSource
from lockcloud.events._source import SourceMessage
from lockcloud.sim import SimServer
from lockcloud.sim import _websocket as bridge_module

WAIT = 20.0


async def _receive(source: WebSocketSource, count: int) -> list[SourceMessage]:
    taken: list[SourceMessage] = []
    async with asyncio.timeout(WAIT):
        while len(taken) < count:
            taken.extend(await source.receive())
    return taken


async def test_unacknowledged_messages_are_forgotten_past_the_bound_and_acks_still_reach_the_broker(
    sim_server: SimServer,
    ws_source: Callable[..., WebSocketSource],
    publish: Callable[..., Awaitable[None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bridge_module, "_UNTIMED_OUTSTANDING", 3)
    consumers = sim_server.websockets
    assert consumers is not None
    source = ws_source(ack_timeout=0)
    await source.open()
    try:
        for period in range(8):
            await publish(period)
        messages = await _receive(source, 8)
        (bridge,) = consumers._bridges
        outstanding: dict[str, Any] = bridge._outstanding
        assert len(outstanding) == 3  # not 8: the oldest five were forgotten
        # Acknowledging them, forgotten or not, and negatively acknowledging a forgotten one, all reach the bridge,
        # which goes on delivering and stays within its bound.
        source.redeliver(messages[0])
        for message in messages[1:]:
            source.acknowledge(message)
        async with asyncio.timeout(WAIT):
            while consumers.commands < 8:  # noqa: ASYNC110 - the server's counter, nothing to wait on
                await asyncio.sleep(0.01)
        assert len(outstanding) == 0
        await publish(99)
        (latest,) = await _receive(source, 1)
        assert latest.payload not in {message.payload for message in messages}
        assert list(outstanding) == [latest.handle]
    finally:
        await source.close(5)

"""Fixtures for the WebSocket transport: the simulator served over loopback with its broker, and a publisher.

``sim_server`` is ``lockcloud.sim.running()`` (uvicorn + pulsar-lite; its WebSocket consumer API on the REST port);
``publish`` produces push messages to its broker the way the simulator does (``PushMessage`` encrypted with the
project's secret), so that native and WebSocket consumers see the very same messages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from lockcloud.sim import PushMessage, SimServer, running
from lockcloud.sim._push import PulsarPublisher

T0 = 1_700_000_000_000


def enrollment_message(index: int, device_id: str = "lock-1", **biz: Any) -> PushMessage:
    biz_data: dict[str, Any] = {
        "event": "unlockMethodEntry",
        "operate": 1,
        "raised": True,
        "finish": False,
        "period": index,
    }
    biz_data.update(biz)
    body = {
        "bizCode": "doorUnlockMethodStatus",
        "bizData": biz_data,
        "devId": device_id,
        "productKey": "pk1",
        "ts": T0 + index,
        "uuid": f"uuid-{index}",
    }
    return PushMessage(protocol=20, body=body, t=T0 + index)


@pytest.fixture
async def sim_server(tmp_path: Any) -> AsyncIterator[SimServer]:
    async with running(data_dir=tmp_path / "sim", seed=False) as server:
        yield server


Publish = Callable[..., Awaitable[None]]


@pytest.fixture
async def publish(sim_server: SimServer) -> AsyncIterator[Publish]:
    """``await publish(index, device_id=...)`` sends one enrollment push and waits until the broker has it."""
    assert sim_server.pulsar_url is not None
    publisher = PulsarPublisher(sim_server.pulsar_url, sim_server.access_id, sim_server.access_secret)
    await publisher.start()

    async def send(index: int, device_id: str = "lock-1", **biz: Any) -> None:
        publisher.submit(enrollment_message(index, device_id, **biz))
        await publisher.drain()
        assert publisher.failed == 0

    try:
        yield send
    finally:
        await publisher.close()

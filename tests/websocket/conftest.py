"""Fixtures for the WebSocket transport: the simulator served over loopback with its broker, and a publisher.

``sim_server`` is ``lockcloud.sim.running()`` (uvicorn + pulsar-lite; its WebSocket consumer API on the REST port);
``publish`` produces enrollment pushes to its broker with :class:`lockcloud.testing.PushPublisher` (the
simulator's own encoding), so that native and WebSocket consumers see the very same messages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from lockcloud.sim import SimServer, running
from lockcloud.testing import PushPublisher


@pytest.fixture
async def sim_server(tmp_path: Path) -> AsyncIterator[SimServer]:
    async with running(data_dir=tmp_path / "sim", seed=False) as server:
        yield server


Publish = Callable[..., Awaitable[None]]


@pytest.fixture
async def publish(sim_server: SimServer, tmp_path: Path) -> AsyncIterator[Publish]:
    """``await publish(period, device_id=...)``: one enrollment push, returned once the broker has it."""
    async with PushPublisher.for_server(sim_server, log_file=str(tmp_path / "publisher.log")) as publisher:

        async def send(period: int, device_id: str = "lock-1") -> None:
            await publisher.publish(publisher.build.enrollment(device_id, period))

        yield send

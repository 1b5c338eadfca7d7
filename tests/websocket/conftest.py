"""Fixtures for the WebSocket transport: the simulator served over loopback with its broker, a publisher, and
streams and sources on its WebSocket endpoint.

``sim_server`` is ``lockcloud.sim.running()`` (uvicorn + pulsar-lite; its WebSocket consumer API on the REST port);
``publish`` produces enrollment pushes to its broker with :class:`lockcloud.testing.PushPublisher` (the
simulator's own encoding), so that native and WebSocket consumers see the very same messages. Tests run with
``--import-mode=importlib`` (a test module cannot import this conftest), so the helpers come as fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lockcloud.events import EventStream, WebSocketOptions, WebSocketSource
from lockcloud.events._options import websocket_stream
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


@pytest.fixture
def ws_stream(sim_server: SimServer) -> Callable[..., EventStream]:
    """``ws_stream(**options)``: an ``EventStream`` over WebSocket on ``sim_server`` (fast resubscription)."""

    def make(**options: Any) -> EventStream:
        assert sim_server.websocket_url is not None
        options.setdefault("url", sim_server.websocket_url)
        options.setdefault("resubscribe_delay", 0.05)
        return websocket_stream(sim_server.access_id, sim_server.access_secret, options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def ws_source(sim_server: SimServer) -> Callable[..., WebSocketSource]:
    """``ws_source(**options)``: a bare :class:`WebSocketSource` on ``sim_server``, to drive by hand."""

    def make(**options: Any) -> WebSocketSource:
        assert sim_server.websocket_url is not None
        options.setdefault("url", sim_server.websocket_url)
        return WebSocketSource(
            WebSocketOptions(
                access_id=sim_server.access_id, access_secret=sim_server.access_secret, **options
            )
        )

    return make

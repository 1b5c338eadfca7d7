"""The one Pulsar publisher, as the simulator and ``lockcloud.testing.PushPublisher`` both use it: a broker that
cannot be reached is one quick line, and a served simulator's publisher writes to the topic the server serves."""

from __future__ import annotations

import asyncio
import socket

import pytest

from lockcloud._core.wire import TEST_ENV, topic_for
from lockcloud.events import EnrollmentProgress
from lockcloud.sim import BrokerUnavailableError, running
from lockcloud.sim._publisher import PulsarPublisher
from lockcloud.sim.broker import LocalBroker
from lockcloud.testing import PushPublisher

from support import ACCESS_SECRET as SECRET

# Bounds that only stop a broken test from hanging; nothing is asserted about time.
GUARD = 60.0


@pytest.mark.parametrize("publisher_class", [PulsarPublisher, PushPublisher])
async def test_a_broker_nobody_listens_for_is_one_line_naming_the_address(
    publisher_class: type[PulsarPublisher],
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        publisher = publisher_class(f"pulsar://127.0.0.1:{port}", "project", SECRET)
        with pytest.raises(BrokerUnavailableError) as info:
            await publisher.start()
    message = str(info.value)
    assert "\n" not in message
    assert f"pulsar://127.0.0.1:{port}" in message
    assert f"cannot connect to 127.0.0.1:{port}" in message
    assert isinstance(info.value, ConnectionError)


async def test_a_publisher_without_a_port_connects_to_pulsars_own() -> None:
    # pulsar:// without a port is 6650, as for the event sources: nothing listens there in the tests.
    publisher = PushPublisher("pulsar://127.0.0.1", "project", SECRET)
    with pytest.raises(BrokerUnavailableError, match=r"127\.0\.0\.1:6650"):
        await publisher.start()


async def test_the_publisher_of_a_server_on_the_test_channel_publishes_to_that_channel(
    session_broker: LocalBroker,
) -> None:
    async with running(broker_url=session_broker.url, env=TEST_ENV, console=False) as server:
        door = server.devices["front_door"]
        async with (
            PushPublisher.for_server(server) as push,
            server.client() as cloud,
            cloud.events(env=server.env, pulsar_log_level="error") as stream,
        ):
            assert push.topic == topic_for(server.access_id, TEST_ENV)
            await push.publish(push.build.enrollment(door, period=2, total_period=3))
            async with asyncio.timeout(GUARD):
                event = await anext(aiter(stream))
    assert isinstance(event, EnrollmentProgress)
    assert event.device_id == door

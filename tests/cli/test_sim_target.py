"""``--sim`` starts a broker only for a command that reads push messages, and a client of an embedded simulator
without one never reaches for the region's push service."""

from __future__ import annotations

import pytest

from lockcloud.cli._output import Output
from lockcloud.cli._target import Connection, PushUnavailableError, connect, open_events, open_target


async def test_a_rest_command_on_sim_gets_no_broker() -> None:
    async with open_target(Connection(sim=True), Output(json_mode=True)) as target:
        assert target.embedded
        assert target.pulsar_url is None
        assert target.websocket_url is None
        assert target.no_push is not None


async def test_a_push_command_on_sim_gets_the_broker() -> None:
    async with open_target(Connection(sim=True), Output(json_mode=True), push=True) as target:
        assert target.pulsar_url is not None
        assert target.pulsar_url.startswith("pulsar://127.0.0.1:")
        assert target.no_push is None


@pytest.mark.parametrize("websocket", [False, True])
async def test_push_of_a_simulator_without_a_broker_is_refused_not_sent_to_the_region(
    websocket: bool,
) -> None:
    async with (
        open_target(Connection(sim=True), Output(json_mode=True)) as target,
        connect(target) as cloud,
    ):
        with pytest.raises(PushUnavailableError, match="without a broker"):
            open_events(cloud, verbose=False, websocket=websocket)

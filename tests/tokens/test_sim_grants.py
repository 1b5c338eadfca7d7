"""The simulator's strictest token rule, ``Faults(grant_replaces_token=True)``: a new grant retires every token the
project had (a refresh always retires its own pair). Both readings, with two clients that do not share a store."""

from __future__ import annotations

import pytest

from lockcloud.sim import Faults, Simulator

PATH = "/v1.0/devices/{device}/door-lock/remote-unlocks"


def _answers(sim: Simulator, code: int) -> int:
    return sum(1 for record in sim.requests if record.code == code)


@pytest.mark.parametrize("replaces", [False, True], ids=["grants-coexist", "grant-replaces"])
async def test_a_second_grant(replaces: bool) -> None:
    sim = Simulator(faults=Faults(grant_replaces_token=replaces))
    path = PATH.format(device=sim.devices["front_door"])
    async with sim.client() as first, sim.client() as second:
        await first.request("GET", path)
        await second.request("GET", path)  # a grant of its own
        await first.request("GET", path)
        if replaces:
            # first's token and its refresh token died with second's grant: 1010, a failed refresh, a new grant
            assert _answers(sim, 1010) == 1
            assert _answers(sim, 1012) == 1
            assert len(sim.executed("token")) == 3
            await second.request("GET", path)  # and now second's token is gone in turn
            assert _answers(sim, 1010) == 2
        else:
            assert _answers(sim, 1010) == 0
            assert len(sim.executed("token")) == 2


async def test_a_refresh_retires_only_its_own_pair() -> None:
    sim = Simulator(faults=Faults(grant_replaces_token=True))
    path = PATH.format(device=sim.devices["front_door"])
    async with sim.client() as first:
        await first.request("GET", path)
        old = await first.tokens.get()
        sim.expire_tokens()
        await first.request("GET", path)  # 1010, then a refresh
        assert len(sim.executed("refresh_token")) == 1
        assert old.access_token not in sim.world.tokens
        assert len(sim.world.tokens) == 1

"""Fault injection: scripted failures, error rates, lost responses, latency; and the action log that proves what ran."""

from __future__ import annotations

import random
from typing import Any

import pytest

from lockcloud import (
    CredentialsError,
    DeviceOfflineError,
    OutcomeUnknownError,
    RetryPolicy,
    ServerError,
    TransportError,
    ValidationError,
)
from lockcloud._client import LockCloud
from lockcloud.sim import DEMO_PIN, Faults, Simulator

from support import FAST_RETRY


async def test_fail_next_answers_an_error_without_executing(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    sim.fail_next(2001, action="open_door")
    with pytest.raises(DeviceOfflineError):
        await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
    assert sim.executed("open_door") == []
    assert sim.lock(front).door_open is False
    # Used up: the next one goes through.
    assert await cloud.remote_unlock.open_door(front, pin=DEMO_PIN) is True


async def test_fail_next_after_executing(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    sim.fail_next(500, action="open_door", executed=True)
    with pytest.raises(OutcomeUnknownError) as unknown:
        await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
    assert isinstance(unknown.value.__cause__, ServerError)
    # Unsafe, so not replayed; and the door did open, which is why the outcome is reported unknown.
    [record] = sim.executed("open_door")
    assert record.code == 500
    assert sim.lock(front).door_open is True


async def test_fail_next_matches_by_path_and_method(cloud: LockCloud, sim: Simulator) -> None:
    sim.fail_next(1111, path="/unassigned-keys", method="GET", times=2)
    keys = await cloud.unlock_methods.list_unassigned(sim.devices["front_door"])
    assert len(keys) == 1
    codes = [record.code for record in sim.requests if record.action == "list_unassigned_keys"]
    assert codes == [1111, 1111, None]


async def test_a_token_rejection_on_an_unlock_is_healed_and_replayed_once(
    cloud: LockCloud, sim: Simulator
) -> None:
    front = sim.devices["front_door"]
    sim.fail_next(1010, action="open_door")
    assert await cloud.remote_unlock.open_door(front, pin=DEMO_PIN) is True
    assert len(sim.executed("open_door")) == 1


async def test_a_lost_response_on_an_unlock_is_outcome_unknown_and_never_replayed(
    cloud: LockCloud, sim: Simulator
) -> None:
    front = sim.devices["front_door"]
    sim.lose_next_response(action="open_door")
    with pytest.raises(OutcomeUnknownError) as raised:
        await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
    assert "SimulatedDisconnect" in str(raised.value)
    [record] = sim.executed("open_door")
    assert record.response_lost is True
    assert sim.lock(front).door_open is True
    assert [r.action for r in sim.requests].count("open_door") == 1


async def test_a_lost_response_on_a_read_is_retried(cloud: LockCloud, sim: Simulator) -> None:
    sim.lose_next_response(action="list_remote_unlocks")
    methods = await cloud.remote_unlock.list_methods(sim.devices["front_door"])
    assert len(methods) == 2
    assert [record.response_lost for record in sim.executed("list_remote_unlocks")] == [True, False]


async def test_a_silent_server_times_out_in_process(sim: Simulator) -> None:
    sim.faults.hang_seconds = 0.01
    sim.lose_next_response(action="door_operate", mode="timeout")
    back = sim.devices["back_door"]
    sim.set_remote_unlock(back, "remoteUnlockWithoutPwd", True)
    async with sim.client(retry=FAST_RETRY) as cloud:
        with pytest.raises(OutcomeUnknownError):
            await cloud.remote_unlock.unlock(back)
    assert len(sim.executed("door_operate")) == 1


async def test_error_rates_apply_to_business_calls_only() -> None:
    sim = Simulator(faults=Faults(error_rates={500: 1.0}))
    async with sim.client(retry=FAST_RETRY) as cloud:
        with pytest.raises(ServerError):
            await cloud.unlock_methods.list_unassigned(sim.devices["front_door"])
    assert [record.code for record in sim.requests] == [None, 500, 500, 500]
    assert sim.executed("list_unassigned_keys") == []
    assert len(sim.executed("token")) == 1


async def test_error_rates_are_reproducible_with_a_seeded_rng() -> None:
    def outcomes() -> list[int | None]:
        faults = Faults(error_rates={1111: 0.5}, rng=random.Random(7))
        return [faults.random_error() for _ in range(20)]

    first = outcomes()
    assert first == outcomes()
    assert None in first
    assert 1111 in first


async def test_lost_response_rate() -> None:
    sim = Simulator(faults=Faults(lost_response_rate=1.0))
    async with sim.client(retry=RetryPolicy.never()) as cloud:
        with pytest.raises(TransportError):
            await cloud.unlock_methods.list_unassigned(sim.devices["front_door"])
    assert sim.executed("list_unassigned_keys")[0].response_lost is True


async def test_latency_is_applied(sim: Simulator, cloud: LockCloud) -> None:
    sim.faults.latency = 0.001
    sim.faults.latency_jitter = 0.001
    assert 0.001 <= sim.faults.delay() <= 0.002
    assert await cloud.unlock_methods.list_unassigned(sim.devices["front_door"])


async def test_scripted_faults_can_target_token_calls(sim: Simulator) -> None:
    sim.fail_next(1001, action="token")
    async with sim.client(retry=FAST_RETRY) as cloud:
        with pytest.raises(CredentialsError) as raised:
            await cloud.unlock_methods.list_unassigned(sim.devices["front_door"])
    assert raised.value.code == 1001


async def test_a_gateway_error_page_before_the_cloud_is_retried_for_reads(
    cloud: LockCloud, sim: Simulator
) -> None:
    front = sim.devices["front_door"]
    sim.fail_at_gateway(502, action="list_unassigned_keys")
    assert [key.unlock_no for key in await cloud.unlock_methods.list_unassigned(front)] == [3]
    statuses = [
        (r.action, r.http_status, r.executed) for r in sim.requests if r.action == "list_unassigned_keys"
    ]
    assert statuses == [("list_unassigned_keys", 502, False), ("list_unassigned_keys", 200, True)]
    assert len(sim.executed("list_unassigned_keys")) == 1


async def test_a_gateway_error_page_is_an_unknown_outcome_for_an_unlock(
    cloud: LockCloud, sim: Simulator
) -> None:
    front = sim.devices["front_door"]
    sim.fail_at_gateway(502, action="open_door")
    with pytest.raises(OutcomeUnknownError, match="HTTP 502"):
        await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
    assert sim.executed("open_door") == []
    assert sim.lock(front).door_open is False


async def test_a_gateway_error_after_the_cloud_ran_the_call(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    sim.fail_at_gateway(503, action="open_door", executed=True)
    with pytest.raises(OutcomeUnknownError, match="HTTP 503"):
        await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
    [record] = sim.executed("open_door")
    assert record.response_lost is True
    assert sim.lock(front).door_open is True
    [request] = [r for r in sim.requests if r.action == "open_door"]
    assert (request.http_status, request.executed, request.response_lost, request.code) == (
        503,
        True,
        True,
        None,
    )


async def test_a_gateway_error_page_is_html_with_its_status(raw: Any, sim: Simulator) -> None:
    sim.fail_at_gateway(504)
    params = {"grant_type": "1"}
    headers = raw.headers("GET", "/v1.0/token", params=params)
    response = await raw.http.get("/v1.0/token", params=params, headers=headers)
    assert response.status_code == 504
    assert response.headers["content-type"] == "text/html"
    assert b"504 Gateway Timeout" in response.content


@pytest.mark.parametrize("status", [200, 302, 600, 499_000])
def test_a_gateway_error_must_be_an_http_error_status(sim: Simulator, status: int) -> None:
    with pytest.raises(ValidationError, match="HTTP status"):
        sim.fail_at_gateway(status)
    assert sim.faults.scripted == []

"""However many calls need a token at once, exactly one token call is made.

The first grant runs against the simulator; the rest needs ``FakeTuya`` (see the conftest) to hold calls in flight,
reject a token mid-storm and fail the token endpoint on cue.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from lockcloud import ConnectError, CredentialsError, LockCloud
from lockcloud.sim import Simulator

from support import FAST_RETRY

CALLERS = 300
PATH = "/v1.0/devices/d1/door-lock/remote-unlocks"
UNSAFE_PATH = "/v1.0/smart-lock/devices/d1/password-free/door-operate"


async def call_many(cloud: LockCloud, method: str = "GET", path: str = PATH) -> list[Any]:
    return await asyncio.gather(*(cloud.request(method, path) for _ in range(CALLERS)))


async def test_first_grant_is_single_flight(lockcloud_sim: Simulator) -> None:
    path = f"/v1.0/devices/{lockcloud_sim.devices['front_door']}/door-lock/remote-unlocks"
    async with lockcloud_sim.client(retry=FAST_RETRY) as cloud:
        await call_many(cloud, path=path)
    answered = [(record.action, record.code) for record in lockcloud_sim.requests]
    assert answered == [("token", None)] + [("list_remote_unlocks", None)] * CALLERS


async def test_concurrent_callers_at_expiry_cost_one_token_call(local_clock: Any, token_holder: Any) -> None:
    server, cloud = token_holder.server, token_holder.cloud
    local_clock.advance(7200 - 30)  # inside the refresh margin
    server.reset_counts()
    results = await call_many(cloud)
    assert server.token_calls == 1
    assert server.refreshes == 1
    assert len(results) == CALLERS
    assert len({request.headers["access_token"] for request in server.business()}) == 1


async def test_concurrent_callers_after_expiry_cost_one_token_call(
    local_clock: Any, token_holder: Any
) -> None:
    server, cloud = token_holder.server, token_holder.cloud
    local_clock.advance(3 * 7200)
    server.reset_counts()
    await call_many(cloud, "POST", UNSAFE_PATH)
    assert server.token_calls == 1
    assert server.answers[1010] == 0


async def test_1010_storm_costs_one_token_call(server: Any, cloud: LockCloud) -> None:
    await cloud.request("GET", PATH)
    old_token = server.business()[0].headers["access_token"]
    server.reset_counts()
    arrived = 0
    everyone_in = asyncio.Event()

    async def reject_old_token_once_all_are_in_flight(
        request: httpx.Request, token: str
    ) -> httpx.Response | None:
        nonlocal arrived
        if token != old_token:
            return None
        arrived += 1
        if arrived == CALLERS:
            everyone_in.set()
        await everyone_in.wait()
        answer: httpx.Response = server.failure(1010, "token expired")
        return answer

    server.on_business = reject_old_token_once_all_are_in_flight
    results = await call_many(cloud, "POST", UNSAFE_PATH)
    assert arrived == CALLERS
    assert server.answers[1010] == CALLERS
    assert server.token_calls == 1
    assert server.refreshes == 1
    assert len(results) == CALLERS
    assert all(result["path"] == UNSAFE_PATH for result in results)
    assert len(server.business()) == 2 * CALLERS


async def test_call_in_flight_during_a_refresh_heals_without_another_token_call(
    local_clock: Any, token_holder: Any
) -> None:
    server, cloud = token_holder.server, token_holder.cloud
    held, release = asyncio.Event(), asyncio.Event()

    async def hold_the_slow_call(request: httpx.Request, token: str) -> httpx.Response | None:
        if request.url.path != UNSAFE_PATH:
            return None
        held.set()
        await release.wait()
        # Answered after the refresh: the pair it was signed with is dead by now.
        return None if token in server.live else server.failure(1011, "token invalid")

    server.on_business = hold_the_slow_call
    slow = asyncio.ensure_future(cloud.request("POST", UNSAFE_PATH))
    await held.wait()
    server.on_business = None
    local_clock.advance(7200 - 30)
    server.on_business = hold_the_slow_call
    await cloud.request("GET", PATH)  # proactive refresh; the slow call still holds the old token
    assert server.refreshes == 1
    release.set()
    assert (await slow)["path"] == UNSAFE_PATH
    assert server.answers[1011] == 1
    assert server.token_calls == 2  # the first grant and the one refresh: the heal reused the new token


@pytest.mark.parametrize(
    ("failure", "error", "calls_per_renewal"),
    [(1001, CredentialsError, 1), (httpx.ConnectError, ConnectError, 3)],
    ids=["grant-rejected", "token-endpoint-down"],
)
async def test_failing_token_call_is_shared_by_concurrent_callers(
    server: Any, cloud: LockCloud, failure: Any, error: type[Exception], calls_per_renewal: int
) -> None:
    action = server.raising(failure) if isinstance(failure, type) else failure
    server.script("/v1.0/token", *([action] * (3 * CALLERS)))
    results = await asyncio.gather(
        *(cloud.request("GET", PATH) for _ in range(CALLERS)), return_exceptions=True
    )
    assert all(type(result) is error for result in results)
    assert server.business() == []
    assert server.token_calls == calls_per_renewal

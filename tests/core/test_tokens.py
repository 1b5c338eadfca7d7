"""Token life cycle: lazy grant, proactive refresh on the server's clock, reactive healing, stores, clock skew.

What the simulator shows (the grant, reuse, the stores, a skewed clock learnt at the grant) runs against it; the
rest needs ``FakeTuya`` (see the conftest: a pinned clock on both sides, 1011, scripted refresh failures, refresh
bookkeeping).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lockcloud import (
    ClockSkewError,
    FileTokenStore,
    LockCloud,
    LockCloudError,
    MemoryTokenStore,
    Token,
    TokenError,
)
from lockcloud.sim import Faults, Simulator

from support import FAST_RETRY

PATH = "/v1.0/devices/d1/door-lock/remote-unlocks"
UNSAFE_PATH = "/v1.0/devices/d1/door-lock/password-free/open-door"
TOKEN_ACTIONS = ("token", "refresh_token")


def remote_unlocks(sim: Simulator) -> str:
    """A business call the simulator answers (the front door's remote-unlock switches)."""
    return f"/v1.0/devices/{sim.devices['front_door']}/door-lock/remote-unlocks"


def answered(sim: Simulator) -> list[tuple[str | None, int | None]]:
    """Every request the simulator received, as (action, Tuya code answered; None for success)."""
    return [(record.action, record.code) for record in sim.requests]


def token_calls(sim: Simulator) -> list[str | None]:
    return [record.action for record in sim.requests if record.action in TOKEN_ACTIONS]


async def test_no_token_call_before_the_first_request(lockcloud_sim: Simulator) -> None:
    async with lockcloud_sim.client(retry=FAST_RETRY) as cloud:
        assert lockcloud_sim.requests == []
        await cloud.request("GET", remote_unlocks(lockcloud_sim))
    assert answered(lockcloud_sim) == [("token", None), ("list_remote_unlocks", None)]


async def test_the_token_is_reused(lockcloud_sim: Simulator) -> None:
    async with lockcloud_sim.client(retry=FAST_RETRY) as cloud:
        for _ in range(5):
            await cloud.request("GET", remote_unlocks(lockcloud_sim))
    # One grant, and every call accepted: each was signed with the token of that one grant.
    assert answered(lockcloud_sim) == [("token", None)] + [("list_remote_unlocks", None)] * 5
    assert len(lockcloud_sim.world.tokens) == 1


@pytest.mark.parametrize("skew", [3600.0, -3600.0, 0.0], ids=["server-ahead", "server-behind", "in-sync"])
async def test_proactive_refresh_on_the_server_clock(
    skew: float, local_clock: Any, consts: Any, make_cloud: Callable[..., LockCloud]
) -> None:
    server = consts.FakeTuya(clock=local_clock, skew=skew)
    cloud = make_cloud(server)
    await cloud.request("GET", PATH)
    # A skewed local clock costs at most one 1013, absorbed by the grant, and the offset is learnt.
    assert server.answers[1013] == (0 if skew == 0 else 1)
    assert cloud.clock_offset == pytest.approx(skew, abs=1)

    for lifetime in range(1, 4):
        local_clock.advance(7200 - 61)  # 61 s left on Tuya's clock: more than the 60 s margin
        await cloud.request("GET", PATH)
        assert server.refreshes == lifetime - 1
        local_clock.advance(30)  # 31 s left: inside the margin, so refreshed before Tuya expires it
        await cloud.request("GET", PATH)
        assert server.refreshes == lifetime
    assert server.refreshes == 3
    assert server.grants == 1
    assert server.refreshed_while_valid == [True, True, True]
    assert server.answers[1010] == 0
    assert server.answers[1011] == 0
    assert server.answers[1013] == (0 if skew == 0 else 1)


async def test_refresh_when_the_token_expired_long_ago(local_clock: Any, token_holder: Any) -> None:
    server, cloud = token_holder.server, token_holder.cloud
    local_clock.advance(10 * 7200)
    await cloud.request("GET", PATH)
    assert server.answers[1010] == 0
    assert server.refreshes == 1


@pytest.mark.parametrize("code", [1010, 1011, 1012])
@pytest.mark.parametrize(("method", "path"), [("GET", PATH), ("POST", UNSAFE_PATH)])
async def test_reactive_heal_replays_once(
    code: int, method: str, path: str, server: Any, cloud: LockCloud
) -> None:
    await cloud.request("GET", "/v1.0/warm-up")
    server.reset_counts()
    server.script(path, code)
    result = await cloud.request(method, path, json={"ticket_id": "t1"} if method == "POST" else None)
    assert result["path"] == path
    first, replay = server.business(path)
    assert len(server.business(path)) == 2
    assert server.refreshes == 1
    assert server.grants == 0
    assert first.headers["access_token"] != replay.headers["access_token"]
    assert first.content == replay.content


async def test_heal_happens_once_per_call(lockcloud_sim: Simulator) -> None:
    front = lockcloud_sim.devices["front_door"]
    async with lockcloud_sim.client(retry=FAST_RETRY) as cloud:
        await cloud.request("GET", remote_unlocks(lockcloud_sim))  # holds a token now
        lockcloud_sim.fail_next(1010, action="password_ticket")
        lockcloud_sim.fail_next(1011, action="password_ticket")
        with pytest.raises(TokenError) as exc_info:
            await cloud.remote_unlock.get_password_ticket(front)
    assert exc_info.value.code == 1011
    tickets = [code for action, code in answered(lockcloud_sim) if action == "password_ticket"]
    assert tickets == [1010, 1011]
    assert token_calls(lockcloud_sim) == ["token", "refresh_token"]


async def test_a_revoked_token_is_healed(server: Any, cloud: LockCloud) -> None:
    await cloud.request("GET", PATH)
    server.live.clear()  # the server forgot every access token: answers 1011
    await cloud.request("POST", UNSAFE_PATH)
    assert server.answers[1011] == 1
    assert server.refreshes == 1


@pytest.mark.parametrize(
    "refresh_failure",
    [
        1012,
        1010,
        500,
        httpx.ReadTimeout,
        httpx.ConnectError,
        httpx.Response(502, text="<html>bad gateway</html>"),
    ],
    ids=["1012", "1010", "500", "read-timeout", "connect-error", "http-502"],
)
async def test_failed_refresh_falls_back_to_a_new_grant(
    refresh_failure: Any, server: Any, cloud: LockCloud
) -> None:
    await cloud.request("GET", PATH)
    if isinstance(refresh_failure, type):
        refresh_failure = server.raising(refresh_failure)
    server.refresh_script.extend([refresh_failure] * 5)
    server.script(UNSAFE_PATH, 1010)
    assert (await cloud.request("POST", UNSAFE_PATH))["path"] == UNSAFE_PATH
    assert server.grants == 2
    assert server.refreshes == 0
    assert server.refresh_attempts >= 1


async def test_file_store_shares_the_token_with_a_second_client(
    tmp_path: Path, lockcloud_sim: Simulator
) -> None:
    path = tmp_path / "token.json"
    async with lockcloud_sim.client(retry=FAST_RETRY, token_store=FileTokenStore(path)) as first:
        await first.request("GET", remote_unlocks(lockcloud_sim))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    async with lockcloud_sim.client(retry=FAST_RETRY, token_store=FileTokenStore(path)) as second:
        await second.request("GET", remote_unlocks(lockcloud_sim))
    # The second client's call was accepted without a token call of its own: it signed with the stored token.
    assert answered(lockcloud_sim) == [("token", None)] + [("list_remote_unlocks", None)] * 2


async def test_file_store_heals_after_a_sibling_refreshed(tmp_path: Path, lockcloud_sim: Simulator) -> None:
    path = tmp_path / "token.json"
    async with (
        lockcloud_sim.client(retry=FAST_RETRY, token_store=FileTokenStore(path)) as first,
        lockcloud_sim.client(retry=FAST_RETRY, token_store=FileTokenStore(path)) as second,
    ):
        await first.request("GET", remote_unlocks(lockcloud_sim))
        await second.request("GET", remote_unlocks(lockcloud_sim))
        lockcloud_sim.fail_next(1010, action="list_remote_unlocks")
        await first.request("GET", remote_unlocks(lockcloud_sim))  # first refreshes: second's pair is retired
        await second.request("GET", remote_unlocks(lockcloud_sim))
    business = [code for action, code in answered(lockcloud_sim) if action not in TOKEN_ACTIONS]
    assert business == [None, None, 1010, None, 1010, None]
    # second adopted the token first stored instead of making a token call
    assert token_calls(lockcloud_sim) == ["token", "refresh_token"]


async def test_file_store_round_trip_and_forget(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "t.json")
    assert await store.load() is None
    token = Token(access_token="a", refresh_token="r", expires_at=123.5, uid="u")
    await store.save(token)
    assert await store.load() == token
    await store.save(None)
    assert not (tmp_path / "t.json").exists()
    assert await store.load() is None


async def test_file_store_ignores_an_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("{not json")
    assert await FileTokenStore(path).load() is None
    path.write_text('{"access_token": "a"}')
    assert await FileTokenStore(path).load() is None


async def test_memory_store_is_used(lockcloud_sim: Simulator) -> None:
    store = MemoryTokenStore()
    async with lockcloud_sim.client(retry=FAST_RETRY, token_store=store) as cloud:
        await cloud.request("GET", remote_unlocks(lockcloud_sim))
    saved = await store.load()
    assert saved is not None
    assert list(lockcloud_sim.world.tokens) == [saved.access_token]
    # A second client handed the same store makes no grant.
    async with lockcloud_sim.client(retry=FAST_RETRY, token_store=store) as other:
        await other.request("GET", remote_unlocks(lockcloud_sim))
    assert token_calls(lockcloud_sim) == ["token"]


@pytest.mark.lockcloud_sim(faults=Faults(clock_offset=-3600.0))  # Tuya's clock an hour behind ours
async def test_token_expiry_comes_from_the_server_time(lockcloud_sim: Simulator) -> None:
    store = MemoryTokenStore()
    async with lockcloud_sim.client(retry=FAST_RETRY, token_store=store) as cloud:
        await cloud.request("GET", remote_unlocks(lockcloud_sim))
    token = await store.load()
    assert token is not None
    # Two hours on Tuya's clock, not on ours (which would be an hour later).
    assert token.expires_at == pytest.approx(lockcloud_sim.world.now() + 7200, abs=2)


async def test_clock_skew_resyncs_and_replays_an_idempotent_call_once(
    consts: Any, make_cloud: Callable[..., LockCloud]
) -> None:
    server = consts.FakeTuya(skew=5000.0, max_skew=1e12)  # accepts any t, so only the scripted 1013 happens
    cloud = make_cloud(server)
    await cloud.request("GET", "/v1.0/warm-up")
    cloud._clock.offset = 0.0  # as if the local clock had jumped since
    server.script(PATH, 1013)
    assert (await cloud.request("GET", PATH))["path"] == PATH
    assert len(server.business(PATH)) == 2
    assert cloud.clock_offset == pytest.approx(5000.0, abs=1)
    first_t, replay_t = (int(request.headers["t"]) for request in server.business(PATH))
    assert replay_t - first_t == pytest.approx(5_000_000, abs=1000)


async def test_clock_skew_on_an_unsafe_call_resyncs_but_is_not_replayed(
    consts: Any, make_cloud: Callable[..., LockCloud]
) -> None:
    # Nothing documents where Tuya checks the time, so an unlock answered 1013 is not sent again.
    server = consts.FakeTuya(skew=5000.0, max_skew=1e12)
    cloud = make_cloud(server)
    await cloud.request("GET", "/v1.0/warm-up")
    cloud._clock.offset = 0.0
    server.script(UNSAFE_PATH, 1013)
    with pytest.raises(ClockSkewError):
        await cloud.request("POST", UNSAFE_PATH)
    assert len(server.business(UNSAFE_PATH)) == 1
    assert cloud.clock_offset == pytest.approx(5000.0, abs=1)  # the next call is signed with Tuya's clock
    assert (await cloud.request("POST", UNSAFE_PATH))["path"] == UNSAFE_PATH


async def test_clock_skew_twice_surfaces(lockcloud_sim: Simulator) -> None:
    lockcloud_sim.fail_next(1013, action="list_remote_unlocks", times=2)
    async with lockcloud_sim.client(retry=FAST_RETRY) as cloud:
        with pytest.raises(ClockSkewError):
            await cloud.request("GET", remote_unlocks(lockcloud_sim))
    assert answered(lockcloud_sim) == [("token", None)] + [("list_remote_unlocks", 1013)] * 2


@pytest.mark.lockcloud_sim(faults=Faults(clock_offset=-7200.0))  # Tuya's clock two hours behind ours
async def test_real_skew_never_surfaces(lockcloud_sim: Simulator) -> None:
    async with lockcloud_sim.client(retry=FAST_RETRY) as cloud:
        for _ in range(3):  # a password ticket is unsafe: a 1013 answered to it would surface
            await cloud.remote_unlock.get_password_ticket(lockcloud_sim.devices["front_door"])
    # The very first (token) call is answered 1013, then never again.
    assert answered(lockcloud_sim) == [("token", 1013), ("token", None)] + [("password_ticket", None)] * 3


@pytest.mark.parametrize("where", ["missing-directory", "path-is-a-directory"])
async def test_token_store_io_failure_stays_inside_the_error_tree(
    tmp_path: Path, lockcloud_sim: Simulator, where: str
) -> None:
    path = tmp_path / "no-such-dir" / "token.json"
    if where == "path-is-a-directory":
        path = tmp_path / "token.json"
        path.mkdir()
    async with lockcloud_sim.client(retry=FAST_RETRY, token_store=FileTokenStore(path)) as cloud:
        # Either carrying on without persisting or raising inside the tree would do.
        with contextlib.suppress(LockCloudError):
            await cloud.request("GET", remote_unlocks(lockcloud_sim))


async def test_file_store_mode_is_0600_even_over_a_stale_tmp_file(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    stale = tmp_path / "token.json.tmp"
    stale.write_text("")
    stale.chmod(0o644)
    await FileTokenStore(path).save(Token(access_token="a", refresh_token="r", expires_at=1.0))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

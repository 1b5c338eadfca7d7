"""A fleet of real OS processes on one project, each with its own ``LockCloud``, against the simulator served
over loopback: with a shared store (Redis, or a file on this host) the whole fleet makes one token call at first
use and one at a forced expiry, and no call fails, also when a grant retires every other token; the holder of the
renewal lock can be SIGKILLed mid-renewal and another process takes over. Token calls are counted by the server.

The fleet here is 4 processes x 50 callers; benchmarks/bench_fleet.py runs 8 x 250 and the baseline figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from lockcloud._core.redis_tokens import cloud_label
from lockcloud.sim import Faults, SimServer, Simulator, running

WORKER = Path(__file__).with_name("fleet_worker.py")
PROCESSES = 4
CALLERS = 50
# Generous: the machine is shared, and four interpreters start at once.
STEP_TIMEOUT = 90.0


class Fleet:
    """Worker processes (fleet_worker.py), each answering one JSON line per ``run``."""

    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self.processes = processes
        self.pids: list[int] = []

    @classmethod
    async def start(cls, configs: list[dict[str, Any]]) -> Fleet:
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER),
                json.dumps(config),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            for config in configs
        ]
        fleet = cls(processes)
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                for process in processes:
                    ready = json.loads(await _line(process))
                    fleet.pids.append(ready["pid"])
        except BaseException:
            await fleet.close()
            raise
        return fleet

    def send_run(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                assert process.stdin is not None
                process.stdin.write(b"run\n")

    async def results(
        self, processes: list[asyncio.subprocess.Process] | None = None
    ) -> list[dict[str, Any]]:
        async with asyncio.timeout(STEP_TIMEOUT):
            return [json.loads(await _line(process)) for process in processes or self.processes]

    async def run(self) -> list[dict[str, Any]]:
        self.send_run()
        return await self.results()

    async def close(self) -> None:
        for process in self.processes:
            if process.returncode is None and process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.write(b"quit\n")
                    process.stdin.close()
        for process in self.processes:
            try:
                async with asyncio.timeout(20):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def _line(process: asyncio.subprocess.Process) -> bytes:
    assert process.stdout is not None
    line = await process.stdout.readline()
    if not line:
        raise AssertionError(f"worker {process.pid} exited (code {await process.wait()})")
    return line


class Phase:
    """What the server saw from one point on: token calls and 1010 answers."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.start = len(sim.requests)

    def records(self) -> list[Any]:
        return self.sim.requests[self.start :]

    @property
    def token_calls(self) -> int:
        return sum(1 for r in self.records() if r.path == "/v1.0/token" or r.path.startswith("/v1.0/token/"))

    def answers(self, code: int) -> int:
        return sum(1 for r in self.records() if r.code == code)


def _failed(results: list[dict[str, Any]]) -> dict[str, int]:
    failed: dict[str, int] = {}
    for result in results:
        for name, count in result["failed"].items():
            failed[name] = failed.get(name, 0) + count
    return failed


@pytest.fixture
async def served() -> AsyncIterator[Callable[..., Any]]:
    """``served(faults)``: the simulator over loopback (no broker), stopped at the end of the test."""
    async with contextlib.AsyncExitStack() as stack:

        async def serve(faults: Faults | None = None) -> SimServer:
            return await stack.enter_async_context(running(Simulator(faults=faults), broker=False))

        yield serve


def _configs(server: SimServer, store: dict[str, Any], count: int = PROCESSES) -> list[dict[str, Any]]:
    config = {
        "base_url": server.base_url,
        "access_id": server.access_id,
        "access_secret": server.access_secret,
        "path": f"/v1.0/devices/{server.devices['front_door']}/door-lock/remote-unlocks",
        "callers": CALLERS,
        "store": store,
    }
    return [config] * count


def _shared_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if kind == "redis":
        return {"kind": "redis", "url": request.getfixturevalue("redis_server").url}
    return {"kind": "file", "path": str(tmp_path / "token.json")}


# Both stores under the strictest rule, Redis under the default one too (each fleet costs seconds of CPU).
@pytest.mark.parametrize(
    ("store_kind", "grant_replaces_token"),
    [("redis", True), ("file", True), ("redis", False)],
    ids=["redis-grant-replaces", "file-grant-replaces", "redis-grants-coexist"],
)
async def test_one_token_call_for_the_whole_fleet(
    served: Callable[..., Any],
    store_kind: str,
    grant_replaces_token: bool,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    server = await served(Faults(grant_replaces_token=grant_replaces_token))
    fleet = await Fleet.start(_configs(server, _shared_store(store_kind, request, tmp_path)))
    try:
        first_use = Phase(server.simulator)
        results = await fleet.run()
        assert _failed(results) == {}
        assert first_use.token_calls == 1

        server.simulator.expire_tokens()
        expiry = Phase(server.simulator)
        results = await fleet.run()
        assert _failed(results) == {}
        assert sum(r["ok"] for r in results) == PROCESSES * CALLERS
        assert expiry.token_calls == 1
        assert expiry.answers(1012) == 0  # nobody refreshed a retired pair
        assert len(server.simulator.executed("refresh_token")) == 1
    finally:
        await fleet.close()


async def test_without_a_shared_store_every_process_pays(served: Callable[..., Any]) -> None:
    # The baseline the fleet figures are measured against: each process has its own token.
    server = await served()
    fleet = await Fleet.start(_configs(server, {"kind": "memory"}))
    try:
        first_use = Phase(server.simulator)
        assert _failed(await fleet.run()) == {}
        assert first_use.token_calls == PROCESSES
        server.simulator.expire_tokens()
        expiry = Phase(server.simulator)
        assert _failed(await fleet.run()) == {}
        assert expiry.token_calls == PROCESSES
    finally:
        await fleet.close()


async def _eventually(condition: Callable[[], bool]) -> None:
    for _ in range(int(STEP_TIMEOUT / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never came true")


async def _holder_pid(store: dict[str, Any], lock_owner: Callable[[], Any]) -> int:
    text = await lock_owner()
    if store["kind"] == "redis":
        return int(text.rsplit(":", 2)[1])
    return int(text.split("pid")[1])


@pytest.mark.parametrize("store_kind", ["redis", "file"])
async def test_the_renewal_holder_killed_mid_renewal(
    served: Callable[..., Any], store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server = await served()
    sim = server.simulator
    sim.faults.hang_seconds = 120  # the holder's refresh never gets an answer
    if store_kind == "redis":
        redis_url = request.getfixturevalue("redis_server").url
        store: dict[str, Any] = {"kind": "redis", "url": redis_url, "lease": 2.0}
        client = aioredis.Redis.from_url(redis_url)

        async def lock_owner() -> str | None:
            key = f"lockcloud:token:v2:{{{server.access_id}}}:{cloud_label(server.base_url)}"
            value = await client.get(f"{key}:renewal")
            return value.decode() if value else None

    else:
        store = {"kind": "file", "path": str(tmp_path / "token.json")}
        lock_file = tmp_path / "token.json.lock"

        async def lock_owner() -> str | None:
            return lock_file.read_text() if lock_file.exists() else None

    fleet = await Fleet.start(_configs(server, store, count=3))
    try:
        assert _failed(await fleet.run()) == {}
        sim.lose_next_response(action="refresh_token", mode="timeout")
        sim.expire_tokens()
        renewal = Phase(sim)
        fleet.send_run()
        await _eventually(lambda: any(r.action == "refresh_token" and r.response_lost for r in sim.actions))
        holder = await _holder_pid(store, lock_owner)
        assert holder in fleet.pids
        os.kill(holder, signal.SIGKILL)
        survivors = [p for p, pid in zip(fleet.processes, fleet.pids, strict=True) if pid != holder]
        results = await fleet.results(survivors)  # bounded by STEP_TIMEOUT: nobody waits forever
        assert _failed(results) == {}
        assert sum(r["ok"] for r in results) == 2 * CALLERS
        # The dead holder's refresh ran (its pair is retired): the next holder's refresh fails, then one grant.
        assert renewal.answers(1012) == 1
        assert len(sim.executed("token")) == 2
        assert renewal.token_calls == 3
    finally:
        await fleet.close()
        if store_kind == "redis":
            await client.aclose()


async def test_a_fleet_is_not_held_for_ever_by_a_lock_without_a_lease_nor_by_a_planted_token(
    served: Callable[..., Any], redis_server: Any
) -> None:
    """Someone who can write to Redis plants a token and a renewal lock without a TTL: the processes neither use
    the token nor wait for the lock for ever; one of them gives the lock a lease, and the fleet renews once."""
    server = await served()
    key = f"lockcloud:token:v2:{{{server.access_id}}}:{cloud_label(server.base_url)}"
    client = aioredis.Redis.from_url(redis_server.url)
    planted = {"access_token": "planted0123456789abcdef", "refresh_token": "planted", "expires_at": 4e9}
    try:
        await client.set(key, json.dumps(planted))
        await client.set(f"{key}:renewal", "ghost:4242:abcd")  # no TTL
        store = {"kind": "redis", "url": redis_server.url, "lease": 1.0, "lock_timeout": 20.0}
        fleet = await Fleet.start(_configs(server, store, count=3))
        try:
            first_use = Phase(server.simulator)
            results = await fleet.run()
            assert _failed(results) == {}
            assert first_use.token_calls == 1
            assert first_use.answers(1010) == 0  # the planted token was never sent
            assert await client.get(f"{key}:renewal") is None
        finally:
            await fleet.close()
    finally:
        await client.aclose()

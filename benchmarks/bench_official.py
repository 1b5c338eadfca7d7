"""lockcloud against the official ``tuya-connector-python`` client, doing the same signed call on the simulator.

The call is ``GET .../assigned-keys?unlock_type=fingerprint`` on the loopback simulator (its own process). Both
clients sign every call and parse the JSON answer. Figures: calls per second at concurrency 1 and 32 (asyncio tasks
sharing one ``LockCloud``; threads sharing one ``TuyaOpenAPI``, which is synchronous), and the client process's
CPU time per call (the server runs in another process, so this is each client's own cost even when the server is
the bottleneck). A third side, bare ``httpx.AsyncClient`` sending pre-signed requests with the same concurrency,
shows how much of lockcloud's figure is httpx's; a fourth, lockcloud with ``sniffio`` importable, what an httpcore
defect costs it (see :func:`_with_sniffio`; reported in the notes). Sides alternate in rounds of fixed duration;
medians are reported.

``tuya-connector-python`` is not a lockcloud dependency: ``nox -s bench`` installs it. Without it this figure is
skipped with a message.

    python benchmarks/bench_official.py [--quick]
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import statistics
import sys
import threading
import time
import types
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from _harness import row, run_standalone, skipped
from _sim_server import SimProcess
from bench_request import _presigned_headers

from lockcloud import LockCloud

FIGURE = "calls/s vs tuya-connector-python"
NOT_INSTALLED = (
    "tuya-connector-python is not installed (nox -s bench installs it; or pip install tuya-connector-python)"
)


def official_available() -> bool:
    return importlib.util.find_spec("tuya_connector") is not None


class Sample:
    """Calls completed in one round, its wall time and the process CPU time it took."""

    def __init__(self, calls: int, wall: float, cpu: float) -> None:
        self.calls = calls
        self.wall = wall
        self.cpu = cpu

    @property
    def rate(self) -> float:
        return self.calls / self.wall

    @property
    def cpu_per_call(self) -> float:
        return self.cpu / self.calls


async def lockcloud_round(
    cloud: LockCloud, path: str, query: dict[str, str], tasks: int, seconds: float
) -> Sample:
    calls = 0
    deadline = 0.0

    async def worker() -> None:
        nonlocal calls
        while time.perf_counter() < deadline:
            await cloud.request("GET", path, params=query)
            calls += 1

    cpu, started = time.process_time(), time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return Sample(calls, time.perf_counter() - started, time.process_time() - cpu)


async def bare_round(
    client: httpx.AsyncClient,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    tasks: int,
    seconds: float,
) -> Sample:
    calls = 0
    deadline = 0.0

    async def worker() -> None:
        nonlocal calls
        while time.perf_counter() < deadline:
            response = await client.get(path, params=query, headers=headers)
            if json.loads(response.content).get("success") is not True:
                raise RuntimeError(f"bare httpx call failed: {response.content[:200]!r}")
            calls += 1

    cpu, started = time.process_time(), time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return Sample(calls, time.perf_counter() - started, time.process_time() - cpu)


def official_round(api: Any, path: str, query: dict[str, str], threads: int, seconds: float) -> Sample:
    counts = [0] * threads
    failures: list[object] = []
    start = threading.Barrier(threads + 1)
    deadline = 0.0

    def worker(index: int) -> None:
        start.wait()
        while time.perf_counter() < deadline:
            answer = api.get(path, query)
            if not answer or answer.get("success") is not True:
                failures.append(answer)
                return
            counts[index] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    cpu, started = time.process_time(), time.perf_counter()
    deadline = started + seconds
    start.wait()
    for thread in pool:
        thread.join()
    if failures:
        raise RuntimeError(f"tuya-connector-python calls failed: {failures[0]}")
    return Sample(sum(counts), time.perf_counter() - started, time.process_time() - cpu)


def make_official(sim: SimProcess, pool_size: int) -> Any:
    import requests.adapters
    from tuya_connector import TuyaOpenAPI

    api = TuyaOpenAPI(sim.base_url, sim.access_id, sim.access_secret)
    # As shipped its requests session keeps 10 connections and opens (and warns about) one more per call above
    # that; it is given a pool as large as the concurrency, as a careful user would, so it is not penalised.
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
    api.session.mount("http://", adapter)
    answer = api.connect()
    if not answer or not answer.get("success"):
        raise RuntimeError(f"tuya-connector-python could not get a token from the simulator: {answer}")
    return api


# (concurrency, simulated network latency in seconds). Loopback answers in about a millisecond, so the first two
# measure the clients' own cost; Tuya's cloud answers in tens to hundreds of milliseconds, which the third imitates.
SCENARIOS = ((1, 0.0), (32, 0.0), (32, 0.05))


async def _compare(
    sides: dict[str, Callable[[float], Any]], rounds: int, seconds: float
) -> dict[str, list[Sample]]:
    async def run(name: str, duration: float) -> Sample:
        outcome = sides[name](duration)
        return await outcome if asyncio.iscoroutine(outcome) else outcome

    for name in sides:  # warm-up: connections, caches
        await run(name, seconds / 3)
    samples: dict[str, list[Sample]] = {name: [] for name in sides}
    for index in range(rounds):
        for name in list(sides) if index % 2 == 0 else list(reversed(sides)):
            samples[name].append(await run(name, seconds))
    return samples


class _SniffioStub(types.ModuleType):
    @staticmethod
    def current_async_library() -> str:
        return "asyncio"


async def _with_sniffio(round_: Awaitable[Sample]) -> Sample:
    """Run a round with ``sniffio`` importable (a stub answering "asyncio"), as it is where sniffio is installed.

    httpcore 1.0.9 imports sniffio on every lock and event it sets up and falls back to asyncio when the import
    fails; anyio >= 4.11 no longer installs sniffio, and Python does not cache a failed import, so each request pays
    several full searches of sys.path (encode/httpcore#1103). This side shows what that costs lockcloud.
    """
    present = "sniffio" in sys.modules
    if not present:
        sys.modules["sniffio"] = _SniffioStub("sniffio")
    try:
        return await round_
    finally:
        if not present:
            del sys.modules["sniffio"]


async def measure_with(sim: SimProcess, quick: bool = False) -> list[dict[str, Any]]:
    if not official_available():
        return [skipped(FIGURE, NOT_INSTALLED)]
    # Many short rounds: load from other processes then hits the sides alike, and medians shrug it off.
    rounds, seconds = (3, 0.5) if quick else (6, 0.75)
    device = sim.info["devices"]["front_door"]
    path = f"/v1.0/devices/{device}/door-lock/user-types/1/users/{sim.info['home_user']}/assigned-keys"
    query = {"unlock_type": "fingerprint"}
    rows = []
    async with (
        LockCloud(sim.access_id, sim.access_secret, base_url=sim.base_url) as cloud,
        httpx.AsyncClient(base_url=sim.base_url) as bare,
    ):
        token = (await cloud.tokens.get()).access_token
        for concurrency, latency in SCENARIOS:
            sim.command(f"latency {latency}")
            api = make_official(sim, concurrency)
            expected = await cloud.request("GET", path, params=query)
            assert api.get(path, query)["result"] == expected
            # Signed afresh for each scenario: the simulator accepts a request's t for 5 minutes.
            headers = _presigned_headers(sim.access_id, sim.access_secret, token, "GET", path, query, b"")
            sides: dict[str, Callable[[float], Any]] = {
                "lockcloud": lambda s, c=concurrency: lockcloud_round(cloud, path, query, c, s),
                "official": lambda s, c=concurrency, a=api: official_round(a, path, query, c, s),
                "bare": lambda s, c=concurrency, h=headers: bare_round(bare, path, query, h, c, s),
                "lockcloud+sniffio": lambda s, c=concurrency: _with_sniffio(
                    lockcloud_round(cloud, path, query, c, s)
                ),
            }
            samples = await _compare(sides, rounds, seconds)
            api.session.close()

            rate = {name: statistics.median(s.rate for s in values) for name, values in samples.items()}
            cpu = {
                name: statistics.median(s.cpu_per_call for s in values) for name, values in samples.items()
            }
            where = f"concurrency {concurrency}" + (f", {latency * 1000:.0f} ms latency" if latency else "")
            official = f"tuya-connector-python, {concurrency} thread{'s' if concurrency > 1 else ''}"
            bare_name = f"bare httpx, pre-signed, {concurrency} task{'s' if concurrency > 1 else ''}"
            rows += [
                row(f"{FIGURE}, {where}", rate["lockcloud"], rate["official"], "calls/s", official),
                row(
                    f"client CPU per call vs tuya-connector-python, {where}",
                    cpu["lockcloud"],
                    cpu["official"],
                    "s",
                    official,
                    note=f"lockcloud with sniffio importable: {cpu['lockcloud+sniffio'] * 1e3:.2f} ms per call, "
                    f"{rate['lockcloud+sniffio']:,.0f} calls/s",
                ),
                row(
                    f"calls/s vs bare httpx on the simulator, {where}",
                    rate["lockcloud"],
                    rate["bare"],
                    "calls/s",
                    bare_name,
                ),
            ]
        sim.command("latency 0")
    return rows


async def measure(quick: bool = False) -> list[dict[str, Any]]:
    if not official_available():
        return [skipped(FIGURE, NOT_INSTALLED)]
    with SimProcess() as sim:
        return await measure_with(sim, quick)


def main() -> None:
    run_standalone(measure, __doc__ or "")


if __name__ == "__main__":
    main()

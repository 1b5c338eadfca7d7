"""Paging a long history: lockcloud's iterator against paging by hand, on 10,000 records from the simulator.

The simulator (its own process) holds 10,000 unlock records of one lock. Each side reads all of them, 100 a page:

* **lockcloud**: ``async for record in cloud.history.records(device, page_size=100)``, typed records, one page in
  memory at a time (the loop keeps a count, not the records);
* **by hand, lockcloud's request**: ``cloud.request`` in a ``while has_more`` loop that gathers every page's raw
  records into a list, as hand-rolled paging usually does;
* **by hand, tuya-connector-python**: the official SDK's ``TuyaOpenAPI.get`` in the same loop (skipped when the
  SDK is not installed; ``nox -s bench`` installs it).

Figures: records per second (median of alternating rounds) and the peak of Python allocations during one full read
(``tracemalloc``, measured in rounds of their own so its overhead stays out of the rates).

    python benchmarks/bench_history.py [--quick]
"""

from __future__ import annotations

import asyncio
import statistics
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from _harness import row, run_standalone, skipped
from _sim_server import SimProcess
from bench_official import NOT_INSTALLED, make_official, official_available

from lockcloud import LockCloud, RetryPolicy

FIGURE = "history paging, 10,000 records"
RECORDS = 10_000
PAGE = 100


def _query(page_no: int) -> dict[str, str]:
    return {
        "target_standard_dp_codes": "unlock_fingerprint",
        "start_time": "0",
        "end_time": "0",
        "page_no": str(page_no),
        "page_size": str(PAGE),
    }


async def by_iterator(cloud: LockCloud, device: str) -> int:
    count = 0
    async for _record in cloud.history.records(device, kinds=["unlock_fingerprint"], page_size=PAGE):
        count += 1
    return count


async def by_hand(cloud: LockCloud, device: str) -> int:
    path = f"/v1.0/devices/{device}/door-lock/records"
    records: list[Any] = []
    page_no = 1
    while True:
        result = await cloud.request("GET", path, params=_query(page_no))
        records.extend(result["records"])
        if not result["has_more"]:
            return len(records)
        page_no += 1


def by_official(api: Any, device: str) -> int:
    path = f"/v1.0/devices/{device}/door-lock/records"
    records: list[Any] = []
    page_no = 1
    while True:
        answer = api.get(path, _query(page_no))
        result = answer["result"]
        records.extend(result["records"])
        if not result["has_more"]:
            return len(records)
        page_no += 1


async def _timed(side: Callable[[], Awaitable[int] | int]) -> tuple[float, int]:
    started = time.perf_counter()
    outcome = side()
    count = await outcome if asyncio.iscoroutine(outcome) else outcome
    return time.perf_counter() - started, int(count)  # type: ignore[call-overload]


async def _peak(side: Callable[[], Awaitable[int] | int]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        outcome = side()
        if asyncio.iscoroutine(outcome):
            await outcome
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def measure_with(sim: SimProcess, quick: bool) -> list[dict[str, Any]]:
    device = sim.command(f"backfill {RECORDS}")["device_id"]
    rounds = 3 if quick else 7
    async with LockCloud(
        sim.access_id, sim.access_secret, base_url=sim.base_url, retry=RetryPolicy(deadline=None)
    ) as cloud:
        sides: dict[str, Callable[[], Any]] = {
            "lockcloud": lambda: by_iterator(cloud, device),
            "hand": lambda: by_hand(cloud, device),
        }
        if official_available():
            api = make_official(sim, 1)
            sides["official"] = lambda: by_official(api, device)
        for side in sides.values():  # warm-up: token, connections
            await _timed(side)
        walls: dict[str, list[float]] = {name: [] for name in sides}
        for index in range(rounds):
            for name in list(sides) if index % 2 == 0 else list(reversed(sides)):
                wall, count = await _timed(sides[name])
                if count != RECORDS:
                    raise RuntimeError(f"{name} read {count} records, not {RECORDS}")
                walls[name].append(wall)
        peaks = {name: await _peak(side) for name, side in sides.items()}
    rate = {name: RECORDS / statistics.median(values) for name, values in walls.items()}
    rows = [
        row(
            f"{FIGURE} (records/s)",
            rate["lockcloud"],
            rate["hand"],
            "records/s",
            "hand-rolled paging (cloud.request)",
        ),
        row(
            f"{FIGURE}, peak memory",
            peaks["lockcloud"],
            peaks["hand"],
            "B",
            "hand-rolled paging (cloud.request)",
        ),
    ]
    if "official" in sides:
        rows += [
            row(
                f"{FIGURE} (records/s)",
                rate["lockcloud"],
                rate["official"],
                "records/s",
                "tuya-connector-python",
            ),
            row(
                f"{FIGURE}, peak memory", peaks["lockcloud"], peaks["official"], "B", "tuya-connector-python"
            ),
        ]
    else:
        rows.append(skipped(f"{FIGURE} vs tuya-connector-python", NOT_INSTALLED))
    return rows


async def measure(quick: bool = False) -> list[dict[str, Any]]:
    with SimProcess() as sim:
        return await measure_with(sim, quick)


if __name__ == "__main__":
    run_standalone(measure, __doc__ or "")

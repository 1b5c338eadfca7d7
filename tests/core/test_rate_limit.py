"""The client's own pace: concurrency cap, request rate, and their validation."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

import lockcloud._core.rate_limit
import lockcloud._core.transport
from lockcloud import LockCloud, ValidationError
from lockcloud._core.rate_limit import RateLimiter
from lockcloud.sim import Simulator

from support import FAST_RETRY

PATH = "/v1.0/devices/d1/door-lock/remote-unlocks"


async def peak_concurrency(server: Any, cloud: LockCloud, calls: int = 40) -> int:
    in_flight = peak = 0

    async def count(request: httpx.Request, token: str) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        in_flight -= 1
        return None

    server.on_business = count
    await asyncio.gather(*(cloud.request("GET", PATH) for _ in range(calls)))
    assert len(server.business()) == calls
    return peak


@pytest.mark.parametrize("limit", [1, 3, 7])
async def test_max_in_flight_is_honoured(
    server: Any, make_cloud: Callable[..., LockCloud], limit: int
) -> None:
    assert await peak_concurrency(server, make_cloud(server, max_in_flight=limit)) == limit


async def test_without_a_cap_calls_overlap(server: Any, make_cloud: Callable[..., LockCloud]) -> None:
    assert await peak_concurrency(server, make_cloud(server)) > 7


class FrozenTime:
    """Stands in for ``time`` and ``asyncio`` inside lockcloud's rate limiter and transport: time moves only when it sleeps."""

    def __init__(self) -> None:
        self.now = 500.0
        self.sleeps: list[float] = []
        self.starts: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def perf_counter(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> FrozenTime:
    fake = FrozenTime()
    fake_asyncio = SimpleNamespace(sleep=fake.sleep, Semaphore=asyncio.Semaphore, timeout=asyncio.timeout)
    for module in (lockcloud._core.rate_limit, lockcloud._core.transport):
        monkeypatch.setattr(module, "time", fake)
        monkeypatch.setattr(module, "asyncio", fake_asyncio)
    return fake


async def run_limiter(limiter: RateLimiter, frozen: FrozenTime, count: int) -> None:
    for _ in range(count):
        async with limiter:
            frozen.starts.append(frozen.now)


async def test_rate_none_never_waits(frozen: FrozenTime) -> None:
    await run_limiter(RateLimiter(rate=None, max_in_flight=None), frozen, 200)
    assert frozen.sleeps == []
    assert frozen.now == 500.0


@pytest.mark.parametrize("rate", [2.0, 10.0, 50.0])
async def test_rate_is_kept_after_the_burst(frozen: FrozenTime, rate: float) -> None:
    count = int(rate * 6)
    await run_limiter(RateLimiter(rate=rate), frozen, count)
    assert frozen.sleeps  # the limiter did make callers wait
    # Past the initial burst (one second's worth), starts are spaced by 1/rate.
    steady = frozen.starts[int(rate) + 1 :]
    gaps = [later - earlier for earlier, later in itertools.pairwise(steady)]
    assert gaps
    assert all(gap == pytest.approx(1 / rate) for gap in gaps)
    # Over any whole second, no more than two seconds' worth (burst + refill) start.
    for start in frozen.starts:
        in_window = sum(1 for other in frozen.starts if start <= other < start + 1.0)
        assert in_window <= 2 * rate + 1


async def test_client_rate_limit_is_wired(frozen: FrozenTime, lockcloud_sim: Simulator) -> None:
    async with lockcloud_sim.client(retry=FAST_RETRY, rate_limit=5.0) as cloud:
        for _ in range(20):
            await cloud.remote_unlock.list_methods(lockcloud_sim.devices["front_door"])
    assert frozen.sleeps
    assert frozen.now - 500.0 == pytest.approx((20 - 6) / 5.0)  # the token call is not limited


async def test_client_without_rate_limit_never_waits(frozen: FrozenTime, lockcloud_sim: Simulator) -> None:
    async with lockcloud_sim.client(retry=FAST_RETRY, rate_limit=None) as cloud:
        for _ in range(20):
            await cloud.remote_unlock.list_methods(lockcloud_sim.devices["front_door"])
    assert frozen.sleeps == []


@pytest.mark.parametrize(
    "options",
    [{"rate": 0}, {"rate": -1.5}, {"max_in_flight": 0}, {"max_in_flight": -3}],
)
def test_invalid_limits_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RateLimiter(**options)


@pytest.mark.parametrize("options", [{"rate_limit": -1.0}, {"max_in_flight": -3}])
def test_client_rejects_invalid_limits(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LockCloud("id", "secret", base_url="https://openapi.test", **options)


@pytest.mark.parametrize("options", [{"rate_limit": 0}, {"max_in_flight": 0}])
def test_client_rejects_zero_limits(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LockCloud("id", "secret", base_url="https://openapi.test", **options)

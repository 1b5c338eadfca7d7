"""Token single-flight: how many token calls 1,000 concurrent callers cause, at first use and at expiry.

1. On ``httpx.MockTransport`` with a simulated 5 ms round trip (without any latency a mock answers before the next
   task runs, and even a naive client would look single-flight). The "server" counts token calls.
   Baseline: a naive async client that checks the token before each call and fetches (or refreshes) one when it
   is missing or about to expire; the check-then-refresh pattern of the official SDKs, ported to asyncio, with
   the same signing and the same expiry rule on the server's clock.
2. On the simulator (loopback, its own process), at expiry only, against ``tuya-connector-python`` (if installed)
   with 1,000 threads sharing one ``TuyaOpenAPI``: the simulator expires every token and the official client's
   token is made to look expired too (its ``expire_time`` set to 0, as two hours would); lockcloud, not told, learns
   it from the 1010 answers. The simulator counts token calls; calls that did not succeed are reported.

    python benchmarks/bench_tokens.py [--quick]
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
import time
from typing import Any

import httpx
from _harness import row, run_standalone, skipped
from _sim_server import SimProcess
from bench_official import NOT_INSTALLED, official_available

from lockcloud import LockCloud
from lockcloud._core.signing import canonical_url, compute_sign, is_token_path, string_to_sign

CALLERS = 1000
BASE = "https://openapi.bench"
PATH = "/v1.0/devices/dev1/door-lock/remote-unlocks"
ROUND_TRIP = 0.005
TOKEN_LIFETIME = 7200
ACCESS_ID = "bench-id"
SECRET = "s" * 32


class MockCloud:
    """A Tuya-like server on MockTransport: counts token calls; its clock can be moved forward."""

    def __init__(self) -> None:
        self.token_calls = 0
        self.clock_shift = 0.0
        self.transport = httpx.MockTransport(self.handle)

    def now_ms(self) -> int:
        return int((time.time() + self.clock_shift) * 1000)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(ROUND_TRIP)
        if is_token_path(request.url.path):
            self.token_calls += 1
            n = self.token_calls
            result: Any = {
                "access_token": f"access-{n}",
                "refresh_token": f"refresh-{n}",
                "expire_time": TOKEN_LIFETIME,
                "uid": "u",
            }
        else:
            result = [{"remote_unlock_type": "remoteUnlockWithoutPwd", "open": True}]
        return httpx.Response(200, json={"success": True, "t": self.now_ms(), "result": result, "tid": "b"})


class NaiveClient:
    """Check-then-refresh before every call, with no coordination between concurrent callers."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._token: dict[str, Any] | None = None
        self._expires_at = 0.0
        self._offset = 0.0  # server clock - local clock, from each answer's t

    async def request(self, method: str, path: str) -> Any:
        if self._token is None or time.time() + self._offset >= self._expires_at - 60:
            await self._renew()
        assert self._token is not None
        return await self._send(method, path, self._token["access_token"])

    async def _renew(self) -> None:
        path = f"/v1.0/token/{self._token['refresh_token']}" if self._token else "/v1.0/token?grant_type=1"
        result, t = await self._send_raw("GET", path, "")
        self._token = result
        self._expires_at = t / 1000 + result["expire_time"]

    async def _send(self, method: str, path: str, access_token: str) -> Any:
        result, _ = await self._send_raw(method, path, access_token)
        return result

    async def _send_raw(self, method: str, path_and_query: str, access_token: str) -> tuple[Any, int]:
        path, _, query = path_and_query.partition("?")
        params = dict(pair.split("=", 1) for pair in query.split("&")) if query else {}
        t = str(int((time.time() + self._offset) * 1000))
        to_sign = string_to_sign(method, b"", canonical_url(path, params))
        headers = {
            "client_id": ACCESS_ID,
            "t": t,
            "sign_method": "HMAC-SHA256",
            "sign": compute_sign(SECRET, ACCESS_ID, t, to_sign, access_token=access_token),
        }
        if access_token:
            headers["access_token"] = access_token
        response = await self._http.request(method, BASE + path, params=params, headers=headers)
        envelope = json.loads(response.content)
        self._offset = envelope["t"] / 1000 - time.time()
        return envelope["result"], envelope["t"]


async def _crowd(call: Any) -> None:
    await asyncio.gather(*(call() for _ in range(CALLERS)))


async def _first_use_and_expiry(make: Any) -> tuple[int, int]:
    """Token calls of ``CALLERS`` concurrent first calls, then of as many after the server's clock moved on."""
    server = MockCloud()
    async with httpx.AsyncClient(transport=server.transport) as http:
        call = await make(http)
        await _crowd(call)
        at_first_use = server.token_calls
        server.clock_shift = TOKEN_LIFETIME  # two hours later, as the server tells time
        await call()  # one answer carries the new time
        before = server.token_calls
        await _crowd(call)
        at_expiry = server.token_calls - before
        await make.close()
    return at_first_use, at_expiry


class _LockCloudSide:
    def __init__(self) -> None:
        self.cloud: LockCloud | None = None

    async def __call__(self, http: httpx.AsyncClient) -> Any:
        self.cloud = LockCloud(ACCESS_ID, SECRET, base_url=BASE, http_client=http)
        cloud = self.cloud
        return lambda: cloud.request("GET", PATH)

    async def close(self) -> None:
        if self.cloud is not None:
            await self.cloud.aclose()


class _NaiveSide:
    async def __call__(self, http: httpx.AsyncClient) -> Any:
        client = NaiveClient(http)
        return lambda: client.request("GET", PATH)

    async def close(self) -> None:
        pass


async def measure_mock() -> list[dict[str, Any]]:
    lockcloud_first, lockcloud_expiry = await _first_use_and_expiry(_LockCloudSide())
    naive_first, naive_expiry = await _first_use_and_expiry(_NaiveSide())
    baseline = "naive async check-then-refresh (same mock, 5 ms round trip)"
    return [
        row(
            f"token calls, {CALLERS:,} concurrent callers at first use",
            lockcloud_first,
            naive_first,
            "calls",
            baseline,
        ),
        row(
            f"token calls, {CALLERS:,} concurrent callers at expiry",
            lockcloud_expiry,
            naive_expiry,
            "calls",
            baseline,
        ),
    ]


async def _lockcloud_at_expiry(sim: SimProcess) -> tuple[int, collections.Counter[str]]:
    async with LockCloud(sim.access_id, sim.access_secret, base_url=sim.base_url) as cloud:
        await cloud.request("GET", _sim_path(sim))
        sim.command("expire")
        sim.command("reset")
        outcomes = await asyncio.gather(
            *(cloud.request("GET", _sim_path(sim)) for _ in range(CALLERS)), return_exceptions=True
        )
        stats = sim.command("stats")
    failures = collections.Counter(
        type(outcome).__name__ for outcome in outcomes if isinstance(outcome, BaseException)
    )
    return stats["token_calls"], failures


def _official_at_expiry(sim: SimProcess) -> tuple[int, collections.Counter[str]]:
    import requests.adapters
    from tuya_connector import TuyaOpenAPI

    api = TuyaOpenAPI(sim.base_url, sim.access_id, sim.access_secret)
    api.session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=100))
    assert api.connect()["success"]
    assert api.get(_sim_path(sim))["success"]
    sim.command("expire")
    api.token_info.expire_time = 0  # what two hours do to its own bookkeeping
    sim.command("reset")
    start = threading.Barrier(CALLERS)
    answers: list[Any] = [None] * CALLERS

    def caller(index: int) -> None:
        start.wait()
        try:
            answers[index] = api.get(_sim_path(sim))
        except Exception as exc:
            answers[index] = exc

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = sim.command("stats")
    api.session.close()
    failures = collections.Counter(
        f"code {answer.get('code')}" if isinstance(answer, dict) else type(answer).__name__
        for answer in answers
        if not isinstance(answer, dict) or answer.get("success") is not True
    )
    return stats["token_calls"], failures


def _failures(counts: collections.Counter[str]) -> str:
    total = sum(counts.values())
    if not total:
        return f"0 of {CALLERS:,}"
    kinds = ", ".join(f"{count} x {kind}" for kind, count in counts.most_common())
    return f"{total} of {CALLERS:,} ({kinds})"


def _sim_path(sim: SimProcess) -> str:
    return f"/v1.0/devices/{sim.info['devices']['front_door']}/door-lock/remote-unlocks"


async def measure_simulator(sim: SimProcess) -> list[dict[str, Any]]:
    figure = f"token calls, {CALLERS:,} concurrent callers at expiry, simulator"
    if not official_available():
        return [skipped(figure, NOT_INSTALLED)]
    lockcloud_calls, lockcloud_failures = await _lockcloud_at_expiry(sim)
    official_calls, official_failures = _official_at_expiry(sim)
    note = (
        f"calls that failed: lockcloud {_failures(lockcloud_failures)}; "
        f"tuya-connector-python {_failures(official_failures)}"
    )
    return [
        row(
            figure,
            lockcloud_calls,
            official_calls,
            "calls",
            f"tuya-connector-python, {CALLERS:,} threads",
            note=note,
        )
    ]


async def measure(quick: bool = False) -> list[dict[str, Any]]:
    rows = await measure_mock()
    if official_available():
        with SimProcess() as sim:
            rows += await measure_simulator(sim)
    else:
        rows.append(
            skipped(f"token calls, {CALLERS:,} concurrent callers at expiry, simulator", NOT_INSTALLED)
        )
    return rows


def main() -> None:
    run_standalone(measure, __doc__ or "")


if __name__ == "__main__":
    main()

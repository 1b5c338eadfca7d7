"""100 guest codes on 100 Zigbee locks at once: lockcloud (asyncio tasks) against the official SDK (threads).

Each code is the whole flow: fetch a password ticket, decrypt its key, seal the PIN, create the temporary code,
then poll it until the lock confirms delivery (the simulated Zigbee locks answer ``DELIVERY_DELAY`` seconds after
creation). lockcloud does it with ``cloud.access_codes.create(...)`` and ``await delivery.delivered()`` from 100
tasks sharing one client; ``tuya-connector-python`` does the same calls from 100 threads sharing one
``TuyaOpenAPI``, sealing the PIN with pycryptodome, polling at the same interval. The simulator runs in a process
of its own. Figures: wall time per batch of 100 (as codes/s) and the client process's CPU time per code; sides
alternate, medians of the rounds are reported.

``tuya-connector-python`` is not a lockcloud dependency: ``nox -s bench`` installs it. Without it this figure is
skipped with a message.

    python benchmarks/bench_access_codes.py [--quick]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import statistics
import subprocess
import sys
import threading
import time
from typing import Any

from _harness import rate_and_cpu_rows, run_standalone, skipped

from lockcloud import LockCloud

FIGURE = "100 guest codes on 100 locks vs tuya-connector-python"
NOT_INSTALLED = (
    "tuya-connector-python is not installed (nox -s bench installs it; or pip install tuya-connector-python)"
)
LOCKS = 100
DELIVERY_DELAY = 0.2
POLL = 0.05
ACCESS_ID = "benchaccesscodes0000"
SECRET = "0123456789abcdefGHIJKLMNOPqrstuv"


def _serve() -> None:
    """The child process: a simulator with ``LOCKS`` Zigbee locks, served until stdin closes."""
    from lockcloud.sim import LockKind, Simulator, running

    async def main() -> None:
        sim = Simulator(ACCESS_ID, SECRET, seed=False)
        sim.world.access_codes.delivery_delay = DELIVERY_DELAY
        devices = [sim.add_lock(LockKind.ZIGBEE, f"benchlock{n:03d}").device_id for n in range(LOCKS)]
        async with running(sim, broker=False, backlog=1024) as server:
            print(json.dumps({"base_url": server.base_url, "devices": devices}), flush=True)
            await asyncio.to_thread(sys.stdin.read)

    asyncio.run(main())


class _Server:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        info = json.loads(self.process.stdout.readline())
        self.base_url: str = info["base_url"]
        self.devices: list[str] = info["devices"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _window() -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(minutes=5), now + dt.timedelta(days=1)


async def lockcloud_round(cloud: LockCloud, devices: list[str], batch: int) -> tuple[float, float]:
    start, end = _window()

    async def one(index: int, device: str) -> None:
        delivery = await cloud.access_codes.create(
            device,
            name=f"bench {batch}",
            pin=f"{batch:02d}{index:04d}",
            valid_from=start,
            valid_until=end,
            radio="zigbee",
        )
        await delivery.delivered(timeout=30, poll_interval=POLL)

    cpu, wall = time.process_time(), time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for index, device in enumerate(devices):
            group.create_task(one(index, device))
    return time.perf_counter() - wall, time.process_time() - cpu


def _seal(ticket_key_hex: str, pin: str) -> str:
    from Crypto.Cipher import AES
    from Crypto.Util.Padding import pad, unpad

    key = unpad(AES.new(SECRET.encode(), AES.MODE_ECB).decrypt(bytes.fromhex(ticket_key_hex)), 16)
    return AES.new(key, AES.MODE_ECB).encrypt(pad(pin.encode(), 16)).hex().upper()


def official_round(api: Any, devices: list[str], batch: int) -> tuple[float, float]:
    start, end = (int(moment.timestamp()) for moment in _window())
    failures: list[object] = []
    gate = threading.Barrier(len(devices) + 1)

    def one(index: int, device: str) -> None:
        gate.wait()
        try:
            create_and_wait(index, device)
        except Exception as error:
            failures.append(error)

    def create_and_wait(index: int, device: str) -> None:
        ticket = api.post(f"/v1.0/devices/{device}/door-lock/password-ticket")
        body = {
            "name": f"bench {batch}",
            "password": _seal(ticket["result"]["ticket_key"], f"{batch:02d}{index:04d}"),
            "password_type": "ticket",
            "ticket_id": ticket["result"]["ticket_id"],
            "effective_time": start,
            "invalid_time": end,
            "type": 0,
        }
        created = api.post(f"/v1.0/devices/{device}/door-lock/temp-password", body)
        if not created.get("success"):
            failures.append(created)
            return
        path = f"/v1.0/devices/{device}/door-lock/temp-password/{created['result']['id']}"
        while True:
            answer = api.get(path)
            if answer.get("result", {}).get("delivery_status") == 2:
                return
            time.sleep(POLL)

    threads = [threading.Thread(target=one, args=(i, d)) for i, d in enumerate(devices)]
    for thread in threads:
        thread.start()
    cpu, wall = time.process_time(), time.perf_counter()
    gate.wait()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"tuya-connector-python calls failed: {failures[0]}")
    return time.perf_counter() - wall, time.process_time() - cpu


def _official(base_url: str) -> Any:
    import logging

    import requests.adapters
    from tuya_connector import TuyaOpenAPI
    from urllib3.util.retry import Retry

    logging.getLogger("tuya iot").disabled = True  # it logs every answer, ticket keys included
    api = TuyaOpenAPI(base_url, ACCESS_ID, SECRET)
    # A pool as large as the concurrency, as a careful user would set it, so it is not penalised; and retries of a
    # pooled connection the server had already closed (requests does not retry a POST on its own), which a burst
    # of 100 threads otherwise meets now and then. Fine for a benchmark; replaying a create in real use could make
    # a second code, which is exactly what lockcloud refuses to do.
    retry = Retry(total=3, connect=3, read=3, allowed_methods=None, backoff_factor=0)
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=LOCKS, max_retries=retry)
    api.session.mount("http://", adapter)
    if not api.connect().get("success"):
        raise RuntimeError("tuya-connector-python could not get a token from the simulator")
    return api


async def measure(quick: bool = False) -> list[dict[str, Any]]:
    if importlib.util.find_spec("tuya_connector") is None:
        return [skipped(FIGURE, NOT_INSTALLED)]
    rounds = 2 if quick else 4
    server = _Server()
    try:
        api = _official(server.base_url)
        wall: dict[str, list[float]] = {"lockcloud": [], "official": []}
        cpu: dict[str, list[float]] = {"lockcloud": [], "official": []}
        async with LockCloud(ACCESS_ID, SECRET, base_url=server.base_url) as cloud:
            await lockcloud_round(cloud, server.devices, 0)  # warm-up: connections, token
            await asyncio.to_thread(official_round, api, server.devices, 1)
            for batch in range(rounds):
                for side in ("lockcloud", "official") if batch % 2 == 0 else ("official", "lockcloud"):
                    number = 2 + 2 * batch + (side == "official")
                    if side == "lockcloud":
                        spent, used = await lockcloud_round(cloud, server.devices, number)
                    else:
                        spent, used = await asyncio.to_thread(official_round, api, server.devices, number)
                    wall[side].append(spent / LOCKS)
                    cpu[side].append(used / LOCKS)
        api.session.close()
    finally:
        server.close()
    note = (
        f"ticket, seal, create, await delivery (Zigbee locks answer after {DELIVERY_DELAY:g} s, polled every "
        f"{POLL:g} s); medians of {rounds} rounds; lockcloud batch {statistics.median(wall['lockcloud']) * LOCKS:.2f} s"
    )
    return rate_and_cpu_rows(
        FIGURE,
        "code",
        wall,
        cpu,
        ("lockcloud", "official"),
        f"tuya-connector-python, {LOCKS} threads",
        note=note,
    )


def main() -> None:
    run_standalone(measure, __doc__ or "")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        _serve()
    else:
        main()

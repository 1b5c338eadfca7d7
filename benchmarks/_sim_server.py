"""The simulator served over loopback in a process of its own, so that it never shares a GIL with a client.

Run as ``python benchmarks/_sim_server.py``: prints one JSON line (``base_url``, credentials, device and user ids),
then answers commands on stdin, one per line, each with one JSON line:

* ``stats``: ``{"requests": n, "token_calls": n, "codes": {code: count}}`` since the last ``reset``;
* ``reset``: forget the request log;
* ``expire``: expire every access token now (business calls get 1010);
* ``latency SECONDS``: answer every call that much later (a network's round trip; the server's CPU stays free);
* ``grant_replaces 1`` / ``grant_replaces 0``: whether a new grant retires every other token (``Faults``);
* ``backfill N``: write N fingerprint unlocks, one a second, into the back door's history (no pushes);
* ``quit`` (or end of input): stop.

:class:`SimProcess` starts and drives it from a benchmark.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import json
import subprocess
import sys
import threading
from types import TracebackType
from typing import Any, Self

ACCESS_ID = "benchsimprojectid000"
SECRET = "0123456789abcdefGHIJKLMNOPqrstuv"


class SimProcess:
    """A running ``_sim_server.py`` child process."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process exited before it was ready")
        self.info: dict[str, Any] = json.loads(line)
        self.base_url: str = self.info["base_url"]
        self.access_id: str = self.info["access_id"]
        self.access_secret: str = self.info["access_secret"]
        self.pid = self._process.pid

    def command(self, name: str) -> dict[str, Any]:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(name + "\n")
        self._process.stdin.flush()
        answer: dict[str, Any] = json.loads(self._process.stdout.readline())
        return answer

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _backfill(simulator: Any, device_id: str, count: int) -> None:
    for index in range(count):
        simulator.unlock_at_door(device_id, "fingerprint", 1, at=1_790_000_000 + index)


async def _serve() -> None:
    from lockcloud.sim import Simulator, running

    simulator = Simulator(ACCESS_ID, SECRET)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def run_on_loop(func: Any) -> None:
        ready = threading.Event()

        def call() -> None:
            try:
                func()
            finally:
                ready.set()

        loop.call_soon_threadsafe(call)
        ready.wait()

    def stats() -> dict[str, Any]:
        records = list(simulator.requests)
        codes = collections.Counter(str(r.code) for r in records if r.code is not None)
        token_calls = sum(1 for r in records if r.path == "/v1.0/token" or r.path.startswith("/v1.0/token/"))
        return {"requests": len(records), "token_calls": token_calls, "codes": dict(codes)}

    def commands() -> None:
        for line in sys.stdin:
            name = line.strip()
            if name == "quit":
                break
            if name == "stats":
                answer: dict[str, Any] = stats()
            elif name == "reset":
                run_on_loop(simulator.requests.clear)
                answer = {"ok": True}
            elif name == "expire":
                run_on_loop(simulator.expire_tokens)
                answer = {"ok": True}
            elif name.startswith("grant_replaces "):
                replaces = name.split()[1] == "1"
                run_on_loop(functools.partial(setattr, simulator.faults, "grant_replaces_token", replaces))
                answer = {"ok": True}
            elif name.startswith("backfill "):
                back = simulator.devices["back_door"]
                run_on_loop(functools.partial(_backfill, simulator, back, int(name.split()[1])))
                answer = {"ok": True, "device_id": back}
            elif name.startswith("latency "):
                seconds = float(name.split()[1])
                run_on_loop(functools.partial(setattr, simulator.faults, "latency", seconds))
                answer = {"ok": True}
            else:
                answer = {"error": f"unknown command {name!r}"}
            print(json.dumps(answer), flush=True)
        loop.call_soon_threadsafe(done.set)

    # A deep accept queue: the token benchmark opens 1,000 connections at once.
    async with running(simulator, broker=False, backlog=2048) as server:
        print(
            json.dumps(
                {
                    "base_url": server.base_url,
                    "access_id": simulator.access_id,
                    "access_secret": simulator.access_secret,
                    "devices": simulator.devices,
                    "home_user": simulator.home_user,
                    "guest_user": simulator.guest_user,
                }
            ),
            flush=True,
        )
        threading.Thread(target=commands, name="commands", daemon=True).start()
        await done.wait()


if __name__ == "__main__":
    asyncio.run(_serve())

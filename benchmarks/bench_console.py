"""What an open simulator console costs the app under test: REST per-call time with a console page watching (its
server-sent event stream open, a fresh snapshot after every change) against the same server with none open.

The simulator is ``lockcloud sim serve --no-broker`` in a process of its own; the console's stream is read by
another process (what a browser tab does); the client here sends ``GET .../assigned-keys`` one at a time. Rounds
alternate between a stream open and none, on the same server, so the ratio is the console's cost alone.

    python benchmarks/bench_console.py [--quick]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from _harness import row, run_standalone

from lockcloud import LockCloud

_READER = """
import sys, httpx
with httpx.stream("GET", sys.argv[1], timeout=None) as response:
    seen = 0
    for line in response.iter_lines():
        if line.startswith("data: "):
            seen += 1
            if seen == 1:
                print("ready", flush=True)
"""


def _events_url(console_url: str) -> str:
    base, token = console_url.split("/console/?token=")
    return f"{base}/console/api/events?token={token}"


def _start_server() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "lockcloud", "sim", "serve", "--no-broker", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    return server, json.loads(server.stdout.readline())


def _start_reader(events: str) -> subprocess.Popen[str]:
    """A process reading the console's event stream, as a browser tab does; returns once it got a snapshot."""
    reader = subprocess.Popen([sys.executable, "-c", _READER, events], stdout=subprocess.PIPE, text=True)
    assert reader.stdout is not None
    assert reader.stdout.readline().strip() == "ready"
    return reader


async def measure(quick: bool = False) -> list[dict[str, Any]]:
    import statistics

    rounds, per_round = (6, 100) if quick else (14, 300)
    server, served = _start_server()
    events = _events_url(served["console_url"])
    front = served["devices"]["front_door"]
    watched: list[float] = []
    alone: list[float] = []
    try:
        async with LockCloud(
            served["access_id"], served["access_secret"], base_url=served["base_url"]
        ) as cloud:

            async def call() -> None:
                await cloud.unlock_methods.list_assigned(front, "sim-alice", 1)

            for _ in range(100):
                await call()
            for index in range(rounds * 2):
                with_console = index % 4 in (0, 3)  # ABBA order: drift hits both sides alike
                reader = _start_reader(events) if with_console else None
                started = time.perf_counter()
                for _ in range(per_round):
                    await call()
                elapsed = (time.perf_counter() - started) / per_round
                (watched if with_console else alone).append(elapsed)
                if reader is not None:
                    reader.terminate()
                    reader.wait(10)
    finally:
        server.terminate()
        server.wait(15)
    subject, baseline = statistics.median(watched), statistics.median(alone)
    return [
        row(
            "REST call, simulator console open (1 event stream) vs none",
            subject * 1000,
            baseline * 1000,
            "ms/call",
            "same server, no console page open",
            note=f"{rounds} rounds of {per_round} sequential GET assigned-keys per side, alternating",
        )
    ]


def main() -> None:
    run_standalone(measure, __doc__ or "")


if __name__ == "__main__":
    main()

"""Push events over WebSocket against the native Pulsar source: events/s and client CPU per event, same backlog.

``lockcloud sim serve`` runs in a process of its own (its broker, and its WebSocket consumer endpoint bridging to
that broker, as Tuya's port 8285 service fronts its brokers). One backlog of ``doorUnlockMethodStatus`` messages is
published once; every round drains it into typed events through a subscription of its own, created before the
backlog, alternating a ``WebSocketSource`` and a ``PulsarSource`` (native pulsar-client) under the same
``EventStream``. Reported: events per second from the open stream to the last event (wall clock, the bridge's hop
included; opening is in the note, closing is left out: pulsar-client's close waits for its threads) and this
process's CPU per event over the same span (``time.process_time``: decode, dedupe, acks, and the transport's own
client work).

    python benchmarks/bench_websocket.py [--quick]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import pulsar
from _harness import rate_and_cpu_rows, run_standalone, take
from bench_decode import ACCESS_ID, SECRET, _publish_backlog

from lockcloud._core.wire import topic_for
from lockcloud.events import EnrollmentProgress, EventStream
from lockcloud.events._options import pulsar_stream, websocket_stream
from lockcloud.events._pulsar import native_threads, threads_alive

#: The simulator's topic: the project's default env, GCM like a default Tuya project.
TOPIC = topic_for(ACCESS_ID)
_ENV = "event"
_SIM_SERVE = [sys.executable, "-m", "lockcloud", "sim", "serve", "--json"]


def _serve() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    server = subprocess.Popen(
        [*_SIM_SERVE, "--access-id", ACCESS_ID, "--access-secret", SECRET],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    return server, json.loads(server.stdout.readline())


def _create_subscriptions(url: str, names: list[str]) -> None:
    # Before the backlog, so that every subscription holds all of it (a WebSocket consumer starts at the latest).
    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    for name in names:
        client.subscribe(TOPIC, name, consumer_type=pulsar.ConsumerType.Failover).close()
    client.close()


async def _drain(stream: EventStream, count: int) -> tuple[float, float, float]:
    """Open ``stream`` and take ``count`` events: (seconds to open, seconds to drain, CPU seconds to drain)."""
    started = time.perf_counter()
    async with stream:
        opened, opened_cpu = time.perf_counter(), time.process_time()
        await take(stream, count, EnrollmentProgress)
        drained, drained_cpu = time.perf_counter(), time.process_time()
    return opened - started, drained - opened, drained_cpu - opened_cpu


def measure(quick: bool = False) -> list[dict[str, Any]]:
    messages, rounds = (1_000, 2) if quick else (3_000, 4)
    server, info = _serve()
    before = native_threads()
    try:
        sides = ("websocket", "native")
        names = {side: [f"bench-{side}-{index}" for index in range(rounds + 1)] for side in sides}
        _create_subscriptions(info["pulsar_url"], [name for side in sides for name in names[side]])
        _publish_backlog(info["pulsar_url"], _ENV, messages, "aes_gcm")

        def stream(side: str, subscription: str) -> EventStream:
            if side == "websocket":
                return websocket_stream(
                    ACCESS_ID,
                    SECRET,
                    {"url": info["websocket_url"], "subscription": subscription, "buffer_size": 500},
                )
            return pulsar_stream(
                ACCESS_ID,
                SECRET,
                {
                    "url": info["pulsar_url"],
                    "subscription": subscription,
                    "buffer_size": 500,
                    "pulsar_log_level": "error",
                },
            )

        wall: dict[str, list[float]] = {side: [] for side in sides}
        cpu: dict[str, list[float]] = {side: [] for side in sides}
        opens: dict[str, list[float]] = {side: [] for side in sides}

        async def run_rounds() -> None:
            for side in sides:  # warm-up, on the extra subscription
                await asyncio.wait_for(_drain(stream(side, names[side][rounds]), messages), 300)
            for index in range(rounds):
                order = list(sides) if index % 2 == 0 else list(reversed(sides))
                for side in order:
                    opening, draining, draining_cpu = await asyncio.wait_for(
                        _drain(stream(side, names[side][index]), messages), 300
                    )
                    opens[side].append(opening)
                    wall[side].append(draining / messages)
                    cpu[side].append(draining_cpu / messages)

        asyncio.run(run_rounds())
    finally:
        server.terminate()
        server.wait(30)
        # pulsar-client may abort the interpreter at exit while a closed client's thread is still finishing.
        deadline = time.monotonic() + 2
        while threads_alive(native_threads() - before) and time.monotonic() < deadline:
            time.sleep(0.001)
    rate = {side: 1 / statistics.median(values) for side, values in wall.items()}
    opening = {side: statistics.median(values) for side, values in opens.items()}
    figure = f"push events over WebSocket, {messages:,}-message backlog"
    note = (
        f"{rounds} rounds per side, alternating; the simulator (broker + WebSocket bridge) in another process;"
        f" timed from the open stream to the last event: native {rate['native']:,.0f} events/s, WebSocket"
        f" {rate['websocket']:,.0f} events/s; opening took {opening['native'] * 1000:,.0f} ms (native) and"
        f" {opening['websocket'] * 1000:,.0f} ms (WebSocket)"
    )
    return rate_and_cpu_rows(
        figure, "event", wall, cpu, ("websocket", "native"), "native Pulsar source", note=note
    )


if __name__ == "__main__":
    run_standalone(measure, __doc__ or "")

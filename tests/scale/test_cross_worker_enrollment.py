"""An enrollment started in web worker A of 4 completes through the relay, fed by listeners in other processes.

The simulator is served over loopback (uvicorn + pulsar-lite, Tuya's 11 partitions); two listener processes
forward the subscription to a real redis-server; four web-worker processes read the relay. No worker consumes
Pulsar at all: whatever progress worker A sees came from the listener that owns the lock's partition, and every
other worker sees the same progress (fan-out).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lockcloud._core.wire import topic_for
from lockcloud.sim import running

pytestmark = [pytest.mark.broker, pytest.mark.slow]


async def test_enrollment_in_worker_a_completes_through_the_relay(
    redis_server: Any, tmp_path: Path, spawn: Callable[..., Any]
) -> None:
    async with running(press_interval=0.2, data_dir=tmp_path / "sim") as server:
        sim = server.simulator
        device = server.devices["front_door"]
        user = sim.home_user
        assert user is not None
        assert server.pulsar_url is not None
        listeners = []
        for index in range(2):
            name = f"listener-{index}"
            listener = spawn(
                "listener_process.py",
                "relay",
                server.pulsar_url,
                name,
                "--access-id",
                server.access_id,
                "--secret",
                server.access_secret,
                "--relay",
                redis_server.url,
                "--log",
                str(tmp_path / f"{name}.pulsar.log"),
                err=tmp_path / f"{name}.err",
            )
            listeners.append(listener)
            assert listener.line() == {"ready": name}  # one at a time (pulsar-lite consumer ids)
        workers = [
            spawn(
                "web_worker.py",
                server.base_url,
                redis_server.url,
                server.access_id,
                server.access_secret,
                device,
                user,
                err=tmp_path / f"worker-{index}.err",
            )
            for index in range(4)
        ]
        for worker in workers:
            assert await asyncio.to_thread(worker.line) == {"ready": True}

        worker_a, *others = workers
        for worker in others:
            worker.send("watch")
        worker_a.send("enroll")
        # The simulator is served by this event loop: the blocking pipe reads run in threads.
        enrolled = await asyncio.to_thread(worker_a.lines_until, "result")
        watched = [await asyncio.to_thread(worker.lines_until, "result") for worker in others]

        # All at once: a listener left alone would be handed the other's partitions, and their backlog again.
        for listener in listeners:
            listener.terminate()
        stats = [await asyncio.to_thread(listener.stats) for listener in listeners]

    *progress, result = enrolled
    assert result == {"result": "completed", "key": True}
    periods = [line["period"] for line in progress]
    assert periods, "worker A saw no live progress"
    assert periods == sorted(periods, reverse=True)
    assert progress[-1]["finish"] is True
    # The enrolling worker saw the pushes as they came; the three others saw the very same messages.
    for lines in watched:
        assert lines[-1] == {"result": "watched"}
        assert [line["message_id"] for line in lines[:-1]][-len(progress) :] == [
            line["message_id"] for line in progress
        ]
    # The lock's partition was relayed by one listener, a process of its own.
    partition = int(progress[0]["message_id"].strip("()").split(",")[2])
    partition_topic = f"persistent://{topic_for(server.access_id)}-partition-{partition}"
    owners = [index for index, stat in enumerate(stats) if stat["partitions"].get(partition_topic)]
    assert len(owners) == 1, stats

"""An enrollment started in web worker A of 4 completes through the relay, fed by listeners in other processes.

The simulator is served over loopback (uvicorn + pulsar-lite, Tuya's 11 partitions); two listener processes
forward the subscription to a real redis-server; four web-worker processes read the relay. No worker consumes
Pulsar at all: whatever progress worker A sees came from the listener that owns the lock's partition, and every
other worker sees the same progress (fan-out).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from lockcloud._wire import topic_for
from lockcloud.sim import running

pytestmark = [pytest.mark.broker, pytest.mark.slow]

SCRIPT = Path(__file__).with_name("relay_process.py")
TIMEOUT = 120


class Process:
    def __init__(self, arguments: list[str], err: Path) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.err = err
        self.popen = subprocess.Popen(
            [sys.executable, str(SCRIPT), *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err.open("wb"),
            env=env,
        )

    def line(self) -> dict[str, Any]:
        stdout: IO[bytes] | None = self.popen.stdout
        assert stdout is not None
        text = stdout.readline()
        assert text, f"process ended early: {self.err.read_text(errors='replace')[-3000:]}"
        return json.loads(text)

    def lines_until(self, key: str) -> list[dict[str, Any]]:
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if key in line:
                return lines

    def send(self, command: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(command.encode() + b"\n")
        self.popen.stdin.flush()

    def end(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(30)


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.end()


async def test_enrollment_in_worker_a_completes_through_the_relay(
    redis_server: Any, tmp_path: Path, processes: list[Process]
) -> None:
    async with running(press_interval=0.2, data_dir=tmp_path / "sim") as server:
        sim = server.simulator
        device = server.devices["front_door"]
        user = sim.home_user
        assert user is not None
        assert server.pulsar_url is not None
        listeners = []
        for index in range(2):
            listener = Process(
                [
                    "listen",
                    server.pulsar_url,
                    redis_server.url,
                    f"listener-{index}",
                    server.access_id,
                    server.access_secret,
                    str(tmp_path / f"listener-{index}.pulsar.log"),
                ],
                tmp_path / f"listener-{index}.err",
            )
            processes.append(listener)
            listeners.append(listener)
            assert listener.line() == {
                "ready": f"listener-{index}"
            }  # one at a time (pulsar-lite consumer ids)
        workers = []
        for index in range(4):
            worker = Process(
                [
                    "web",
                    server.base_url,
                    redis_server.url,
                    server.access_id,
                    server.access_secret,
                    device,
                    user,
                ],
                tmp_path / f"worker-{index}.err",
            )
            processes.append(worker)
            workers.append(worker)
        for worker in workers:
            assert await asyncio.to_thread(worker.line) == {"ready": True}

        worker_a, *others = workers
        for worker in others:
            worker.send("watch")
        worker_a.send("enroll")
        # The simulator is served by this event loop: the blocking pipe reads run in threads.
        enrolled = await asyncio.to_thread(worker_a.lines_until, "result")
        watched = [await asyncio.to_thread(worker.lines_until, "result") for worker in others]

        for listener in listeners:
            listener.popen.terminate()
        stats = [(await asyncio.to_thread(listener.lines_until, "relayed"))[-1] for listener in listeners]

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

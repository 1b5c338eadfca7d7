"""Five ``lockcloud listen`` processes started together on one Failover subscription of Tuya's 11-partition topic.

Real parts only: a pulsar-lite broker, and the CLI as OS processes. On pulsar-lite the consumers of every process
start with the same ids and collide, so all but one have to try again; what must hold: every listener announces
that it is subscribed (its "ready" document) rather than giving up, and no message is delivered by two of them
while all of them live (a subscribe that was given up on must not linger in pulsar-client and take partitions).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pulsar
import pytest

from lockcloud._core.wire import subscription_for, topic_for
from lockcloud.sim.broker import LocalBroker
from lockcloud.testing import PushBuilder

from support import ACCESS_SECRET, project_access_id

pytestmark = [pytest.mark.broker, pytest.mark.slow]

ACCESS_ID = project_access_id("crowd")
TOPIC = topic_for(ACCESS_ID)
BUILD = PushBuilder(ACCESS_SECRET)
LISTENERS = 5
MESSAGES = 200
#: A guard against a hung process, not a measurement: every wait below ends as soon as its condition holds.
GUARD = float(os.environ.get("SCALE_DEADLINE", "180"))


class Listener:
    """One ``lockcloud listen --json`` process and the documents it printed, read by a thread of its own."""

    def __init__(self, index: int, url: str, err: Path) -> None:
        self.index = index
        self.err = err
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lockcloud",
                "listen",
                "--json",
                "--access-id",
                ACCESS_ID,
                "--access-secret",
                ACCESS_SECRET,
                "--pulsar-url",
                url,
                "--connect-timeout",
                "10",
                "--duration",
                str(GUARD),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err.open("wb"),
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONUNBUFFERED": "1"},
        )
        self.documents: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self.lock:
                self.documents.append(json.loads(line))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [document for document in self.documents if document.get("type") == kind]

    def event_ids(self) -> list[str]:
        with self.lock:
            return [document["message_id"] for document in self.documents if "message_id" in document]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(30)


def _wait_for(condition: Any, what: str, listeners: list[Listener]) -> None:
    deadline = time.monotonic() + GUARD
    while not condition():
        for listener in listeners:
            assert listener.popen.poll() is None, (
                f"listener {listener.index} ended while waiting for {what}: "
                f"{listener.err.read_text(errors='replace')[-2000:]}"
            )
        assert time.monotonic() < deadline, f"no {what} within the guard of {GUARD:g} s"
        time.sleep(0.05)


def test_five_listeners_started_together_all_subscribe_and_never_share_a_message(tmp_path: Path) -> None:
    with LocalBroker(tmp_path / "broker", partitioned_topics={TOPIC: 11}) as broker:
        listeners = [
            Listener(index, broker.url, tmp_path / f"listener-{index}.err") for index in range(LISTENERS)
        ]
        try:
            _wait_for(
                lambda: all(listener.of_type("ready") for listener in listeners), "readiness", listeners
            )
            for listener in listeners:
                (ready,) = listener.of_type("ready")
                assert ready["transport"] == "pulsar"
                assert ready["topic"] == TOPIC
                assert ready["subscription"] == subscription_for(ACCESS_ID)

            client = pulsar.Client(broker.url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
            try:
                producer = client.create_producer(TOPIC, batching_enabled=False)
                for index in range(MESSAGES):
                    device = f"lock-{index % 20:02d}"
                    payload, properties = BUILD.encode(BUILD.enrollment(device, index))
                    producer.send(payload, properties=properties, partition_key=device)
            finally:
                client.close()

            def every_message_arrived() -> bool:
                return len({i for listener in listeners for i in listener.event_ids()}) >= MESSAGES

            _wait_for(every_message_arrived, f"all {MESSAGES} messages", listeners)
            time.sleep(1.0)  # anything delivered twice would show up meanwhile
            assert all(listener.popen.poll() is None for listener in listeners)
            owners: dict[str, list[int]] = {}
            for listener in listeners:
                for message_id in set(listener.event_ids()):
                    owners.setdefault(message_id, []).append(listener.index)
            shared = {message_id: who for message_id, who in owners.items() if len(who) > 1}
            assert not shared, (
                f"{len(shared)} messages delivered by two live listeners: {list(shared.items())[:5]}"
            )
            assert len(owners) == MESSAGES
        finally:
            for listener in listeners:
                listener.stop()

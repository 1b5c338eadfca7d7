"""Listeners on Tuya's 11-partition topic, and the relay's latency.

* events/s drained by 1, 2 and 3 listener processes (``EventStream`` each) on one Failover subscription of an
  11-partition topic, against the same number of bare ``pulsar.asyncio`` consumers (receive, fire-and-forget ack), a fresh broker
  for each figure and side; time from the first message produced to the last one taken.
* relay latency, p50 and p99, from the broker to a worker awaiting the event: a ``RedisRelayForwarder`` in a
  process of its own, the reader an ``EventStream(RedisRelaySource(...))`` in this one; against an ``EventStream`` reading
  the broker directly (the latency the relay adds to). Messages carry their send time; paced at 100 msg/s.

Run alone: ``python benchmarks/bench_listeners.py [--quick]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pulsar
from _harness import row, run_standalone, skipped

from lockcloud.crypto import encrypt_message
from lockcloud.sim.broker import TUYA_PARTITIONS, LocalBroker

# The scale tests' listener, run by path: the benchmark measures the very process the failover tests exercise.
LISTENER = Path(__file__).parents[1] / "tests" / "scale" / "listener_process.py"
ACCESS_ID = "benchlisteners000"
SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
TOPIC = f"{ACCESS_ID}/out/event"
DEVICES = [f"lock-{index:02d}" for index in range(30)]


def envelope(device: str, data_id: str, sent_ns: int = 0) -> bytes:
    body = {
        "dataId": data_id,
        "devId": device,
        "productKey": "pk",
        "status": [{"code": "c", "value": sent_ns, "t": 1}],
    }
    data = encrypt_message(json.dumps(body).encode(), SECRET, "aes_gcm")
    return json.dumps({"data": data, "protocol": 4, "pv": "2.0", "sign": "s", "t": 1}).encode()


def _listener(role: str, url: str, name: str, *options: str) -> subprocess.Popen[bytes]:
    """A ``listener_process.py`` process of ``role``, once it has said it is subscribed."""
    process = _spawn(
        [
            sys.executable,
            str(LISTENER),
            role,
            url,
            name,
            "--access-id",
            ACCESS_ID,
            "--secret",
            SECRET,
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    if json.loads(process.stdout.readline() or b"null") != {"ready": name}:
        process.kill()
        process.wait()
        raise RuntimeError(f"{role} listener {name} did not start")
    return process


class _Worker:
    def __init__(self, mode: str, url: str, name: str) -> None:
        self.popen = _listener(mode, url, name, "--counts")
        self.count = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            taken = json.loads(line)
            if isinstance(taken, int):
                self.count = taken

    def kill(self) -> None:
        self.popen.kill()
        self.popen.wait()


def _drain_rate(mode: str, listeners: int, messages: int) -> float:
    workdir = Path(tempfile.mkdtemp(prefix="bench-listeners-"))
    try:
        with LocalBroker(workdir / "broker", partitioned_topics={TOPIC: TUYA_PARTITIONS}) as broker:
            workers = [_Worker(mode, broker.url, f"listener-{index}") for index in range(listeners)]
            try:
                client = pulsar.Client(broker.url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
                producer = client.create_producer(TOPIC, batching_enabled=False)
                payloads = [(DEVICES[n % 30], envelope(DEVICES[n % 30], str(n))) for n in range(messages)]
                started = time.perf_counter()
                for index, (device, payload) in enumerate(payloads, 1):
                    producer.send_async(payload, None, properties={"em": "aes_gcm"}, partition_key=device)
                    if index % 500 == 0:
                        producer.flush()
                producer.flush()
                deadline = started + 300
                while sum(worker.count for worker in workers) < messages:
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"{mode}: {sum(w.count for w in workers)} of {messages} in 300 s")
                    time.sleep(0.01)
                elapsed = time.perf_counter() - started
                client.close()
            finally:
                for worker in workers:
                    worker.kill()
        return messages / elapsed
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _latencies(stream: Any, url: str, count: int) -> list[float]:
    from lockcloud.events import StatusReport

    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    producer = client.create_producer(TOPIC, batching_enabled=False)

    def produce() -> None:
        for n in range(count):
            device = DEVICES[n % 30]
            producer.send(
                envelope(device, f"lat-{n}", time.time_ns()),
                properties={"em": "aes_gcm"},
                partition_key=device,
            )
            time.sleep(0.01)

    latencies: list[float] = []
    sending = asyncio.create_task(asyncio.to_thread(produce))
    async with asyncio.timeout(120):
        while len(latencies) < count:
            event = await anext(stream)
            assert isinstance(event, StatusReport)
            latencies.append((time.time_ns() - int(event.status[0].value)) / 1e9)
    await sending
    client.close()
    return latencies


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _relay_latency(count: int) -> tuple[list[float], list[float], str]:
    from lockcloud.events import EventStream, PulsarOptions, PulsarSource, RedisRelaySource

    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        raise RuntimeError("redis-server is not installed")
    workdir = Path(tempfile.mkdtemp(prefix="bench-relay-"))
    port = _free_port()
    redis = _spawn(
        [
            redis_binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    redis_url = f"redis://127.0.0.1:{port}/0"
    try:
        async with LocalBroker(workdir / "broker", partitioned_topics={TOPIC: TUYA_PARTITIONS}) as broker:
            await asyncio.sleep(0.3)  # redis-server up
            options = PulsarOptions(
                url=broker.url,
                access_id=ACCESS_ID,
                access_secret=SECRET,
                initial_position="earliest",
                subscription="direct",
                log_file=os.devnull,
            )
            async with EventStream(PulsarSource(options), SECRET) as direct:
                baseline = await _latencies(direct, broker.url, count)
            # From the latest message: the direct baseline's messages are on the topic already.
            forwarder = await asyncio.to_thread(
                _listener, "relay", broker.url, "forwarder", "--relay", redis_url, "--position", "latest"
            )
            try:
                async with EventStream(
                    RedisRelaySource(redis_url, ACCESS_ID, access_secret=SECRET), SECRET
                ) as relayed:
                    subject = await _latencies(relayed, broker.url, count)
            finally:
                forwarder.kill()
                forwarder.wait()
        return subject, baseline, redis_url
    finally:
        redis.kill()
        redis.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _spawn(argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(argv, env=env, **options)


def measure(quick: bool = False) -> list[dict[str, Any]]:
    messages = 3_000 if quick else 10_000
    rows: list[dict[str, Any]] = []
    for listeners in (1, 2, 3):
        figure = f"events/s, {listeners} listener process(es), 11 partitions, {messages:,} messages"
        try:
            # Alternate which side goes first, so a warming machine favours neither.
            if listeners % 2:
                subject, baseline = (
                    _drain_rate("stream", listeners, messages),
                    _drain_rate("bare", listeners, messages),
                )
            else:
                baseline, subject = (
                    _drain_rate("bare", listeners, messages),
                    _drain_rate("stream", listeners, messages),
                )
        except Exception as exc:
            rows.append(skipped(figure, f"{type(exc).__name__}: {exc}"))
            continue
        rows.append(
            row(
                figure,
                subject,
                baseline,
                "events/s",
                f"{listeners} bare pulsar.asyncio consumer process(es), receive + fire-and-forget ack",
                note="pulsar-lite's Failover makes one consumer active on every partition; the others stand by",
            )
        )
    count = 200 if quick else 500
    try:
        subject, baseline, _ = asyncio.run(_relay_latency(count))
    except Exception as exc:
        return [*rows, skipped("relay latency", f"{type(exc).__name__}: {exc}")]
    for name, fraction in (("p50", 0.5), ("p99", 0.99)):
        rows.append(
            row(
                f"broker -> awaiting worker through the Redis relay, {name} ({count} msgs at 100/s)",
                _percentile(subject, fraction),
                _percentile(baseline, fraction),
                "s",
                "EventStream reading the broker directly",
                note=f"relay median {statistics.median(subject) * 1e3:.2f} ms" if name == "p50" else "",
            )
        )
    return rows


if __name__ == "__main__":
    run_standalone(measure, __doc__ or "")

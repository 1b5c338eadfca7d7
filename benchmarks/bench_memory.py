"""Memory of an ``EventStream`` whose consumer is slower than the broker, over a large backlog.

For each consumer a fresh local pulsar-lite broker is given a backlog of encrypted ``doorUnlockMethodStatus``
messages (GCM, as Tuya sends them). The consumer then runs in a fresh process that samples its own resident set
size (RSS) every 10 ms; the figure is the peak RSS growth over the process's RSS before it connected (imports done,
decoder warmed up).

* lockcloud: ``EventStream`` (default ``buffer_size=100``) iterated by a slow consumer (it sleeps 1 ms every 2
  events, so at least 0.5 ms per event, several times slower than a backlog is received and decoded).
* baseline: the usual hand-written pattern, a receive task that decodes each message (the same ``decode_message``)
  into an unbounded ``asyncio.Queue`` that the same slow consumer reads. Both use pulsar-client and acknowledge
  every message; the baseline does not dedupe (a set of message ids would add its own growth).
* boundedness: lockcloud's growth with the full backlog against its growth with a fifth of it.

pulsar-lite may redeliver messages of a fast-produced backlog; the stream dedupes them by message
id. Redeliveries seen (the stream's count; for the baseline, messages seen twice) and any stall (no message for
20 s) are reported with the figure.

    python benchmarks/bench_memory.py [--quick] [--backlog 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _harness import bare_consumer, event_stream, print_table, row, save

if TYPE_CHECKING:
    from lockcloud.testing import PushBuilder

ACCESS_ID = "benchmemoryproject00"
SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
TOPIC = f"{ACCESS_ID}/out/event"
STALL_SECONDS = 20.0
SLOW_EVERY = 2
SLOW_SLEEP = 0.001
T0 = 1_700_000_000_000


@functools.cache
def _builder() -> PushBuilder:
    from lockcloud.testing import PushBuilder

    return PushBuilder(SECRET, product_key="keyj3w8gdrsrxzya", clock=lambda: T0)


def _payload(index: int) -> bytes:
    """Message ``index`` of the backlog, from one of 100 locks; its ``ts`` (``T0 + index``) numbers it."""
    build = _builder()
    payload, _ = build.encode(build.enrollment(f"6c8e1f2a9b3d4e5f{index % 100:04d}", period=3, t=T0 + index))
    return payload


def produce(url: str, count: int) -> float:
    """Publish ``count`` messages; returns the seconds it took."""
    import pulsar

    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    try:
        producer = client.create_producer(
            TOPIC, batching_enabled=False, max_pending_messages=1000, block_if_queue_full=True
        )
        started = time.perf_counter()
        for index in range(count):
            producer.send_async(_payload(index), None, properties={"em": "aes_gcm"})
            if index % 1000 == 999:
                producer.flush()
        producer.flush()
        return time.perf_counter() - started
    finally:
        client.close()


# -- the consumer processes ---------------------------------------------------------------------------------------


class RssSampler:
    """Peak resident set size of this process, sampled on a thread so a busy event loop cannot hide a peak."""

    def __init__(self) -> None:
        self._page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.now()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.now())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


async def _slow(taken: int) -> None:
    if taken % SLOW_EVERY == 0:
        await asyncio.sleep(SLOW_SLEEP)


class _Tally:
    """Which of the backlog's messages a consumer has seen, in one byte each (the body's ``ts`` numbers them).

    Constant in size for a given backlog and tiny next to what is measured; a set of message ids would grow by about
    100 bytes per message and blur the figure.
    """

    def __init__(self, count: int) -> None:
        self._seen = bytearray(count)
        self.unique = 0
        self.delivered = 0

    def add(self, event: Any) -> None:
        self.delivered += 1
        index = event.raw["ts"] - T0
        if not self._seen[index]:
            self._seen[index] = 1
            self.unique += 1


async def _consume_stream(url: str, subscription: str, count: int) -> dict[str, Any]:
    stream = event_stream(url, ACCESS_ID, SECRET, subscription)
    tally = _Tally(count)
    async with stream:
        iterator = aiter(stream)
        while tally.unique < count:
            try:
                event = await asyncio.wait_for(anext(iterator), STALL_SECONDS)
            except TimeoutError:
                break
            tally.add(event)
            await _slow(tally.delivered)
        stats = stream.stats
    return {
        "unique": tally.unique,
        "delivered": tally.delivered,
        "broker_duplicates": stats.duplicates,
        "stalled": tally.unique < count,
    }


async def _consume_naive(url: str, subscription: str, count: int) -> dict[str, Any]:
    import pulsar
    import pulsar.asyncio

    from lockcloud.events import decode_message

    client = pulsar.asyncio.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    queue: asyncio.Queue[Any] = asyncio.Queue()  # unbounded: the point of the baseline
    tally = _Tally(count)
    try:
        consumer = await bare_consumer(client, TOPIC, subscription)

        async def receive_all() -> None:
            while True:
                message = await consumer.receive()
                await queue.put(decode_message(message.data(), SECRET, message.properties()))
                await consumer.acknowledge(message)

        receiver = asyncio.create_task(receive_all())
        while tally.unique < count:
            try:
                event = await asyncio.wait_for(queue.get(), STALL_SECONDS)
            except TimeoutError:
                break
            tally.add(event)
            await _slow(tally.delivered)
        receiver.cancel()
        await asyncio.wait([receiver])
        await consumer.close()
    finally:
        await client.close()
    return {
        "unique": tally.unique,
        "delivered": tally.delivered,
        "broker_duplicates": tally.delivered - tally.unique,
        "stalled": tally.unique < count,
    }


def worker(kind: str, url: str, subscription: str, count: int) -> None:
    from lockcloud.events import decode_message

    decode_message(
        _payload(0), SECRET, {"em": "aes_gcm"}
    )  # every import and lazy load done before the baseline
    sampler = RssSampler()
    started = time.perf_counter()
    consume = _consume_stream if kind == "stream" else _consume_naive
    result = asyncio.run(consume(url, subscription, count))
    result["seconds"] = time.perf_counter() - started
    sampler.stop()
    result["rss_start"] = sampler.start
    result["rss_peak"] = sampler.peak
    result["growth_mib"] = (sampler.peak - sampler.start) / 2**20
    print(json.dumps(result), flush=True)


def _run_worker(kind: str, url: str, subscription: str, count: int, timeout: float) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", kind, "--url", url, "--subscription", subscription]
    command += ["--count", str(count)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed ({done.returncode}): {done.stderr[-2000:]}")
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


# -- the figure ---------------------------------------------------------------------------------------------------


def _describe(name: str, result: dict[str, Any], count: int) -> str:
    text = f"{name}: {result['unique']:,}/{count:,} in {result['seconds']:.1f} s, "
    text += f"{result['broker_duplicates']:,} broker duplicates"
    if result["delivered"] != result["unique"]:
        text += f" ({result['delivered'] - result['unique']:,} passed through)"
    if result["stalled"]:
        text += f", STALLED (no message for {STALL_SECONDS:.0f} s)"
    return text


async def measure(quick: bool = False, backlog: int | None = None) -> list[dict[str, Any]]:
    from lockcloud.sim.broker import LocalBroker

    count = backlog or (10_000 if quick else 50_000)
    small = count // 5  # past the dedupe window (10,000 ids), the one part of the stream that grows
    timeout = 60 + count / 500
    with tempfile.TemporaryDirectory(prefix="lockcloud-bench-") as data_dir:

        async def on_fresh_broker(kind: str, backlog: int) -> dict[str, Any]:
            # A broker of its own for each consumer: pulsar-lite has stalled (stopped dispatching, then refused new
            # subscriptions) when a third subscription drained the same large backlog.
            with LocalBroker(Path(data_dir) / f"{kind}-{backlog}", log_level="error") as broker:
                produced = await asyncio.to_thread(produce, broker.url, backlog)
                result = await asyncio.to_thread(
                    _run_worker, kind, broker.url, f"bench-{kind}", backlog, timeout
                )
            result["produce_seconds"] = produced
            return result

        stream = await on_fresh_broker("stream", count)
        naive = await on_fresh_broker("naive", count)
        stream_small = await on_fresh_broker("stream", small)
    note = "; ".join(
        [
            f"each backlog produced in {stream['produce_seconds']:.1f} s / {naive['produce_seconds']:.1f} s",
            _describe("lockcloud", stream, count),
            _describe("baseline", naive, count),
        ]
    )
    return [
        row(
            f"EventStream peak RSS growth, {count:,}-message backlog, slow consumer",
            stream["growth_mib"],
            naive["growth_mib"],
            "MiB",
            "receive task + unbounded asyncio.Queue (same decode, same slow consumer)",
            note=note,
        ),
        row(
            f"EventStream peak RSS growth, {count:,} vs {small:,}-message backlog",
            stream["growth_mib"],
            stream_small["growth_mib"],
            "MiB",
            f"lockcloud itself with a {small:,}-message backlog",
            note=_describe("lockcloud, small backlog", stream_small, small),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backlog", type=int)
    parser.add_argument("--worker", choices=["stream", "naive"])
    parser.add_argument("--url")
    parser.add_argument("--subscription")
    parser.add_argument("--count", type=int)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.url, args.subscription, args.count)
        return
    rows = asyncio.run(measure(args.quick, args.backlog))
    print_table(rows)
    save(rows)


if __name__ == "__main__":
    main()

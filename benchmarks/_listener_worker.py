"""A consumer process for ``bench_listeners``: ``python _listener_worker.py MODE URL NAME``.

MODE ``lockcloud`` reads through an ``EventStream``; ``bare`` through a bare ``pulsar.asyncio`` consumer (receive,
fire-and-forget ack). Both sit on the project's Failover subscription. Prints ``ready`` once subscribed, then the number of
distinct messages taken so far, every 100 ms, until killed.
"""

from __future__ import annotations

import asyncio
import os
import sys

import pulsar
import pulsar.asyncio

ACCESS_ID = "benchlisteners000"
SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
TOPIC = f"{ACCESS_ID}/out/event"


async def report(seen: set[str]) -> None:
    while True:
        print(len(seen), flush=True)
        await asyncio.sleep(0.1)


async def lockcloud(url: str, name: str) -> None:
    from lockcloud.events import EventStream, PulsarOptions, PulsarSource

    seen: set[str] = set()
    source = PulsarSource(
        PulsarOptions(
            url=url,
            access_id=ACCESS_ID,
            access_secret=SECRET,
            consumer_name=name,
            initial_position="earliest",
            connect_timeout=2,
            operation_timeout=2,
            log_file=os.devnull,
        )
    )
    async with EventStream(source, SECRET) as stream:
        print("ready", flush=True)
        reporter = asyncio.create_task(report(seen))
        async for event in stream:
            seen.add(event.message_id or "")
        reporter.cancel()


def _ignore(result: object) -> None:
    pass


async def bare(url: str, name: str) -> None:
    client = pulsar.asyncio.Client(
        url, operation_timeout_seconds=2, logger=pulsar.FileLogger(pulsar.LoggerLevel.Error, os.devnull)
    )
    consumer = None
    for _ in range(4):  # the same retry as lockcloud's: pulsar-lite consumer ids collide across processes
        try:
            consumer = await client.subscribe(
                TOPIC,
                f"{ACCESS_ID}-sub",
                consumer_type=pulsar.ConsumerType.Failover,
                initial_position=pulsar.InitialPosition.Earliest,
                consumer_name=name,
            )
            break
        except pulsar.asyncio.PulsarException:
            continue
    assert consumer is not None
    print("ready", flush=True)
    seen: set[str] = set()
    reporter = asyncio.create_task(report(seen))
    while True:
        message = await consumer.receive()
        seen.add(str(message.message_id()))
        # Fire and forget, as EventStream acknowledges: an awaited ack would cost a broker round trip each.
        consumer._consumer.acknowledge_async(message.message_id(), _ignore)
    reporter.cancel()


if __name__ == "__main__":
    mode, url, name = sys.argv[1:4]
    asyncio.run(lockcloud(url, name) if mode == "lockcloud" else bare(url, name))

"""A listener process on a project's Failover subscription, for the scale tests and ``bench_listeners``.

    python listener_process.py ROLE URL NAME --access-id ID --secret SECRET [options]

ROLE is what consumes the subscription:

``stream``
    an ``EventStream`` (``--out FILE``: one JSON line per event, written and flushed before the event is
    acknowledged, so whatever the broker saw acknowledged is on disk; ``--stall-after N``: hang in the body of the
    Nth event, as a handler waiting on a dead downstream would, holding it and everything prefetched unacknowledged).
``bare``
    a bare ``pulsar.asyncio`` consumer (receive, fire-and-forget ack): the benchmark's baseline.
``relay``
    a ``RedisRelayForwarder`` to ``--relay REDIS_URL``.

Every line on stdout is JSON: ``{"ready": NAME}`` once subscribed; with ``--counts`` the number of distinct messages
taken so far, every 100 ms; on SIGTERM the role stops and prints ``{"stats": {...}}`` (the stream's or the
forwarder's). It is one script for the tests and the benchmark so that both measure the same listener; it is run by
path (``tests`` is not a package), and it stays out of ``lockcloud.testing`` because the stall and the bare baseline
are test instruments, not something an application needs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import pulsar
import pulsar.asyncio

from lockcloud.events import EventStream, PulsarOptions, PulsarSource, RedisRelayForwarder, StatusReport


def pulsar_source(args: argparse.Namespace) -> PulsarSource:
    return PulsarSource(
        PulsarOptions(
            url=args.url,
            access_id=args.access_id,
            access_secret=args.secret,
            consumer_name=args.name,
            initial_position=args.position,
            # A colliding subscribe on pulsar-lite costs one connect timeout before the retry.
            connect_timeout=3.0,
            operation_timeout=3.0,
            # A stalled listener with a small prefetch stops taking messages, so its socket falls quiet before
            # it is killed (see test_failover.py for why that matters to pulsar-lite).
            **(
                {"receiver_queue_size": args.prefetch, "receive_window": args.prefetch}
                if args.prefetch
                else {}
            ),
            log_file=args.log,
        )
    )


def say(document: Any) -> None:
    print(json.dumps(document), flush=True)


async def report_counts(seen: set[str]) -> None:
    while True:
        say(len(seen))
        await asyncio.sleep(0.1)


async def serve(
    work: Awaitable[object], args: argparse.Namespace, stop: asyncio.Event, seen: set[str]
) -> None:
    """Says it is ready (subscribed by now), then runs ``work`` until it ends or SIGTERM comes, with ``--counts``
    reporting ``seen`` meanwhile; a failure of ``work`` is raised."""
    say({"ready": args.name})
    working = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    tasks = {working, stopping}
    if args.counts:
        tasks.add(asyncio.ensure_future(report_counts(seen)))
    await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks)
    failure = None if working.cancelled() else working.exception()
    if failure is not None:
        raise failure


async def run_stream(args: argparse.Namespace, stop: asyncio.Event, seen: set[str]) -> dict[str, Any]:
    stream = EventStream(pulsar_source(args), args.secret, close_timeout=2.0)
    sink = args.out
    async with stream:

        async def take() -> None:
            taken = 0
            async for event in stream:
                assert isinstance(event, StatusReport)
                seen.add(event.message_id or "")
                if sink is not None:
                    sink.write(json.dumps({"data_id": event.data_id, "message_id": event.message_id}) + "\n")
                    sink.flush()
                taken += 1
                if taken == args.stall_after:
                    await asyncio.Event().wait()  # stalled in the body until SIGTERM or SIGKILL

        await serve(take(), args, stop, seen)
    return attrs.asdict(stream.stats)


async def run_relay(args: argparse.Namespace, stop: asyncio.Event, seen: set[str]) -> dict[str, Any]:
    async with RedisRelayForwarder(
        pulsar_source(args), args.relay, args.access_id, access_secret=args.secret
    ) as forwarder:
        await serve(forwarder.run(), args, stop, seen)
    return attrs.asdict(forwarder.stats)


async def run_bare(args: argparse.Namespace, stop: asyncio.Event, seen: set[str]) -> dict[str, Any]:
    client = pulsar.asyncio.Client(
        args.url, operation_timeout_seconds=3, logger=pulsar.FileLogger(pulsar.LoggerLevel.Error, args.log)
    )
    consumer = None
    for _ in range(4):  # the same retry as lockcloud's: pulsar-lite consumer ids collide across processes
        with contextlib.suppress(pulsar.asyncio.PulsarException):
            consumer = await client.subscribe(
                f"{args.access_id}/out/event",
                f"{args.access_id}-sub",
                consumer_type=pulsar.ConsumerType.Failover,
                initial_position=pulsar.InitialPosition.Earliest,
                consumer_name=args.name,
            )
            break
    assert consumer is not None

    async def take() -> None:
        while True:
            message = await consumer.receive()
            seen.add(str(message.message_id()))
            # Fire and forget, as EventStream acknowledges: an awaited ack would cost a broker round trip each.
            consumer._consumer.acknowledge_async(message.message_id(), lambda result: None)

    await serve(take(), args, stop, seen)
    return {"received": len(seen)}


ROLES: dict[str, Callable[[argparse.Namespace, asyncio.Event, set[str]], Awaitable[dict[str, Any]]]] = {
    "stream": run_stream,
    "bare": run_bare,
    "relay": run_relay,
}


async def main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    stats = await ROLES[args.role](args, stop, set())
    say({"stats": stats})


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("url", help="the broker's pulsar:// URL")
    parser.add_argument("name", help="the consumer name (pulsar-lite makes the first name the active one)")
    parser.add_argument("--access-id", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--position", choices=("earliest", "latest"), default="earliest")
    parser.add_argument(
        "--prefetch", type=int, help="receiver queue size and receive window (default: lockcloud's)"
    )
    parser.add_argument("--log", default=os.devnull, help="pulsar-client's log file")
    parser.add_argument(
        "--out",
        type=argparse.FileType("a", encoding="utf-8"),
        help="stream: append one JSON line per event here",
    )
    parser.add_argument("--stall-after", type=int, help="stream: hang in the body of this event")
    parser.add_argument("--relay", help="relay: the Redis URL to forward to")
    parser.add_argument(
        "--counts", action="store_true", help="print the distinct messages taken, every 100 ms"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))

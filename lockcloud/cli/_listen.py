"""``lockcloud listen``: push events as they arrive, and which partitions they come from.

With ``--relay redis://...`` the listener also forwards every message to the Redis stream that web workers read
(``EventStream.from_relay``); Redis is checked before anything is taken from Pulsar.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click

from lockcloud._errors import DecodeError
from lockcloud.cli._format import describe_event, event_document
from lockcloud.cli._options import connection_options, positive, subscription_option
from lockcloud.cli._output import Output
from lockcloud.cli._run import run
from lockcloud.cli._target import Connection, connect, open_events, open_target, resolve_device
from lockcloud.events import Event
from lockcloud.events._stream import Received

__all__ = ["listen"]


@click.command()
@click.option("--device", "devices", multiple=True, help="Only this device (repeatable).")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many events.")
@click.option("--duration", type=float, callback=positive, help="Stop after this many seconds.")
@click.option(
    "--relay",
    metavar="REDIS_URL",
    help="Also forward every message to this Redis stream, for web workers (needs lockcloud[redis]).",
)
@subscription_option
@connection_options
def listen(
    devices: tuple[str, ...],
    count: int | None,
    duration: float | None,
    relay: str | None,
    subscription: str | None,
    connection: Connection,
    out: Output,
) -> None:
    """Print push events as they arrive and the partitions they come from (one JSON document per event and per
    newly seen partition with --json); Ctrl-C to stop."""
    if relay:
        run(out, _relay(connection, out, devices, count, duration, subscription, relay))
    else:
        run(out, _listen(connection, out, devices, count, duration, subscription))


def partition_of(message_id: str | None) -> int | None:
    """The partition index in a Pulsar message id as text, ``(ledger,entry,partition,batch)``; None if unpartitioned."""
    if not message_id:
        return None
    parts = message_id.strip("()").split(",")
    try:
        partition = int(parts[2])
    except (IndexError, ValueError):
        return None
    return partition if partition >= 0 else None


class _Partitions:
    """Reports each partition the first time a message comes from it: the partitions this listener owns."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.seen: set[int] = set()

    def observe(self, message_id: str | None) -> int | None:
        partition = partition_of(message_id)
        if partition is not None and partition not in self.seen:
            self.seen.add(partition)
            self.out.emit({"type": "partition", "partition": partition, "owned": sorted(self.seen)})
            self.out.say(f"receiving partition {partition} (owned: {', '.join(map(str, sorted(self.seen)))})")
        return partition


def _show(out: Output, event: Event, partition: int | None) -> None:
    out.emit({**event_document(event), "partition": partition})
    stamp = event.published_at.isoformat(timespec="seconds") if event.published_at else "-"
    where = f"p{partition}" if partition is not None else "-"
    out.say(f"{stamp} {where:>4} {event.device_id or '-':<20} {describe_event(event)}")


async def _listen(
    connection: Connection,
    out: Output,
    devices: tuple[str, ...],
    count: int | None,
    duration: float | None,
    subscription: str | None,
) -> None:
    async with open_target(connection, out) as target, connect(target) as cloud:
        if target.embedded:
            out.note("the embedded simulator only pushes what this command makes it do, so expect silence")
        device_ids = [resolve_device(target, device) for device in devices]
        async with open_events(cloud, verbose=connection.verbose, subscription=subscription) as stream:
            events = stream.subscribe(device_id=device_ids or None)
            out.say(f"Listening on {stream.topic} as {stream.subscription}; Ctrl-C to stop.")
            partitions = _Partitions(out)
            seen = 0
            deadline = time.monotonic() + duration if duration else None
            while count is None or seen < count:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        event = await anext(events)
                except TimeoutError:
                    break
                seen += 1
                _show(out, event, partitions.observe(event.message_id))
                event.ack()


async def _relay(
    connection: Connection,
    out: Output,
    devices: tuple[str, ...],
    count: int | None,
    duration: float | None,
    subscription: str | None,
    relay_url: str,
) -> None:
    async with open_target(connection, out) as target, connect(target) as cloud:
        device_ids = {resolve_device(target, device) for device in devices}
        partitions = _Partitions(out)
        shown = 0
        enough = asyncio.Event()
        options: dict[str, Any] = {"pulsar_log_level": "info" if connection.verbose else "error"}
        if subscription:
            options["subscription"] = subscription
        forwarder = cloud.relay_forwarder(relay_url, **options)

        def relayed(received: Received) -> None:
            nonlocal shown
            partition = partitions.observe(received.message_id)
            try:
                event = forwarder.decode(received)
            except DecodeError as exc:
                out.note(f"relayed an undecodable message {received.message_id} ({exc.reason})")
                return
            if device_ids and event.device_id not in device_ids:
                return
            _show(out, event, partition)
            shown += 1
            if count is not None and shown >= count:
                enough.set()

        forwarder.on_relayed = relayed
        async with forwarder:
            out.say(
                f"Relaying {forwarder.topic} as {forwarder.subscription} to {forwarder.relay_address}; Ctrl-C to stop."
            )
            running = asyncio.create_task(forwarder.run())
            waiting = asyncio.create_task(enough.wait())
            try:
                await asyncio.wait({running, waiting}, timeout=duration, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
                if not running.done():
                    running.cancel()
                await asyncio.wait([running, waiting])
            failure = None if running.cancelled() else running.exception()
            if failure is not None:
                raise failure

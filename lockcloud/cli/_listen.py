"""``lockcloud listen``: push events as they arrive, and which partitions they come from.

With ``--relay redis://...`` the listener also forwards every message to the Redis stream that web workers read
(``cloud.events(relay=...)``); Redis is checked before anything is taken from Pulsar.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import attrs
import click

from lockcloud._core.errors import DecodeError
from lockcloud.cli._format import describe_event, event_document
from lockcloud.cli._options import connection_options, positive_seconds, subscription_option, timeout_seconds
from lockcloud.cli._output import Output
from lockcloud.cli._run import run
from lockcloud.cli._target import (
    Connection,
    connect,
    open_events,
    open_target,
    push_over_websocket,
    require_pulsar_client,
    resolve_device,
)
from lockcloud.events import Decoder, Event, SourceMessage

__all__ = ["listen", "partition_of"]


@click.command()
@click.option("--device", "devices", multiple=True, help="Only this device (repeatable).")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many events.")
@click.option("--duration", type=float, callback=positive_seconds, help="Stop after this many seconds.")
@click.option(
    "--websocket",
    is_flag=True,
    help="Read the push stream over WebSocket (port 8285) instead of Pulsar's own protocol (7285).",
)
@click.option(
    "--relay",
    metavar="REDIS_URL",
    help=(
        "Also forward every message to this Redis stream, for web workers (needs lockcloud[redis]): "
        "redis[s]://host:port/db, redis[s]+cluster://host:port,host:port/ or "
        "redis[s]+sentinel://host:port,host:port/SERVICE/db."
    ),
)
@click.option(
    "--connect-timeout",
    type=float,
    callback=timeout_seconds,
    help="Seconds to reach the broker and each try to subscribe may take (default 10).",
)
@subscription_option
@connection_options
def listen(
    devices: tuple[str, ...],
    count: int | None,
    duration: float | None,
    websocket: bool,
    relay: str | None,
    connect_timeout: float | None,
    subscription: str | None,
    connection: Connection,
    out: Output,
) -> None:
    """Print push events as they arrive and the partitions they come from; Ctrl-C to stop.

    Once subscribed it says so in one line ("Listening on ..."; with --json a document of type "ready"), so a
    script can wait for it; then one line (one JSON document) per event and per newly seen partition.
    """
    if relay and websocket:
        raise click.UsageError("--relay forwards from Pulsar's own protocol; drop --websocket to relay")
    request = _Request(connection, out, devices, count, duration, subscription, connect_timeout)
    run(out, _relay(request, relay) if relay else _listen(request, websocket))


def partition_of(message_id: str | None) -> int | None:
    """The partition in a Pulsar message id as text, ``(ledger,entry,partition,batch)``; None if unpartitioned."""
    if not message_id:
        return None
    parts = message_id.strip("()").split(",")
    try:
        partition = int(parts[2])
    except (IndexError, ValueError):
        return None
    return partition if partition >= 0 else None


@attrs.frozen
class _Request:
    """What both ways of listening were asked for: where, which devices, and when to stop."""

    connection: Connection
    out: Output
    devices: tuple[str, ...]
    count: int | None
    duration: float | None
    subscription: str | None
    connect_timeout: float | None = None

    def stream_options(self) -> dict[str, Any]:
        return {} if self.connect_timeout is None else {"connect_timeout": self.connect_timeout}


def _ready(
    out: Output, transport: str, description: str, topic: str | None, subscription: str | None
) -> None:
    out.emit(
        {
            "type": "ready",
            "transport": transport,
            "source": description,
            "topic": topic,
            "subscription": subscription,
        }
    )


class _Partitions:
    """Reports each partition the first time a message comes from it: the partitions this listener owns."""

    def __init__(self, out: Output) -> None:
        self.out = out
        self.seen: set[int] = set()

    def observe(self, partition: int | None) -> int | None:
        if partition is not None and partition not in self.seen:
            self.seen.add(partition)
            owned = sorted(self.seen)
            self.out.emit({"type": "partition", "partition": partition, "owned": owned})
            self.out.say(f"receiving partition {partition} (owned: {', '.join(map(str, owned))})")
        return partition


def _show(out: Output, event: Event, partition: int | None) -> None:
    out.emit({**event_document(event), "partition": partition})
    stamp = event.published_at.isoformat(timespec="seconds") if event.published_at else "-"
    where = f"p{partition}" if partition is not None else "-"
    out.say(f"{stamp} {where:>4} {event.device_id or '-':<20} {describe_event(event)}")


async def _listen(request: _Request, websocket: bool) -> None:
    out = request.out
    async with open_target(request.connection, out, push=True) as target, connect(target) as cloud:
        if target.embedded:
            out.note("the embedded simulator only pushes what this command makes it do, so expect silence")
        device_ids = [resolve_device(target, device) for device in request.devices]
        async with open_events(
            cloud,
            verbose=request.connection.verbose,
            subscription=request.subscription,
            websocket=websocket,
            **request.stream_options(),
        ) as stream:
            events = stream.subscribe(device_id=device_ids or None)
            source = stream.source
            _ready(
                out,
                "websocket" if push_over_websocket(websocket) else "pulsar",
                source.description,
                stream.topic,
                getattr(source, "subscription", None),
            )
            out.say(f"Listening on {source.description}; Ctrl-C to stop.")
            partitions = _Partitions(out)
            seen = 0
            deadline = time.monotonic() + request.duration if request.duration else None
            while request.count is None or seen < request.count:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                try:
                    async with asyncio.timeout(remaining):
                        event = await anext(events)
                except TimeoutError:
                    break
                seen += 1
                _show(out, event, partitions.observe(partition_of(event.message_id)))
                events.ack(event)


async def _relay(request: _Request, relay_url: str) -> None:
    from lockcloud._core.redis_url import check_redis_url

    check_redis_url(relay_url, option="--relay")  # before anything connects
    out = request.out
    async with open_target(request.connection, out, push=True) as target, connect(target) as cloud:
        require_pulsar_client(relay=True)  # an embedded simulator has said what it misses already
        device_ids = {resolve_device(target, device) for device in request.devices}
        decoder = Decoder(target.access_secret)
        partitions = _Partitions(out)
        shown = 0
        enough = asyncio.Event()

        def relayed(message: SourceMessage) -> None:
            nonlocal shown
            partition = partitions.observe(message.partition)
            try:
                event = decoder.decode(message.payload, message.properties, message.message_id)
            except DecodeError as exc:
                out.note(f"relayed an undecodable message {message.message_id} ({exc.reason})")
                return
            if device_ids and event.device_id not in device_ids:
                return
            _show(out, event, partition)
            shown += 1
            if request.count is not None and shown >= request.count:
                enough.set()

        options: dict[str, Any] = {
            "pulsar_log_level": "info" if request.connection.verbose else "error",
            **request.stream_options(),
        }
        if request.subscription:
            options["subscription"] = request.subscription
        forwarder = cloud.relay_forwarder(relay_url, on_relayed=relayed, **options)
        async with forwarder:
            source = forwarder.source
            _ready(
                out,
                "pulsar",
                source.description,
                getattr(source, "topic", None),
                getattr(source, "subscription", None),
            )
            out.say(
                f"Relaying {forwarder.source.description} to {forwarder.relay_address} {forwarder.key}; "
                "Ctrl-C to stop."
            )
            running = asyncio.create_task(forwarder.run())
            waiting = asyncio.create_task(enough.wait())
            try:
                await asyncio.wait(
                    {running, waiting}, timeout=request.duration, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiting.cancel()
                if not running.done():
                    running.cancel()
                await asyncio.wait([running, waiting])
            failure = None if running.cancelled() else running.exception()
            if failure is not None:
                raise failure

"""``lockcloud listen``: push events as they arrive."""

from __future__ import annotations

import asyncio
import time

import click

from lockcloud.cli._format import describe_event, event_document
from lockcloud.cli._options import connection_options, positive, subscription_option
from lockcloud.cli._output import Output
from lockcloud.cli._run import run
from lockcloud.cli._target import Connection, connect, open_events, open_target, resolve_device

__all__ = ["listen"]


@click.command()
@click.option("--device", "devices", multiple=True, help="Only this device (repeatable).")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many events.")
@click.option("--duration", type=float, callback=positive, help="Stop after this many seconds.")
@click.option(
    "--websocket",
    is_flag=True,
    help="Read the push stream over WebSocket (port 8285) instead of Pulsar's own protocol (7285).",
)
@subscription_option
@connection_options
def listen(
    devices: tuple[str, ...],
    count: int | None,
    duration: float | None,
    websocket: bool,
    subscription: str | None,
    connection: Connection,
    out: Output,
) -> None:
    """Print push events as they arrive (one JSON document per event with --json); Ctrl-C to stop."""
    run(out, _listen(connection, out, devices, count, duration, subscription, websocket))


async def _listen(
    connection: Connection,
    out: Output,
    devices: tuple[str, ...],
    count: int | None,
    duration: float | None,
    subscription: str | None,
    websocket: bool = False,
) -> None:
    async with open_target(connection, out) as target, connect(target) as cloud:
        if target.embedded:
            out.note("the embedded simulator only pushes what this command makes it do, so expect silence")
        device_ids = [resolve_device(target, device) for device in devices]
        async with open_events(
            cloud, verbose=connection.verbose, subscription=subscription, websocket=websocket
        ) as stream:
            events = stream.subscribe(device_id=device_ids or None)
            out.say(f"Listening on {stream.source.description}; Ctrl-C to stop.")
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
                out.emit(event_document(event))
                stamp = event.published_at.isoformat(timespec="seconds") if event.published_at else "-"
                out.say(f"{stamp} {event.device_id or '-':<20} {describe_event(event)}")
                events.ack(event)

"""Lock chores: ``keys``, ``enroll``, ``unlock`` and ``remote-unlock``."""

from __future__ import annotations

import asyncio
import getpass
import sys
from typing import Any

import click
from rich.padding import Padding

from lockcloud.cli._enrolling import enroll_with_progress
from lockcloud.cli._errors import SWITCH_NAMES, CommandError
from lockcloud.cli._format import key_row, keys_table, result_document, switches_table
from lockcloud.cli._options import (
    connection_options,
    positive_seconds,
    subscription_option,
    unlock_type_option,
    user_type_option,
)
from lockcloud.cli._output import Output
from lockcloud.cli._run import run
from lockcloud.cli._target import (
    SIM_PRESS_INTERVAL,
    Connection,
    connect,
    open_events,
    open_target,
    resolve_device,
)
from lockcloud.enums import UnlockType, UserType

__all__ = ["enroll", "keys", "remote_unlock", "unlock"]


@click.command()
@click.argument("device")
@click.option("--user", help="List the keys assigned to this user.")
@user_type_option
@unlock_type_option(default=None, help="Only this unlock type.")
@click.option("--unassigned", is_flag=True, help="Also list keys not assigned to anyone.")
@connection_options
def keys(
    device: str,
    user: str | None,
    user_type: UserType,
    unlock_type: UnlockType | None,
    unassigned: bool,
    connection: Connection,
    out: Output,
) -> None:
    """List a lock's keys: those of --user, or those not assigned to anyone.

    DEVICE is a device id (with --sim also a role such as front_door).
    """
    run(out, _keys(connection, out, device, user, user_type, unlock_type, unassigned))


async def _keys(
    connection: Connection,
    out: Output,
    device: str,
    user: str | None,
    user_type: UserType,
    unlock_type: UnlockType | None,
    unassigned: bool,
) -> None:
    # Everything is fetched before anything is printed: a failure leaves no half-printed listing behind.
    async with open_target(connection, out) as target, connect(target) as cloud:
        device_id = resolve_device(target, device)
        document: dict[str, Any] = {"device_id": device_id}
        tables: list[tuple[str, Padding]] = []
        if user:
            assigned = await cloud.unlock_methods.list_assigned(
                device_id, user, user_type, unlock_type=unlock_type
            )
            tables.append((f"  assigned to {user}:", keys_table(assigned)))
            document["assigned"] = [key_row(key) for key in assigned]
        if unassigned or not user:
            free = await cloud.unlock_methods.list_unassigned(device_id, unlock_type=unlock_type)
            tables.append(("  not assigned to anyone:", keys_table(free)))
            document["unassigned"] = [key_row(key) for key in free]
    out.say(f"Keys on {device_id}:")
    for title, table in tables:
        out.say(title)
        out.show(table)
    out.emit(document)


@click.command()
@click.argument("device")
@click.option("--user", required=True, help="User the new key belongs to.")
@user_type_option
@unlock_type_option(default="fingerprint", help="What to enroll.")
@click.option(
    "--timeout",
    type=float,
    callback=positive_seconds,
    default=60.0,
    show_default=True,
    help="Give up (and cancel at the lock) after this many seconds without progress.",
)
@click.option(
    "--websocket",
    is_flag=True,
    help="Follow the lock's pushes over WebSocket (port 8285; no pulsar-client needed), not Pulsar's protocol.",
)
@subscription_option
@connection_options
def enroll(
    device: str,
    user: str,
    user_type: UserType,
    unlock_type: UnlockType,
    timeout: float,
    websocket: bool,
    subscription: str | None,
    connection: Connection,
    out: Output,
) -> None:
    """Enroll a fingerprint, card, face ... with a live progress bar fed by the lock's push messages.

    DEVICE is a device id (with --sim also a role such as front_door). Ctrl-C cancels the enrollment at the lock.
    """
    run(out, _enroll(connection, out, device, user, user_type, unlock_type, timeout, subscription, websocket))


async def _enroll(
    connection: Connection,
    out: Output,
    device: str,
    user: str,
    user_type: UserType,
    unlock_type: UnlockType,
    idle_timeout: float,
    subscription: str | None,
    websocket: bool = False,
) -> None:
    async with (
        open_target(connection, out, push=True, press_interval=SIM_PRESS_INTERVAL) as target,
        connect(target) as cloud,
    ):
        device_id = resolve_device(target, device)
        hint = " (the simulated finger presses by itself)" if target.embedded else ""
        out.say(
            f"Enrolling a {unlock_type.value} for {user} on {device_id}; follow the lock's prompts{hint}."
        )
        async with open_events(
            cloud, verbose=connection.verbose, subscription=subscription, websocket=websocket
        ) as stream:
            result = await enroll_with_progress(
                cloud,
                stream,
                out,
                device_id=device_id,
                user_id=user,
                user_type=user_type,
                unlock_type=unlock_type,
                idle_timeout=idle_timeout,
            )
    out.emit(result_document(result))
    if not result.ok:
        raise CommandError(f"enrollment {result.status.value}: {result.reason or 'no reason given'}")
    key = f" as key #{result.key.unlock_no}" if result.key is not None else ""
    out.say(f"Enrolled{key}.")


@click.command()
@click.argument("device")
@click.option(
    "--pin", help="The lock's 6-digit PIN; '-' reads it from stdin (omit it to open without a PIN)."
)
@click.option("--channel", type=int, help="Door channel of an access control device.")
@connection_options
def unlock(device: str, pin: str | None, channel: int | None, connection: Connection, out: Output) -> None:
    """Open a lock remotely, with its PIN or without one.

    DEVICE is a device id (with --sim also a role such as front_door). An unlock whose answer is lost is never
    repeated: the command says so and exits 1.
    """
    run(out, _unlock(connection, out, device, _read_pin(pin), channel))


def _read_pin(pin: str | None) -> str | None:
    if pin != "-":
        return pin
    if sys.stdin.isatty():
        return getpass.getpass("PIN: ")
    return sys.stdin.readline().strip()


def unlock_interruption_note(device_id: str) -> str:
    """What an unlock interrupted by Ctrl-C may have left: the request cannot be called back once sent."""
    return (
        f"interrupted during the unlock of {device_id}: if the request had reached the cloud the door may be "
        "open; it is not retried: check the lock (`lockcloud listen`, or its app)"
    )


async def _unlock(
    connection: Connection, out: Output, device: str, pin: str | None, channel: int | None
) -> None:
    async with open_target(connection, out) as target, connect(target) as cloud:
        device_id = resolve_device(target, device)
        how = "with the PIN" if pin is not None else "without a PIN"
        try:
            if pin is not None:
                opened = await cloud.remote_unlock.open_door(device_id, pin=pin)
            else:
                opened = await cloud.remote_unlock.open_door_without_password(device_id, channel_id=channel)
        except asyncio.CancelledError:
            out.note(unlock_interruption_note(device_id))
            raise
    out.emit({"device_id": device_id, "opened": opened})
    if not opened:
        raise CommandError(f"the lock refused to open {how}")
    out.say(f"{device_id}: opened {how}.")


@click.command("remote-unlock")
@click.argument("device")
@click.option("--enable", type=click.Choice(list(SWITCH_NAMES)), multiple=True, help="Turn this switch on.")
@click.option("--disable", type=click.Choice(list(SWITCH_NAMES)), multiple=True, help="Turn this switch off.")
@connection_options
def remote_unlock(
    device: str, enable: tuple[str, ...], disable: tuple[str, ...], connection: Connection, out: Output
) -> None:
    """Show a lock's remote-unlock switches, or turn them on or off.

    with-pin lets `lockcloud unlock DEVICE --pin` open the lock, without-pin lets `lockcloud unlock DEVICE` open it
    without one. DEVICE is a device id (with --sim also a role such as front_door).
    """
    both = set(enable) & set(disable)
    if both:
        raise click.UsageError(f"--enable and --disable both name {', '.join(sorted(both))}")
    changes = dict.fromkeys(enable, True) | dict.fromkeys(disable, False)
    run(out, _remote_unlock(connection, out, device, changes))


async def _remote_unlock(connection: Connection, out: Output, device: str, changes: dict[str, bool]) -> None:
    async with open_target(connection, out) as target, connect(target) as cloud:
        device_id = resolve_device(target, device)
        for name, enabled in changes.items():
            if not await cloud.remote_unlock.set_method_enabled(device_id, SWITCH_NAMES[name], enabled):
                raise CommandError(f"the lock did not accept turning {name} {'on' if enabled else 'off'}")
        methods = await cloud.remote_unlock.list_methods(device_id)
    out.say(f"Remote unlock switches of {device_id}:")
    out.show(switches_table(methods))
    out.emit(
        {
            "device_id": device_id,
            "switches": {str(method.remote_unlock_type.value): method.open for method in methods},
        }
    )

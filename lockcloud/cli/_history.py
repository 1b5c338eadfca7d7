"""``history``, ``status`` and ``members``, and how the lock's live events read in ``listen``."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Mapping
from typing import Any

import click
from rich import box
from rich.table import Table

from lockcloud.cli._options import connection_options, unlock_type_option
from lockcloud.cli._output import Output
from lockcloud.cli._run import run
from lockcloud.cli._target import Connection, connect, open_target, resolve_device
from lockcloud.enums import UnlockType
from lockcloud.events import BatteryLevel, DoorStateChanged, Event, LockAlarm, LockUnlocked
from lockcloud.history_models import AlarmKind, HistoryRecord, LockStatus, Member, UnlockMethod

__all__ = ["LIVE_FORMATTERS", "describe_live_event", "history", "members", "status"]


# -- live events ------------------------------------------------------------------------------------------------


def _key(method: UnlockMethod | None, number: int | None) -> str:
    if method is None:
        return ""
    return f"{method.label}" + (f" #{number}" if number is not None else "")


def _unlocked(event: LockUnlocked) -> str:
    duress = "  DURESS" if event.duress else ""
    return f"unlocked by {_key(event.method, event.key_number)}{duress}"


def _alarm(event: LockAlarm) -> str:
    kind = event.kind.name.lower().replace("_", " ") if event.kind.is_known else str(event.kind.value)
    key = f" ({_key(event.method, event.key_number)})" if event.method is not None else ""
    return f"ALARM {kind}{key}"


def _door(event: DoorStateChanged) -> str:
    return f"door {event.door.value}"


def _battery(event: BatteryLevel) -> str:
    parts = [f"{event.percent}%"] if event.percent is not None else []
    if event.state is not None:
        parts.append(str(event.state.value))
    return "battery " + " ".join(parts)


#: One description per registered event type (a test checks none is missing).
LIVE_FORMATTERS: Mapping[type[Event], Callable[[Any], str]] = {
    LockUnlocked: _unlocked,
    LockAlarm: _alarm,
    DoorStateChanged: _door,
    BatteryLevel: _battery,
}


def describe_live_event(event: Event) -> str | None:
    """The line ``listen`` prints for a lock event, or ``None`` for other events."""
    formatter = LIVE_FORMATTERS.get(type(event))
    return None if formatter is None else formatter(event)


# -- history ----------------------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> _dt.datetime | None:
    if value is None:
        return None
    match = _RELATIVE.match(value.strip())
    if match:
        return _dt.datetime.now(_dt.UTC) - _dt.timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    try:
        when = _dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use an ISO time (2026-12-01T08:00) or an age such as 2h, 7d") from None
    return when if when.tzinfo else when.replace(tzinfo=_dt.UTC)


def _kinds(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> list[str] | None:
    kinds = []
    for raw in value:
        for part in raw.split(","):
            name = part.strip()
            if not name:
                continue
            known = [
                m for m in UnlockMethod if name in (m.value, m.value.removeprefix("unlock_"), m.name.lower())
            ]
            alarms = [a for a in AlarmKind if name in (a.value, a.name.lower())]
            if known:
                kinds.append(str(known[0].value))
            elif alarms:
                kinds.append(str(alarms[0].value))
            elif name == "alarm_lock":
                kinds.append(name)
            else:
                raise click.BadParameter(
                    f"unknown kind {name[:40]!r} (e.g. fingerprint, card, duress, low_battery)"
                )
    return kinds or None


def _record_row(record: HistoryRecord) -> dict[str, Any]:
    return {
        "at": record.at.isoformat() if record.at else None,
        "type": str(record.record_type.value),
        "method": None if record.method is None else str(record.method.value),
        "key_number": record.key_number,
        "alarm": None if record.alarm is None else str(record.alarm.value),
        "member_id": record.member_id,
        "member_name": record.member_name,
        "media": len(record.media),
        "problem": record.problem,
    }


@click.command()
@click.argument("device")
@click.option("--since", callback=_since, help="Only records from then on: an ISO time or an age (2h, 7d).")
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    callback=_kinds,
    help="Only these kinds (repeat or comma-separate): fingerprint, card, password, app, duress, doorbell, ...",
)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many.")
@click.option("--alarms", "alarm_logs", is_flag=True, help="Read the alarm logs instead of the records.")
@connection_options
def history(
    device: str,
    since: _dt.datetime | None,
    kinds: list[str] | None,
    limit: int,
    alarm_logs: bool,
    connection: Connection,
    out: Output,
) -> None:
    """Who opened the door and how, and the alarms: newest first.

    DEVICE is a device id (with --sim also a role such as front_door).
    """
    run(out, _history(connection, out, device, since, kinds, limit, alarm_logs))


async def _history(
    connection: Connection,
    out: Output,
    device: str,
    since: _dt.datetime | None,
    kinds: list[str] | None,
    limit: int,
    alarm_logs: bool,
) -> None:
    async with open_target(connection, out) as target, connect(target) as cloud:
        device_id = resolve_device(target, device)
        if alarm_logs:
            pages = cloud.history.alarms(device_id, since=since, kinds=kinds)
        else:
            pages = cloud.history.records(device_id, since=since, kinds=kinds)
        records = await pages.collect(limit)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("when", "what", "key", "member"):
        table.add_column(column)
    for record in records:
        when = record.at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if record.at else "?"
        if record.alarm is not None:
            what = f"alarm {record.alarm.value}"
        elif record.method is not None:
            what = "unlock"
        else:
            what = f"unreadable: {record.problem}" if record.problem else str(record.record_type.value)
        table.add_row(when, what, _key(record.method, record.key_number), record.member_name or "")
    if not records:
        table.add_row("-", "(no records)", "", "")
    out.say(f"History of {device_id}:")
    out.show(table)
    if pages.stats.unreadable:
        out.note(f"{pages.stats.unreadable} unreadable record(s) shown as such")
    out.emit({"device_id": device_id, "records": [_record_row(r) for r in records]})


# -- status -----------------------------------------------------------------------------------------------------


def _status_document(status: LockStatus) -> dict[str, Any]:
    return {
        "device_id": status.device_id,
        "battery_percent": status.battery_percent,
        "battery_state": None if status.battery_state is None else str(status.battery_state.value),
        "door": None if status.door is None else str(status.door.value),
        "bolt_locked": status.bolt_locked,
        "last_alarm": None if status.last_alarm is None else str(status.last_alarm.value),
        "updated_at": status.updated_at.isoformat() if status.updated_at else None,
    }


@click.command()
@click.argument("device")
@connection_options
def status(device: str, connection: Connection, out: Output) -> None:
    """Battery, door, bolt and last alarm of a lock, as it last reported them."""
    run(out, _status(connection, out, device))


async def _status(connection: Connection, out: Output, device: str) -> None:
    async with open_target(connection, out) as target, connect(target) as cloud:
        snapshot = await cloud.status.get(resolve_device(target, device))
    document = _status_document(snapshot)
    out.say(f"Status of {snapshot.device_id}:")
    for name in ("battery_percent", "battery_state", "door", "bolt_locked", "last_alarm", "updated_at"):
        value = document[name]
        out.say(f"  {name.replace('_', ' ')}: {'-' if value is None or value == '' else value}")
    out.emit(document)


# -- members ----------------------------------------------------------------------------------------------------


def _member_row(member: Member) -> dict[str, Any]:
    return {
        "user_id": member.user_id,
        "nick_name": member.nick_name,
        "role": None if member.role is None else int(member.role),
        "keys": [{"method": str(k.method.value), "key_number": k.key_number} for k in member.keys],
    }


@click.group()
def members() -> None:
    """A lock's household: list, add, rename, give a key."""


@members.command("list")
@click.argument("device")
@connection_options
def list_members(device: str, connection: Connection, out: Output) -> None:
    """The members of DEVICE and the keys they hold."""

    async def body() -> None:
        async with open_target(connection, out) as target, connect(target) as cloud:
            device_id = resolve_device(target, device)
            found = await cloud.members.list(device_id).collect()
        out.say(f"Members of {device_id}:")
        for member in found:
            held = ", ".join(_key(k.method, k.key_number) for k in member.keys) or "no keys"
            out.say(f"  {member.user_id}  {member.nick_name or '-'}  ({held})")
        if not found:
            out.say("  (none)")
        out.emit({"device_id": device_id, "members": [_member_row(m) for m in found]})

    run(out, body())


@members.command("add")
@click.argument("device")
@click.argument("name")
@connection_options
def add_member(device: str, name: str, connection: Connection, out: Output) -> None:
    """Add NAME to the household of DEVICE; prints the new member's id."""

    async def body() -> None:
        async with open_target(connection, out) as target, connect(target) as cloud:
            user_id = await cloud.members.add(resolve_device(target, device), name)
        out.say(f"Added {name}: {user_id}")
        out.emit({"user_id": user_id})

    run(out, body())


@members.command("rename")
@click.argument("device")
@click.argument("user_id")
@click.argument("name")
@connection_options
def rename_member(device: str, user_id: str, name: str, connection: Connection, out: Output) -> None:
    """Rename member USER_ID of DEVICE."""

    async def body() -> None:
        async with open_target(connection, out) as target, connect(target) as cloud:
            await cloud.members.edit(resolve_device(target, device), user_id, nick_name=name)
        out.say(f"Renamed {user_id} to {name}")
        out.emit({"user_id": user_id, "nick_name": name})

    run(out, body())


@members.command("give-key")
@click.argument("device")
@click.argument("user_id")
@click.argument("key_number", type=click.IntRange(min=0))
@unlock_type_option(default="fingerprint", help="The key's type.")
@connection_options
def give_key(
    device: str,
    user_id: str,
    key_number: int,
    unlock_type: UnlockType,
    connection: Connection,
    out: Output,
) -> None:
    """Give key KEY_NUMBER (of --type) on DEVICE to member USER_ID."""

    async def body() -> None:
        async with open_target(connection, out) as target, connect(target) as cloud:
            await cloud.members.give_key(resolve_device(target, device), user_id, unlock_type, key_number)
        out.say(f"Gave {unlock_type.plain} #{key_number} to {user_id}")
        out.emit({"user_id": user_id, "unlock_type": unlock_type.plain, "key_number": key_number})

    run(out, body())

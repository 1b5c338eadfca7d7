"""``lockcloud codes``: guest access codes (create, list, show, freeze, unfreeze, delete, clear, offline, dynamic).

Times are read and shown in this machine's local time zone (or ``--time-zone`` where a command takes one), as
``YYYY-MM-DD HH:MM``. A bad value is one line naming the flag to fix, exit status 1.
"""

from __future__ import annotations

import datetime as dt
import sys
import zoneinfo
from collections.abc import Callable
from typing import Any

import click

from lockcloud._core.errors import ValidationError
from lockcloud.cli._errors import CommandError
from lockcloud.cli._options import connection_options
from lockcloud.cli._output import Output
from lockcloud.cli._run import run
from lockcloud.cli._target import Connection, connect, open_target, resolve_device
from lockcloud.enums import LockRadio
from lockcloud.models import OfflineCode, Schedule, TemporaryCode

__all__ = ["codes"]

_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")
_RADIOS = [radio.value for radio in LockRadio]

# The library names its arguments; the command names its flags.
_FLAGS = {
    "valid_from": "--from",
    "valid_until": "--until",
    "pin": "--pin",
    "name": "--name",
    "time_zone": "--time-zone",
    "phone": "--phone",
    "weekdays": "--days",
    "a weekday": "--days",
    "start": "--hours",
    "end": "--hours",
    "a schedule": "--hours",
    "offline codes": "--from/--until",
    "password_id": "ID",
    "radio": "--radio",
}


def _flag_error(error: ValidationError) -> CommandError:
    text = " ".join(str(error).split()).replace("round_to_hour=True", "--round")
    for name, flag in _FLAGS.items():
        if text.startswith(name):
            return CommandError(f"{flag}: {text}")
    return CommandError(text)


def _zone(name: str | None) -> zoneinfo.ZoneInfo | None:
    """The zone named by --time-zone, or ``None`` for this machine's local time (with its own DST rules)."""
    if name is None:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise CommandError(
            f"--time-zone: {name[:40]!r} is not a known IANA time zone such as Europe/Paris"
        ) from None


def _when(text: str, flag: str, zone: zoneinfo.ZoneInfo | None) -> dt.datetime:
    for pattern in _TIME_FORMATS:
        try:
            moment = dt.datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
        # A naive time's astimezone() reads it as local time, with the offset in force on that date.
        return moment.replace(tzinfo=zone) if zone is not None else moment.astimezone()
    raise CommandError(f"{flag}: {text[:40]!r} is not a time like '2030-05-03 15:00' (local time)")


def _shown(moment: dt.datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


def _schedule(days: str | None, hours: str | None) -> list[Schedule]:
    if days is None and hours is None:
        return []
    if days is None or hours is None:
        raise CommandError("--days and --hours go together (e.g. --days mon,tue,wed --hours 09:00-17:00)")
    start, sep, end = hours.partition("-")
    if not sep:
        raise CommandError(f"--hours: {hours[:20]!r} is not a range like 09:00-17:00")
    names = [day for day in days.split(",") if day.strip()]
    try:
        return [Schedule.weekly(names, start.strip(), end.strip())]
    except ValidationError as error:
        raise _flag_error(error) from None


def _code_row(code: TemporaryCode) -> dict[str, Any]:
    return {
        "id": code.id,
        "name": code.name,
        "state": str(code.state.value) if code.state is not None else None,
        "delivery_status": code.delivery_status.name.lower() if code.delivery_status is not None else None,
        "valid_from": _shown(code.valid_from),
        "valid_until": _shown(code.valid_until),
        "time_zone": code.time_zone or None,
        "schedules": [
            {
                "days": sorted(day.name.lower()[:3] for day in schedule.weekdays),
                "hours": f"{schedule.start:%H:%M}-{schedule.end:%H:%M}",
            }
            for schedule in code.schedules
        ],
    }


def _code_line(row: dict[str, Any]) -> str:
    hours = "; ".join(f"{','.join(s['days'])} {s['hours']}" for s in row["schedules"])
    return (
        f"#{row['id']}  {row['name'] or '-'}  {row['state']}  {row['valid_from']} -> {row['valid_until']}"
        + (f"  ({hours})" if hours else "")
    )


def _command(out: Output, body: Callable[[], Any]) -> None:
    async def guarded() -> None:
        try:
            await body()
        except ValidationError as error:
            raise _flag_error(error) from None

    run(out, guarded())


@click.group()
def codes() -> None:
    """Guest access codes: temporary PINs with a window and schedules, offline codes, the dynamic code.

    Times are local (this machine's time zone) unless --time-zone says otherwise.
    """


@codes.command("create")
@click.argument("device")
@click.option("--name", required=True, help="What the code is for (a guest, a booking).")
@click.option(
    "--pin",
    required=True,
    help="The code: 7 digits on Wi-Fi locks, 6 on Zigbee and Bluetooth; '-' reads stdin.",
)
@click.option("--from", "valid_from", required=True, help="Start, local time: '2030-05-03 15:00'.")
@click.option("--until", "valid_until", required=True, help="End, local time: '2030-05-05 11:00'.")
@click.option("--radio", type=click.Choice(_RADIOS), required=True, help="How the lock connects.")
@click.option("--once", is_flag=True, help="The code works once.")
@click.option("--days", help="Only on these weekdays: mon,tue,wed,thu,fri,sat,sun (with --hours).")
@click.option("--hours", help="Only between these times of day: 09:00-17:00 (with --days).")
@click.option("--time-zone", help="IANA zone for --from/--until and the schedule (default: the local one).")
@click.option("--phone", help="The guest's phone number.")
@click.option("--no-wait", is_flag=True, help="Do not wait for the lock to confirm the code.")
@click.option("--timeout", type=float, default=25.0, show_default=True, help="Seconds to wait for the lock.")
@connection_options
def create(
    device: str,
    name: str,
    pin: str,
    valid_from: str,
    valid_until: str,
    radio: str,
    once: bool,
    days: str | None,
    hours: str | None,
    time_zone: str | None,
    phone: str | None,
    no_wait: bool,
    timeout: float,
    connection: Connection,
    out: Output,
) -> None:
    """Create a temporary code on DEVICE and wait until the lock has it."""

    async def body() -> None:
        zone = _zone(time_zone)
        start, end = _when(valid_from, "--from", zone), _when(valid_until, "--until", zone)
        schedules = _schedule(days, hours)
        if timeout <= 0:
            raise CommandError("--timeout: must be positive")
        zone_name = zone.key if zone is not None else None
        if schedules and zone_name is None:
            raise CommandError("--time-zone: needed with --days/--hours (e.g. --time-zone Europe/Paris)")
        digits = sys.stdin.readline().strip() if pin == "-" else pin
        async with open_target(connection, out) as target, connect(target) as cloud:
            device_id = resolve_device(target, device)
            delivery = await cloud.access_codes.create(
                device_id,
                name=name,
                pin=digits,
                valid_from=start,
                valid_until=end,
                radio=radio,
                single_use=once,
                schedules=schedules,
                time_zone=zone_name,
                phone=phone,
            )
            code = (
                await delivery.status() if no_wait else await delivery.delivered(timeout, poll_interval=0.5)
            )
        row = _code_row(code)
        out.emit({"device_id": device_id, **row})
        out.say(f"{device_id}: code {_code_line(row)}")

    _command(out, body)


@codes.command("list")
@click.argument("device")
@click.option("--valid/--invalid", "valid", default=None, help="Only the valid (or the other) codes.")
@click.option("--radio", type=click.Choice(_RADIOS), help="How the lock connects (reads its states exactly).")
@connection_options
def list_codes(
    device: str, valid: bool | None, radio: str | None, connection: Connection, out: Output
) -> None:
    """List the temporary codes of DEVICE."""

    async def body() -> None:
        async with open_target(connection, out) as target, connect(target) as cloud:
            device_id = resolve_device(target, device)
            found = await cloud.access_codes.list(device_id, valid=valid, radio=radio)
        rows = [_code_row(code) for code in found]
        out.emit({"device_id": device_id, "codes": rows})
        out.say(f"Temporary codes on {device_id}:" if rows else f"No temporary codes on {device_id}.")
        for row in rows:
            out.say("  " + _code_line(row))

    _command(out, body)


@codes.command("show")
@click.argument("device")
@click.argument("password_id", metavar="ID", type=int)
@click.option("--radio", type=click.Choice(_RADIOS), help="How the lock connects (reads its state exactly).")
@connection_options
def show(device: str, password_id: int, radio: str | None, connection: Connection, out: Output) -> None:
    """Show one temporary code of DEVICE."""

    async def body() -> None:
        async with open_target(connection, out) as target, connect(target) as cloud:
            device_id = resolve_device(target, device)
            code = await cloud.access_codes.get(device_id, password_id, radio=radio)
        row = _code_row(code)
        out.emit({"device_id": device_id, **row})
        out.say(_code_line(row))

    _command(out, body)


def _simple(verb: str, past: str, call: Callable[[Any, str, int], Any]) -> click.Command:
    @click.command(verb)
    @click.argument("device")
    @click.argument("password_id", metavar="ID", type=int)
    @connection_options
    def command(device: str, password_id: int, connection: Connection, out: Output) -> None:
        async def body() -> None:
            async with open_target(connection, out) as target, connect(target) as cloud:
                device_id = resolve_device(target, device)
                done = await call(cloud, device_id, password_id)
            out.emit({"device_id": device_id, "id": password_id, past: bool(done)})
            if not done:
                raise CommandError(f"the cloud did not confirm: code #{password_id} not {past}")
            out.say(f"{device_id}: code #{password_id} {past}.")

        _command(out, body)

    command.help = f"{verb.capitalize()} temporary code ID of DEVICE."
    return command


codes.add_command(_simple("freeze", "frozen", lambda c, d, n: c.access_codes.freeze(d, n)))
codes.add_command(_simple("unfreeze", "unfrozen", lambda c, d, n: c.access_codes.unfreeze(d, n)))
codes.add_command(_simple("delete", "deleted", lambda c, d, n: c.access_codes.delete(d, n)))


@codes.command("clear")
@click.argument("device")
@click.option("--yes", is_flag=True, help="Do not ask: remove every temporary code.")
@connection_options
def clear(device: str, yes: bool, connection: Connection, out: Output) -> None:
    """Remove every temporary code of DEVICE."""
    if not yes and not click.confirm(f"Remove every temporary code of {device}?", err=True):
        raise CommandError("nothing removed (pass --yes to skip the question)")

    async def body() -> None:
        async with open_target(connection, out) as target, connect(target) as cloud:
            device_id = resolve_device(target, device)
            done = await cloud.access_codes.clear(device_id)
        out.emit({"device_id": device_id, "cleared": bool(done)})
        out.say(f"{device_id}: every temporary code removed.")

    _command(out, body)


@codes.command("offline")
@click.argument("device")
@click.option("--from", "valid_from", help="Start on a whole hour, local time: '2030-05-03 15:00'.")
@click.option("--until", "valid_until", help="End on a whole hour, local time.")
@click.option(
    "--round", "round_to_hour", is_flag=True, help="Widen --from/--until to the whole hours around them."
)
@click.option("--once", is_flag=True, help="A code that works once within the next 6 hours.")
@click.option("--clear", "clear_id", type=int, help="A code that clears offline code ID on the lock.")
@click.option("--clear-all", is_flag=True, help="A code that clears every offline code on the lock.")
@click.option("--name", help="What the code is for.")
@click.option("--time-zone", help="IANA zone for --from/--until (default: the local one).")
@connection_options
def offline(
    device: str,
    valid_from: str | None,
    valid_until: str | None,
    round_to_hour: bool,
    once: bool,
    clear_id: int | None,
    clear_all: bool,
    name: str | None,
    time_zone: str | None,
    connection: Connection,
    out: Output,
) -> None:
    """An offline code for DEVICE (the lock needs no connection to check it). The code is printed."""

    async def body() -> None:
        kinds = [
            k
            for k, on in (("--once", once), ("--clear", clear_id is not None), ("--clear-all", clear_all))
            if on
        ]
        if ((valid_from or valid_until) and kinds) or len(kinds) > 1:
            raise CommandError(
                f"{' and '.join(kinds + (['--from'] if valid_from else []))}: choose one kind of code"
            )
        if not kinds and not (valid_from and valid_until):
            raise CommandError("--from and --until are needed (or --once, --clear ID, --clear-all)")
        async with open_target(connection, out) as target, connect(target) as cloud:
            device_id = resolve_device(target, device)
            access = cloud.access_codes
            code: OfflineCode
            if once:
                code = await access.offline_once(device_id, name=name)
            elif clear_id is not None:
                code = await access.offline_clear_code(device_id, clear_id, name=name)
            elif clear_all:
                code = await access.offline_clear_all_code(device_id, name=name)
            else:
                zone = _zone(time_zone)
                assert valid_from is not None
                assert valid_until is not None
                code = await access.create_offline(
                    device_id,
                    valid_from=_when(valid_from, "--from", zone),
                    valid_until=_when(valid_until, "--until", zone),
                    name=name,
                    round_to_hour=round_to_hour,
                )
        kind = code.kind.value if code.kind is not None else None
        out.emit(
            {
                "device_id": device_id,
                "code": code.code,
                "id": code.password_id,
                "kind": kind,
                "valid_from": _shown(code.valid_from) if code.valid_from else None,
                "valid_until": _shown(code.valid_until) if code.valid_until else None,
            }
        )
        window = f", {_shown(code.valid_from)} -> {_shown(code.valid_until)}" if code.valid_from else ""
        out.say(f"{device_id}: offline code {code.code} (#{code.password_id}, {kind}{window})")

    _command(out, body)


@codes.command("dynamic")
@click.argument("device")
@connection_options
def dynamic(device: str, connection: Connection, out: Output) -> None:
    """The current dynamic code of DEVICE (it changes every few minutes). The code is printed."""

    async def body() -> None:
        async with open_target(connection, out) as target, connect(target) as cloud:
            device_id = resolve_device(target, device)
            code = await cloud.access_codes.dynamic(device_id)
        out.emit({"device_id": device_id, "code": code.code})
        out.say(f"{device_id}: dynamic code {code.code}")

    _command(out, body)

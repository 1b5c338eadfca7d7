"""Guest access codes in the simulated cloud: online temporary codes (delivered late by Zigbee locks), offline
codes, the dynamic code, and a guest typing one of them on the keypad.

Each radio answers with its own ``phase`` numbers (Zigbee 1-5 plus ``delivery_status``, Wi-Fi 0-3, Bluetooth 0-3
and 7). A Zigbee lock takes a code ``delivery_delay`` seconds (simulated clock) after it was created, and only while
it is online; it refuses it for a full lock (``capacity``), a PIN it already has, or whatever
``delivery_failure`` says (see ``FaultInjector.code_delivery_fails``). Windows, single use and weekly schedules are
enforced on the simulated clock in the code's time zone. Freezing exists only on Zigbee locks, the one radio whose
phases can say "frozen"; the others answer 2003.
"""

from __future__ import annotations

import datetime as dt
import secrets
import zoneinfo
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from lockcloud.enums import DeliveryStatus
from lockcloud.sim import _call
from lockcloud.sim._call import Call, Handler, Outcome, fail
from lockcloud.sim._history import write_record
from lockcloud.sim._model import LockKind, SimLock
from lockcloud.sim._push import PushMessage, status_report
from lockcloud.sim._remote_unlock import decrypt_pin, spend_ticket

if TYPE_CHECKING:
    from lockcloud.sim._world import World

__all__ = ["HANDLERS", "AccessCodeBook", "SimAccessCode", "SimOfflineCode", "type_code"]

_WIFI = "wifi"
_ZIGBEE = "zigbee"
_BLUETOOTH = "bluetooth"
_RADIO = {
    LockKind.WIFI: _WIFI,
    LockKind.KEEPALIVE_WIFI: _WIFI,
    LockKind.VIDEO: _WIFI,
    LockKind.ZIGBEE: _ZIGBEE,
    LockKind.BLUETOOTH: _BLUETOOTH,
}
_PIN_LENGTH = {_WIFI: 7, _ZIGBEE: 6, _BLUETOOTH: 6}

# The phase numbers of each radio, by what they mean.
_PHASES = {
    _ZIGBEE: {"pending": 1, "active": 2, "frozen": 3, "deleted": 4, "failed": 5},
    _WIFI: {"deleted": 0, "pending": 1, "active": 2, "deleting": 3},
    _BLUETOOTH: {"deleted": 0, "pending": 1, "active": 2, "deleting": 3, "failed": 7},
}
_LIVE = frozenset({"pending", "active", "frozen"})
_HOUR = 3600


@attrs.define
class SimAccessCode:
    """An online temporary code on one simulated lock. ``status`` is one of pending, active, frozen, deleted,
    failed; ``refusal`` the delivery status a Zigbee lock will answer instead of success."""

    password_id: int
    name: str
    pin: str = attrs.field(repr=False)
    effective_time: int
    invalid_time: int
    single_use: bool = False
    schedules: list[tuple[int, int, int]] = attrs.field(factory=list)
    time_zone: str | None = None
    phone: str | None = attrs.field(default=None, repr=False)
    status: str = "pending"
    deliver_at: float = 0.0
    refusal: DeliveryStatus | None = None
    delivery_status: DeliveryStatus | None = None
    used: bool = False


@attrs.define
class SimOfflineCode:
    """An offline code the lock checks by itself (``kind`` multiple, once, clear_one, clear_all)."""

    password_id: int
    kind: str
    code: str = attrs.field(repr=False)
    effective_time: int
    invalid_time: int
    name: str = ""
    clears: int | None = None
    used: bool = False


@attrs.define
class AccessCodeBook:
    """The access codes of every lock of a world, and how Zigbee delivery behaves."""

    #: Seconds (simulated clock) a Zigbee lock takes to confirm or refuse a new code.
    delivery_delay: float = 0.5
    #: What the next Zigbee deliveries answer instead of success (``None``: the lock decides).
    delivery_failure: DeliveryStatus | None = None
    #: Live temporary codes a lock holds at most.
    capacity: int = 50
    #: Wrong codes in a row that raise the lock's ``wrong_password`` alarm.
    wrong_tries_alarm: int = 3
    codes: dict[str, dict[int, SimAccessCode]] = attrs.field(factory=dict)
    offline: dict[str, dict[int, SimOfflineCode]] = attrs.field(factory=dict)
    dynamic: dict[str, tuple[str, float]] = attrs.field(factory=dict, repr=False)
    wrong_tries: dict[str, int] = attrs.field(factory=dict)
    next_id: int = 1001

    def codes_of(self, device_id: str) -> dict[int, SimAccessCode]:
        return self.codes.setdefault(device_id, {})

    def offline_of(self, device_id: str) -> dict[int, SimOfflineCode]:
        return self.offline.setdefault(device_id, {})

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


# -- wire -------------------------------------------------------------------------------------------------------


def _radio(lock: SimLock, call: Call) -> str:
    _call.require_applicable(lock, call.action)
    return _RADIO[lock.kind]


def _seconds(body: Mapping[str, Any], name: str) -> int:
    value = _call.integer(body.get(name), name)
    if not 0 < value < 10_000_000_000:
        raise fail(1109, f"{name} must be a 10-digit timestamp in seconds")
    return value


def _schedules(body: Mapping[str, Any]) -> list[tuple[int, int, int]]:
    raw = body.get("schedule_list")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise fail(1109, "schedule_list must be a list")
    result = []
    for item in raw:
        if not isinstance(item, dict):
            raise fail(1109, "schedule_list items must be objects")
        start = _call.integer(item.get("effective_time"), "schedule_list.effective_time")
        end = _call.integer(item.get("invalid_time"), "schedule_list.invalid_time")
        days = _call.integer(item.get("working_day"), "schedule_list.working_day")
        if not (0 <= start < end <= 1439 or (0 <= start < 1439 and end == 1439)):
            raise fail(1101, "schedule minutes must run from 0 to 1439, start before end")
        if not 0 < days <= 0x7F:
            raise fail(1101, "working_day must set at least one of bits 0-6")
        result.append((start, end, days))
    return result


def _time_zone(body: Mapping[str, Any], needed: bool) -> str | None:
    zone = body.get("time_zone")
    if zone is None or zone == "":
        if needed:
            raise fail(1100, "time_zone is required with schedule_list")
        return None
    if not isinstance(zone, str):
        raise fail(1109, "time_zone must be a string")
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise fail(1109, "time_zone is not a known time zone") from None
    return zone


def _sealed_pin(world: World, lock: SimLock, call: Call, radio: str) -> str:
    password = _call.text(call.body, "password")
    if _call.text(call.body, "password_type") != "ticket":
        raise fail(1109, "password_type must be 'ticket'")
    pin = decrypt_pin(password, spend_ticket(world, lock, _call.text(call.body, "ticket_id")))
    if len(pin) != _PIN_LENGTH[radio]:
        raise fail(1109, f"the password must be {_PIN_LENGTH[radio]} digits on this lock")
    return pin


def _fill(world: World, lock: SimLock, code: SimAccessCode, call: Call, radio: str) -> None:
    body = call.body
    name = body.get("name", "" if call.action == "create_unnamed_temp_password" else None)
    if call.action == "create_unnamed_temp_password" and name:
        raise fail(1109, "the unnamed create takes no name")
    if not isinstance(name, str) or (not name.strip() and call.action != "create_unnamed_temp_password"):
        raise fail(1100, "name is required")
    start = _seconds(body, "effective_time")
    end = _seconds(body, "invalid_time")
    if end <= start:
        raise fail(1109, "invalid_time must be later than effective_time")
    kind = body.get("type", 0)
    if kind not in (0, 1):
        raise fail(1109, "type must be 0 (many uses) or 1 (once)")
    schedules = _schedules(body)
    code.time_zone = _time_zone(body, bool(schedules))
    code.pin = _sealed_pin(world, lock, call, radio)
    code.name, code.effective_time, code.invalid_time = name, start, end
    code.single_use, code.schedules, code.used = kind == 1, schedules, False
    phone = body.get("phone")
    code.phone = phone if isinstance(phone, str) else None
    _start_delivery(world, lock, code, radio)


def _start_delivery(world: World, lock: SimLock, code: SimAccessCode, radio: str) -> None:
    book = world.access_codes
    if radio != _ZIGBEE:
        code.status, code.delivery_status = "active", None
        return
    live = [
        other
        for other in book.codes_of(lock.device_id).values()
        if other is not code and other.status in _LIVE
    ]
    refusal = book.delivery_failure
    if refusal is None and len(live) >= book.capacity:
        refusal = DeliveryStatus.CAPACITY_REACHED
    if refusal is None and any(other.pin == code.pin for other in live):
        refusal = DeliveryStatus.ALREADY_EXISTS
    code.status, code.refusal = "pending", refusal
    code.delivery_status = DeliveryStatus.IN_PROGRESS
    code.deliver_at = world.now() + book.delivery_delay


def _settle(world: World, lock: SimLock, code: SimAccessCode) -> None:
    """A Zigbee lock answers once its delay has passed, and only while it is online."""
    if code.status != "pending" or not lock.online or world.now() < code.deliver_at:
        return
    if code.refusal is not None:
        code.status, code.delivery_status = "failed", code.refusal
    else:
        code.status, code.delivery_status = "active", DeliveryStatus.SUCCEEDED


def _wire(code: SimAccessCode, radio: str) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": code.password_id,
        "name": code.name,
        "phase": _PHASES[radio].get(code.status, _PHASES[radio]["deleted"]),
        "effective_time": code.effective_time,
        "invalid_time": code.invalid_time,
        "phone": code.phone or "",
        "time_zone": code.time_zone or "",
        "schedule_list": [
            {"effective_time": start, "invalid_time": end, "working_day": days}
            for start, end, days in code.schedules
        ],
    }
    if radio == _ZIGBEE and code.delivery_status is not None:
        item["delivery_status"] = int(code.delivery_status)
    return item


def _code(world: World, lock: SimLock, call: Call) -> SimAccessCode:
    number = _call.integer(call.path_params.get("password_id"), "password_id")
    code = world.access_codes.codes_of(lock.device_id).get(number)
    if code is None or code.status == "deleted":
        raise fail(1000, f"no temporary password {number} on this lock")
    _settle(world, lock, code)
    return code


# -- handlers ---------------------------------------------------------------------------------------------------


def create_temp_password(world: World, lock: SimLock, call: Call) -> Outcome:
    radio = _radio(lock, call)
    if radio != _ZIGBEE:
        _call.require_online(lock)
    code = SimAccessCode(
        password_id=world.access_codes.new_id(), name="", pin="", effective_time=0, invalid_time=0
    )
    _fill(world, lock, code, call, radio)
    world.access_codes.codes_of(lock.device_id)[code.password_id] = code
    return Outcome({"id": code.password_id}, detail={"password_id": code.password_id})


def modify_temp_password(world: World, lock: SimLock, call: Call) -> Outcome:
    radio = _radio(lock, call)
    if radio != _ZIGBEE:
        _call.require_online(lock)
    code = _code(world, lock, call)
    _fill(world, lock, code, call, radio)
    return Outcome(True, detail={"password_id": code.password_id})


def list_temp_passwords(world: World, lock: SimLock, call: Call) -> Outcome:
    radio = _radio(lock, call)
    wanted = call.query.get("valid")
    if wanted not in (None, "", "true", "false"):
        raise fail(1109, "valid must be true or false")
    now = world.now()
    items = []
    for code in world.access_codes.codes_of(lock.device_id).values():
        _settle(world, lock, code)
        valid = code.status in _LIVE and code.invalid_time > now and not code.used
        if (wanted == "true" and not valid) or (wanted == "false" and valid):
            continue
        items.append(_wire(code, radio))
    return Outcome(items)


def get_temp_password(world: World, lock: SimLock, call: Call) -> Outcome:
    radio = _radio(lock, call)
    return Outcome(_wire(_code(world, lock, call), radio))


def _freezing(world: World, lock: SimLock, call: Call, frozen: bool) -> Outcome:
    radio = _radio(lock, call)
    if radio != _ZIGBEE:
        raise fail(
            2003, f"freezing a temporary password is not supported on this lock type ({lock.kind.label})"
        )
    _call.require_online(lock)
    code = _code(world, lock, call)
    if code.status not in ("active", "frozen"):
        raise fail(1109, "only a delivered temporary password can be frozen or unfrozen")
    code.status = "frozen" if frozen else "active"
    return Outcome(True, detail={"password_id": code.password_id, "frozen": frozen})


def freeze_temp_password(world: World, lock: SimLock, call: Call) -> Outcome:
    return _freezing(world, lock, call, True)


def unfreeze_temp_password(world: World, lock: SimLock, call: Call) -> Outcome:
    return _freezing(world, lock, call, False)


def delete_temp_password(world: World, lock: SimLock, call: Call) -> Outcome:
    _radio(lock, call)
    code = _code(world, lock, call)
    code.status = "deleted"
    return Outcome(True, detail={"password_id": code.password_id})


def clear_temp_passwords(world: World, lock: SimLock, call: Call) -> Outcome:
    _radio(lock, call)
    cleared = 0
    for code in world.access_codes.codes_of(lock.device_id).values():
        if code.status != "deleted":
            code.status = "deleted"
            cleared += 1
    return Outcome(True, detail={"cleared": cleared})


def sync_temp_passwords(world: World, lock: SimLock, call: Call) -> Outcome:
    _radio(lock, call)
    _call.require_online(lock)
    for code in world.access_codes.codes_of(lock.device_id).values():
        _settle(world, lock, code)
    return Outcome(True)


def _floor_hour(seconds: float) -> int:
    return int(seconds) - int(seconds) % _HOUR


def offline_password(world: World, lock: SimLock, call: Call) -> Outcome:
    _radio(lock, call)
    body, book = call.body, world.access_codes
    kind = body.get("type", "multiple")
    hour = _floor_hour(world.now())
    clears: int | None = None
    if kind == "multiple":
        # Tuya keeps the hour of each time it is given.
        start = _floor_hour(_seconds(body, "effective_time"))
        end = _floor_hour(_seconds(body, "invalid_time"))
        if end <= start:
            raise fail(1109, "invalid_time must be at least an hour after effective_time")
    elif kind == "once":
        start, end = hour, hour + 6 * _HOUR
    elif kind == "clear_all":
        start, end = hour, hour + 24 * _HOUR
    elif kind == "clear_one":
        clears = _call.integer(body.get("password_id"), "password_id")
        if clears not in book.offline_of(lock.device_id):
            raise fail(1000, f"no offline password {clears} on this lock")
        start, end = hour, hour + 24 * _HOUR
    else:
        raise fail(1109, "type must be multiple, once, clear_one or clear_all")
    name = body.get("name")
    code = SimOfflineCode(
        password_id=book.new_id(),
        kind=kind,
        code="".join(secrets.choice("0123456789") for _ in range(10)),
        effective_time=start,
        invalid_time=end,
        name=name if isinstance(name, str) else "",
        clears=clears,
    )
    book.offline_of(lock.device_id)[code.password_id] = code
    result = {
        "offline_temp_password": code.code,
        "offline_temp_password_id": code.password_id,
        "name": code.name,
    }
    return Outcome(result, detail={"password_id": code.password_id, "type": kind})


def dynamic_password(world: World, lock: SimLock, call: Call) -> Outcome:
    _radio(lock, call)
    book = world.access_codes
    current = book.dynamic.get(lock.device_id)
    if current is None or current[1] <= world.now():
        current = ("".join(secrets.choice("0123456789") for _ in range(8)), world.now() + 300)
        book.dynamic[lock.device_id] = current
    return Outcome({"dynamic_password": current[0]})


HANDLERS: Mapping[str, Handler] = {
    "create_temp_password": create_temp_password,
    "create_unnamed_temp_password": create_temp_password,
    "list_temp_passwords": list_temp_passwords,
    "get_temp_password": get_temp_password,
    "modify_temp_password": modify_temp_password,
    "freeze_temp_password": freeze_temp_password,
    "unfreeze_temp_password": unfreeze_temp_password,
    "delete_temp_password": delete_temp_password,
    "clear_temp_passwords": clear_temp_passwords,
    "sync_temp_passwords": sync_temp_passwords,
    "offline_password": offline_password,
    "dynamic_password": dynamic_password,
}


# -- the keypad -------------------------------------------------------------------------------------------------


def _in_schedule(code: SimAccessCode, now: float) -> bool:
    if not code.schedules:
        return True
    zone = zoneinfo.ZoneInfo(code.time_zone) if code.time_zone else dt.UTC
    local = dt.datetime.fromtimestamp(now, zone)
    day_bit = 1 << ((local.weekday() + 1) % 7)  # bit 0 is Sunday; Python counts from Monday
    minute = local.hour * 60 + local.minute
    return any(days & day_bit and start <= minute < end for start, end, days in code.schedules)


def _temporary_match(world: World, lock: SimLock, typed: str, now: float) -> SimAccessCode | None:
    for code in world.access_codes.codes_of(lock.device_id).values():
        _settle(world, lock, code)
        if (
            code.pin == typed
            and code.status == "active"
            and not code.used
            and code.effective_time <= now < code.invalid_time
            and _in_schedule(code, now)
        ):
            return code
    return None


def type_code(
    world: World, device_id: str, typed: str, at: float | None = None
) -> tuple[bool, list[PushMessage]]:
    """A guest types ``typed`` on the keypad at ``at`` (simulated clock by default): whether the door opened, and
    the status reports the lock sent (``unlock_temporary`` / ``unlock_offline_pd`` / ``unlock_dynamic`` with the
    code's number, or ``alarm_lock: wrong_password`` after too many wrong tries in a row)."""
    lock = world.lock(device_id)
    book = world.access_codes
    now = world.now() if at is None else at
    stamp = int(now * 1000)
    reported: dict[str, Any] | None = None
    name: str | None = None
    code = _temporary_match(world, lock, typed, now)
    if code is not None:
        code.used = code.single_use
        reported, name = {"unlock_temporary": code.password_id}, code.name
    else:
        for offline in book.offline_of(device_id).values():
            if (
                offline.code != typed
                or offline.used
                or not offline.effective_time <= now < offline.invalid_time
            ):
                continue
            if offline.kind in ("multiple", "once"):
                offline.used = offline.kind == "once"
                reported, name = {"unlock_offline_pd": offline.password_id}, offline.name or None
            else:
                # A clear code opens nothing; it removes offline codes from the lock.
                offline.used = True
                for other in book.offline_of(device_id).values():
                    if offline.kind == "clear_all" or other.password_id == offline.clears:
                        other.used = True
                return False, []
            break
        dynamic = book.dynamic.get(device_id)
        if reported is None and dynamic is not None and dynamic[0] == typed and now < dynamic[1]:
            reported = {"unlock_dynamic": 0}
    if reported is None:
        tries = book.wrong_tries.get(device_id, 0) + 1
        book.wrong_tries[device_id] = tries
        if tries % book.wrong_tries_alarm == 0:
            lock.log.last_alarm = "wrong_password"
            write_record(world, lock, "alarm_lock", "wrong_password", at_ms=stamp, push=False)
            return False, [status_report(lock, {"alarm_lock": "wrong_password"}, stamp)]
        return False, []
    book.wrong_tries[device_id] = 0
    # The history keeps the unlock and the door's opening; the lock reports both in one status report.
    ((dp_code, number),) = reported.items()
    write_record(world, lock, dp_code, number, at_ms=stamp, unlock_name=name, push=False)
    write_record(world, lock, "closed_opened", "open", at_ms=stamp, push=False)
    lock.log.bolt_locked = False
    lock.door_open = True
    return True, [status_report(lock, {**reported, "closed_opened": "open"}, stamp)]

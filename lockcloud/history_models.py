"""Who opened the door, how, and the lock's state: history records, alarms, members and the status snapshot.

Every enum here is open (an unknown value stays a typed pseudo-member with ``is_known`` false and its raw
``value``). The ``read_*`` functions build the models from Tuya's JSON and raise ``ValueError``/``TypeError`` for
an item of the wrong shape; the paging iterators turn such an item into an :attr:`RecordType.UNKNOWN` record.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from lockcloud._core.converter import from_epoch
from lockcloud.enums import OpenIntEnum, OpenStrEnum
from lockcloud.models import MediaFile

__all__ = [
    "AlarmKind",
    "BatteryState",
    "DoorState",
    "HistoryRecord",
    "HistoryStats",
    "LockStatus",
    "Member",
    "MemberKey",
    "MemberRole",
    "RecordType",
    "UnlockMethod",
    "alarm_from_code",
    "key_reference",
    "read_alarm_log",
    "read_member",
    "read_open_log",
    "read_record",
    "read_status",
    "unreadable",
]


class UnlockMethod(OpenStrEnum):
    """How the door was opened: the standard DP code the lock reports (its value is the key's number)."""

    FINGERPRINT = "unlock_fingerprint"
    PASSWORD = "unlock_password"
    CARD = "unlock_card"
    FACE = "unlock_face"
    TEMPORARY_PASSWORD = "unlock_temporary"
    OFFLINE_PASSWORD = "unlock_offline_pd"
    DYNAMIC_PASSWORD = "unlock_dynamic"
    APP = "unlock_app"
    REMOTE = "unlock_remote"
    BLUETOOTH = "unlock_ble"
    REMOTE_CONTROL = "unlock_telecontrol_kit"
    MECHANICAL_KEY = "unlock_key"
    HAND = "unlock_hand"
    FINGER_VEIN = "unlock_finger_vein"

    @property
    def label(self) -> str:
        """A short human name (``"fingerprint"``, ``"temporary password"``); the raw code when unknown."""
        if not self.is_known:
            return str(self.value)
        return self.name.lower().replace("_", " ")


class AlarmKind(OpenStrEnum):
    """What an alarm was about: ``hijack`` and ``doorbell`` are DP codes of their own, the rest are values of
    ``alarm_lock``."""

    DURESS = "hijack"
    DOORBELL = "doorbell"
    WRONG_FINGER = "wrong_finger"
    WRONG_PASSWORD = "wrong_password"
    WRONG_CARD = "wrong_card"
    WRONG_FACE = "wrong_face"
    TAMPER = "pry"
    LOW_BATTERY = "low_battery"
    POWER_OFF = "power_off"
    SHOCK = "shock"
    TOO_HOT = "too_hot"
    DOOR_LEFT_OPEN = "unclosed_time"
    BOLT_NOT_OUT = "tongue_not_out"
    BOLT_FAULT = "tongue_bad"
    KEY_IN = "key_in"
    DEFENSE = "defense"

    @property
    def dp_code(self) -> str:
        """The DP code that carries this kind (``hijack``, ``doorbell`` or ``alarm_lock``)."""
        if self in (AlarmKind.DURESS, AlarmKind.DOORBELL):
            return str(self.value)
        return ALARM_LOCK_CODE


class RecordType(OpenStrEnum):
    """``normal`` an unlock, ``alarm`` an alarm; ``unknown`` an item lockcloud could not read (see ``problem``)."""

    UNLOCK = "normal"
    ALARM = "alarm"
    UNKNOWN = "unknown"


class BatteryState(OpenStrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    EXHAUSTED = "poweroff"


class DoorState(OpenStrEnum):
    OPEN = "open"
    CLOSED = "closed"


class MemberRole(OpenIntEnum):
    """A member's role on a lock (``user_type`` of the members list)."""

    ADMINISTRATOR = 10
    MEMBER = 20
    OWNER = 50


ALARM_LOCK_CODE = "alarm_lock"
HIJACK_CODE = "hijack"
DOORBELL_CODE = "doorbell"
BATTERY_PERCENT_CODE = "residual_electricity"
BATTERY_STATE_CODE = "battery_state"
DOOR_CODE = "closed_opened"
BOLT_CODE = "lock_motor_state"
ALARM_CODES = frozenset({ALARM_LOCK_CODE, HIJACK_CODE, DOORBELL_CODE})


@attrs.frozen(kw_only=True)
class HistoryRecord:
    """One entry of a lock's history: an unlock or an alarm.

    ``at`` is when it happened; ``method`` and ``key_number`` how the door was opened (for a duress alarm, the key
    that raised it); ``member_id``/``member_name`` whose key it was, when the lock knows; ``alarm`` the kind of an
    alarm. ``media`` are the photos the lock took, downloadable with ``cloud.remote_unlock.download_media``.
    ``record_type`` is :attr:`RecordType.UNKNOWN` for an item that could not be read: ``problem`` says why and
    ``raw`` keeps it.
    """

    record_type: RecordType
    at: _dt.datetime | None = None
    record_id: str | None = None
    method: UnlockMethod | None = None
    key_number: int | None = None
    alarm: AlarmKind | None = None
    member_id: str | None = None
    member_name: str | None = None
    unlock_name: str | None = None
    media: tuple[MediaFile, ...] = ()
    problem: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def is_duress(self) -> bool:
        return self.alarm is AlarmKind.DURESS


@attrs.define
class HistoryStats:
    """Counters of one history iteration: ``pages`` fetched, ``records`` yielded, ``unreadable`` of them
    items that could not be read (yielded as :attr:`RecordType.UNKNOWN`)."""

    pages: int = 0
    records: int = 0
    unreadable: int = 0


@attrs.frozen(kw_only=True)
class LockStatus:
    """A snapshot of a lock's reported state; a field is ``None`` when the lock does not report it.

    ``bolt_locked`` is the motor state (``lock_motor_state``); ``properties`` every reported code and value.
    """

    device_id: str
    battery_percent: int | None = None
    battery_state: BatteryState | None = None
    door: DoorState | None = None
    bolt_locked: bool | None = None
    last_alarm: AlarmKind | None = None
    updated_at: _dt.datetime | None = None
    properties: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class MemberKey:
    """A key a member holds: its unlock method and number, and its name on the lock."""

    method: UnlockMethod
    key_number: int
    name: str | None = None


@attrs.frozen(kw_only=True)
class Member:
    """A member of a lock's household and the keys they hold."""

    user_id: str
    nick_name: str | None = None
    role: MemberRole | None = None
    lock_user_id: int | None = None
    contact: str | None = attrs.field(default=None, repr=False)
    avatar_url: str | None = attrs.field(default=None, repr=False)
    effective: bool | None = None
    keys: tuple[MemberKey, ...] = ()
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


# -- reading Tuya's JSON ----------------------------------------------------------------------------------------

# Fast paths for the values Tuya sends: a dict lookup instead of the enum's call (the same members).
_METHODS: dict[Any, UnlockMethod] = dict(UnlockMethod._value2member_map_)
_RECORD_TYPES: dict[Any, RecordType] = dict(RecordType._value2member_map_)


def _text(value: Any, name: str) -> str | None:
    if type(value) is str:
        return value or None
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"{name} is a {type(value).__name__}, not a string")


def _integer(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} is a boolean, not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise TypeError(f"{name} is not a whole number")


def _time(value: Any, name: str) -> _dt.datetime:
    if type(value) is int and 0 <= value < 10**14:
        # What Tuya sends (epoch seconds or milliseconds) without from_epoch's checks; the same result.
        return _dt.datetime.fromtimestamp(value / 1000 if value >= 100_000_000_000 else value, tz=_dt.UTC)
    if value is None or isinstance(value, bool):
        raise TypeError(f"{name} is missing")
    try:
        return from_epoch(value)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise ValueError(f"{name} is not an epoch time") from exc


def key_reference(code: str, value: Any) -> tuple[UnlockMethod | None, int | None]:
    """The unlock method and key number of a DP ``code`` and its ``value``.

    ``unlock_fingerprint`` = 3 is fingerprint #3; a duress value such as ``"unlock_fingerprint-02"`` names both.
    """
    if code == HIJACK_CODE:
        if isinstance(value, str) and "-" in value:
            method_code, _, number = value.rpartition("-")
            return UnlockMethod(method_code), _integer(number, "hijack key number")
        return None, _integer(value, "hijack value")
    if code.startswith("unlock_"):
        method = _METHODS.get(code) or UnlockMethod(code)
        return method, value if type(value) is int else _integer(value, code)
    return None, None


def alarm_from_code(code: str, value: Any) -> AlarmKind | None:
    """The alarm a DP reports, or ``None`` if ``code`` is no alarm code."""
    if code == HIJACK_CODE:
        return AlarmKind.DURESS
    if code == DOORBELL_CODE:
        return AlarmKind.DOORBELL
    if code == ALARM_LOCK_CODE:
        if not isinstance(value, str) or not value:
            raise TypeError("alarm_lock value is not a string")
        return AlarmKind(value)
    return None


def _status_items(value: Any, name: str) -> list[tuple[str, Any]]:
    """``[{code|dp_code, value|dp_value}]`` (or one such object) as (code, value) pairs."""
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise TypeError(f"{name} is not a list")
    pairs = []
    for item in items:
        if not isinstance(item, dict):
            raise TypeError(f"an item of {name} is not an object")
        code = item.get("code", item.get("dp_code", item.get("dpCode")))
        if not isinstance(code, str) or not code:
            raise TypeError(f"an item of {name} has no code")
        pairs.append((code, item.get("value", item.get("dp_value", item.get("dpValue")))))
    return pairs


def _from_status(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The method, key number and alarm of a record's data points."""
    found: dict[str, Any] = {}
    for code, value in pairs:
        alarm = alarm_from_code(code, value)
        if alarm is not None and "alarm" not in found:
            found["alarm"] = alarm
        method, number = key_reference(code, value)
        if method is not None and "method" not in found:
            found["method"], found["key_number"] = method, number
    return found


def _media(value: Any) -> tuple[MediaFile, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TypeError("media_info_list is not a list")
    files = []
    for item in value:
        if not isinstance(item, dict):
            raise TypeError("an item of media_info_list is not an object")
        url, key = _text(item.get("file_url"), "file_url"), _text(item.get("file_key"), "file_key")
        if url and key:
            files.append(
                MediaFile(
                    file_url=url,
                    file_key=key,
                    bucket=_text(item.get("bucket"), "bucket"),
                    file_path=_text(item.get("file_path"), "file_path"),
                )
            )
    return tuple(files)


def _object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TypeError(f"the item is a {type(raw).__name__}, not an object")
    return raw


def read_record(raw: Any) -> HistoryRecord:
    """One item of ``door-lock/records``."""
    item = _object(raw)
    found = _from_status(_status_items(item.get("dps") or [], "dps"))
    kind_raw = item.get("record_type")
    if kind_raw is None:
        record_type = RecordType.ALARM if "alarm" in found else RecordType.UNLOCK
    else:
        record_type = _RECORD_TYPES.get(kind_raw) or RecordType(_text(kind_raw, "record_type") or "normal")
    return HistoryRecord(
        record_type=record_type,
        at=_time(item.get("gmt_create"), "gmt_create"),
        record_id=_text(item.get("record_id"), "record_id"),
        member_id=_text(item.get("user_id"), "user_id"),
        member_name=_text(item.get("user_name"), "user_name"),
        unlock_name=_text(item.get("unlock_name"), "unlock_name"),
        media=_media(item.get("media_info_list")),
        raw=item,
        **found,
    )


def read_open_log(raw: Any) -> HistoryRecord:
    """One item of the legacy ``door-lock/open-logs``."""
    item = _object(raw)
    found = _from_status(_status_items(item.get("status") or [], "status"))
    return HistoryRecord(
        record_type=RecordType.UNLOCK,
        at=_time(item.get("update_time"), "update_time"),
        member_id=_text(item.get("user_id"), "user_id"),
        member_name=_text(item.get("nick_name"), "nick_name"),
        unlock_name=_text(item.get("unlock_name"), "unlock_name"),
        raw=item,
        **found,
    )


def read_alarm_log(raw: Any) -> HistoryRecord:
    """One item of ``door-lock/alarm-logs`` (its ``status`` is one object in the sample, a list in the table)."""
    item = _object(raw)
    found = _from_status(_status_items(item.get("status") or [], "status"))
    if "alarm" not in found:
        raise ValueError("the alarm log names no alarm code")
    return HistoryRecord(
        record_type=RecordType.ALARM,
        at=_time(item.get("update_time"), "update_time"),
        member_name=_text(item.get("nick_name"), "nick_name"),
        raw=item,
        **found,
    )


def unreadable(raw: Any, problem: str) -> HistoryRecord:
    """The record an unreadable item becomes: typed unknown, its content kept."""
    return HistoryRecord(
        record_type=RecordType.UNKNOWN,
        problem=problem[:300],
        raw=raw if isinstance(raw, dict) else {"item": raw},
    )


def read_status(device_id: str, raw: Any) -> LockStatus:
    """The shadow properties ``{"properties": [{code, value, time, ...}]}`` as a snapshot."""
    items = raw.get("properties") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise TypeError("the shadow has no properties list")
    values: dict[str, Any] = {}
    latest: _dt.datetime | None = None
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            continue
        values[item["code"]] = item.get("value")
        stamp = item.get("time")
        if stamp is not None and not isinstance(stamp, bool):
            when = _time(stamp, "time")
            latest = when if latest is None or when > latest else latest
    percent = values.get(BATTERY_PERCENT_CODE)
    battery = values.get(BATTERY_STATE_CODE)
    door = values.get(DOOR_CODE)
    bolt = values.get(BOLT_CODE)
    alarm = values.get(ALARM_LOCK_CODE)
    return LockStatus(
        device_id=device_id,
        battery_percent=_integer(percent, BATTERY_PERCENT_CODE),
        battery_state=BatteryState(battery) if isinstance(battery, str) and battery else None,
        door=DoorState(door) if isinstance(door, str) and door else None,
        bolt_locked=bolt if isinstance(bolt, bool) else None,
        last_alarm=AlarmKind(alarm) if isinstance(alarm, str) and alarm else None,
        updated_at=latest,
        properties=values,
    )


def read_member(raw: Any) -> Member:
    """One item of the members list."""
    item = _object(raw)
    user_id = _text(item.get("user_id"), "user_id")
    if user_id is None:
        raise ValueError("the member has no user_id")
    keys: list[MemberKey] = []
    details = item.get("unlock_detail") or []
    if not isinstance(details, list):
        raise TypeError("unlock_detail is not a list")
    for detail in details:
        if not isinstance(detail, dict) or not isinstance(detail.get("dp_code"), str):
            raise TypeError("an unlock_detail item has no dp_code")
        method = UnlockMethod(detail["dp_code"])
        for entry in detail.get("unlock_list") or []:
            if not isinstance(entry, dict):
                raise TypeError("an unlock_list item is not an object")
            number = _integer(entry.get("unlock_sn", entry.get("unlock_no")), "unlock_sn")
            if number is not None:
                name = _text(entry.get("unlock_name"), "unlock_name")
                keys.append(MemberKey(method=method, key_number=number, name=name))
    role = _integer(item.get("user_type"), "user_type")
    effective = _integer(item.get("effective_flag"), "effective_flag")
    return Member(
        user_id=user_id,
        nick_name=_text(item.get("nick_name"), "nick_name"),
        role=None if role is None else MemberRole(role),
        lock_user_id=_integer(item.get("lock_user_id"), "lock_user_id"),
        contact=_text(item.get("user_contact"), "user_contact"),
        avatar_url=_text(item.get("avatar_url"), "avatar_url"),
        effective=None if effective is None else effective == 1,
        keys=tuple(keys),
        raw=item,
    )

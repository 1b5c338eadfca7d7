"""History, members and status of the simulated locks: what writes them, and the endpoints that serve them.

Every unlock (remote, at the keypad, a finger or a card), alarm, door movement and battery drain writes a
:class:`~lockcloud.sim._lock_log.SimRecord` on the simulator's clock and yields the protocol-4 status report a real
lock pushes for it (``unlock_fingerprint`` = key number, ``hijack``, ``alarm_lock``, ``closed_opened``,
``residual_electricity`` ...). The endpoints serve them on the documented wire, newest first, page by page.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lockcloud._core.errors import ValidationError
from lockcloud.enums import UnlockType
from lockcloud.sim import _call
from lockcloud.sim._call import Call, Handler, Outcome, fail
from lockcloud.sim._lock_log import SimMember, SimRecord
from lockcloud.sim._model import SimLock, random_id
from lockcloud.sim._push import PushMessage, status_report

if TYPE_CHECKING:
    from lockcloud.sim._world import World

__all__ = ["HANDLERS", "HistoryScenario", "door_moved", "write_record"]

_ALARM_CODES = frozenset({"hijack", "alarm_lock", "doorbell"})
#: Below this battery percentage the lock raises ``alarm_lock`` = ``low_battery`` (once, as it crosses it).
LOW_BATTERY_PERCENT = 10
_MAX_PAGE_SIZE = 100
#: The album event type of the camera's photo, by the record's DP code (and, for ``alarm_lock``, its value).
_PHOTO_EVENT = {
    "unlock_fingerprint": 8,
    "unlock_password": 9,
    "unlock_card": 10,
    "unlock_face": 11,
    "unlock_hand": 12,
    "unlock_finger_vein": 13,
    "unlock_temporary": 14,
    "unlock_dynamic": 15,
    "unlock_app": 16,
    "unlock_telecontrol_kit": 28,
    "hijack": 19,
    "doorbell": 1,
}
_ALARM_PHOTO_EVENT = {
    "pry": 0,
    "wrong_finger": 2,
    "wrong_password": 3,
    "wrong_card": 4,
    "wrong_face": 5,
    "low_battery": 20,
}


def _battery_state(percent: int) -> str:
    if percent <= 0:
        return "poweroff"
    if percent <= LOW_BATTERY_PERCENT:
        return "low"
    return "medium" if percent < 60 else "high"


# -- what happens at a lock -------------------------------------------------------------------------------------


def write_record(
    world: World,
    lock: SimLock,
    code: str,
    value: object,
    *,
    at_ms: int | None = None,
    user_id: str | None = None,
    unlock_name: str | None = None,
    photo: bool = False,
    push: bool = True,
) -> list[PushMessage]:
    """Write one record of ``lock``'s history (``code`` = ``value``, as its DP reports it) and return the status
    report the lock pushes for it (none with ``push=False``: the caller reports it with others, or never; none
    while the lock is offline: it keeps the record, which the cloud's history shows, and reports nothing live)."""
    log = lock.log
    stamp = world.now_ms() if at_ms is None else at_ms
    user = world.users.get(user_id) if user_id else None
    member = log.members.get(user_id) if user_id else None
    name = member.nick_name if member else (user.name or user.user_id) if user else None
    media = None
    if photo and lock.kind.has_camera:
        if code == "alarm_lock":
            event_type = _ALARM_PHOTO_EVENT.get(str(value), 25)  # an alarm it has no type for: lock tampering
        else:
            event_type = _PHOTO_EVENT.get(code, 16)
        shot = world.capture(lock.device_id, event_type)
        media = (shot.object_name, shot.bucket, shot.file_key)
    log.records.append(
        SimRecord(
            record_id=str(log.next_record),
            at_ms=stamp,
            code=code,
            value=value,
            alarm=code in _ALARM_CODES,
            user_id=user_id,
            user_name=name,
            unlock_name=unlock_name,
            media=media,
        )
    )
    log.next_record += 1
    log.updated_ms = max(log.updated_ms, stamp)
    return [status_report(lock, {code: value}, stamp)] if push and lock.online else []


def door_moved(world: World, lock: SimLock, is_open: bool, *, remote: bool) -> list[PushMessage]:
    """The door opened or closed; a remote opening is also an ``unlock_app`` unlock.

    The door's report comes first, the unlock's second: code that reads the first status report after a remote
    unlock to learn whether the door opened keeps working.
    """
    lock.log.bolt_locked = not is_open
    lock.door_open = is_open
    if is_open:
        lock.pending_remote_request = False
    pushes = write_record(world, lock, "closed_opened", "open" if is_open else "closed")
    if is_open and remote:
        pushes += write_record(world, lock, "unlock_app", 0, unlock_name="remote unlock")
        if lock.media and lock.media[-1].upload_time >= int(world.now()) - 1:
            latest = lock.media[-1]
            lock.log.records[-1].media = (latest.object_name, latest.bucket, latest.file_key)
    return pushes


class HistoryScenario:
    """Scenario calls of the simulator that make a lock's history: someone at the door, alarms, the battery.

    Each returns once its push messages are recorded (and queued for the broker, if one is connected).
    """

    world: World

    def _emit(self, messages: Iterable[PushMessage]) -> None:
        raise NotImplementedError

    def _lock_of(self, device_id: str) -> SimLock:
        lock = self.world.locks.get(device_id)
        if lock is None:
            raise ValidationError(f"the simulator has no lock {device_id!r}")
        return lock

    def unlock_at_door(
        self,
        device_id: str,
        unlock_type: UnlockType | str,
        key_number: int | None = None,
        *,
        at: float | None = None,
        open_door: bool = True,
    ) -> None:
        """Someone opens the lock with a finger, card, PIN, face ... ``key_number`` picks the key (the first of
        that type by default). A key marked for duress also raises the ``hijack`` alarm. ``at`` backdates the
        record (epoch seconds; no push then, as for history a lock uploads later)."""
        lock = self._lock_of(device_id)
        kind = UnlockType(unlock_type)
        key = None
        if key_number is None:
            key = next((k for k in lock.keys.values() if k.unlock_type is kind), None)
            if key is None:
                raise ValidationError(f"the lock has no {kind.plain} key")
        else:
            key = lock.keys.get(key_number)
            if key is None or key.unlock_type is not kind:
                raise ValidationError(f"the lock has no {kind.plain} key number {key_number}")
        self._unlock(
            lock, kind.dp_code, key.unlock_no, key.user_id, key.name or None, key.hijack, at, open_door
        )

    def unlock_with_code(
        self,
        device_id: str,
        code: str,
        key_number: int,
        *,
        user_id: str | None = None,
        at: float | None = None,
    ) -> None:
        """An unlock reported under any DP ``code`` (``unlock_temporary``, ``unlock_key``, ``unlock_dynamic`` ...,
        also one lockcloud does not know) with ``key_number`` as its value."""
        lock = self._lock_of(device_id)
        self._unlock(lock, code, key_number, user_id, None, False, at, True)

    def _unlock(
        self,
        lock: SimLock,
        code: str,
        number: int,
        user_id: str | None,
        name: str | None,
        duress: bool,
        at: float | None,
        open_door: bool,
    ) -> None:
        world = self.world
        at_ms = None if at is None else int(at * 1000)
        push = at is None
        pushes = write_record(
            world, lock, code, number, at_ms=at_ms, user_id=user_id, unlock_name=name, photo=push, push=push
        )
        if duress:
            pushes += write_record(
                world, lock, "hijack", f"{code}-{number:02d}", at_ms=at_ms, user_id=user_id, push=push
            )
        lock.log.bolt_locked = False
        if open_door and push:
            lock.door_open = True
            pushes += write_record(world, lock, "closed_opened", "open")
        self._emit(pushes)

    def raise_alarm(self, device_id: str, kind: str, *, at: float | None = None) -> None:
        """The lock raises an alarm: ``"doorbell"``, or an ``alarm_lock`` value (``wrong_finger``, ``pry``,
        ``low_battery`` ...; an unknown one is sent as it is). Duress comes from a duress key (unlock_at_door)."""
        lock = self._lock_of(device_id)
        if not isinstance(kind, str) or not kind or kind == "hijack":
            raise ValidationError("kind must be 'doorbell' or an alarm_lock value such as 'wrong_finger'")
        at_ms = None if at is None else int(at * 1000)
        if kind == "doorbell":
            # A ring asks to be let in: the app may now answer it with a remote unlock.
            lock.pending_remote_request = True
            pushes = write_record(
                self.world, lock, "doorbell", True, at_ms=at_ms, photo=at is None, push=at is None
            )
        else:
            lock.log.last_alarm = kind
            pushes = write_record(
                self.world, lock, "alarm_lock", kind, at_ms=at_ms, photo=at is None, push=at is None
            )
        self._emit(pushes)

    def close_door(self, device_id: str) -> None:
        """The door closes (and the bolt throws)."""
        lock = self._lock_of(device_id)
        self._emit(door_moved(self.world, lock, False, remote=False))

    def open_door_by_hand(self, device_id: str) -> None:
        """The door is opened from inside (no unlock record, only the door's)."""
        lock = self._lock_of(device_id)
        self._emit(door_moved(self.world, lock, True, remote=False))

    def drain_battery(self, device_id: str, percent: int) -> None:
        """The battery drops to ``percent``: ``residual_electricity`` (and ``battery_state`` when it changes)
        are reported, and ``alarm_lock`` = ``low_battery`` as it crosses the low mark."""
        lock = self._lock_of(device_id)
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise ValidationError("percent must be an integer from 0 to 100")
        log = lock.log
        before = log.battery_percent
        log.battery_percent = percent
        world = self.world
        pushes = write_record(world, lock, "residual_electricity", percent)
        if _battery_state(percent) != _battery_state(before):
            pushes += write_record(world, lock, "battery_state", _battery_state(percent))
        if percent <= LOW_BATTERY_PERCENT < before:
            log.last_alarm = "low_battery"
            pushes += write_record(world, lock, "alarm_lock", "low_battery")
        self._emit(pushes)

    def add_member(
        self, device_id: str, nick_name: str, *, role: int = 20, user_id: str | None = None
    ) -> str:
        """A member of the lock's household; returns their id."""
        lock = self._lock_of(device_id)
        return _new_member(lock, nick_name, role=role, user_id=user_id).user_id


def _new_member(
    lock: SimLock, nick_name: str, *, role: int = 20, user_id: str | None = None, contact: str | None = None
) -> SimMember:
    member = SimMember(
        user_id=user_id or random_id(10, "0123456789"),
        nick_name=nick_name,
        role=role,
        contact=contact,
        lock_user_id=len(lock.log.members) + 1,
    )
    lock.log.members[member.user_id] = member
    return member


# -- the endpoints ----------------------------------------------------------------------------------------------


def _page(call: Call) -> tuple[int, int]:
    page_no = _call.integer(call.query.get("page_no"), "page_no")
    size = _call.integer(call.query.get("page_size"), "page_size")
    if page_no < 1:
        raise fail(1101, "page_no starts from 1")
    if not 1 <= size <= _MAX_PAGE_SIZE:
        raise fail(1101, f"page_size must be from 1 to {_MAX_PAGE_SIZE}")
    return page_no, size


def _codes(call: Call, *names: str, required: bool = True, default: str | None = None) -> frozenset[str]:
    raw = next((call.query[name] for name in names if call.query.get(name)), default)
    if not raw:
        if required:
            raise fail(1100, f"{names[0]} is required")
        return frozenset()
    return frozenset(code.strip() for code in raw.split(",") if code.strip())


def _newest_first(records: list[SimRecord], keep: Any) -> list[SimRecord]:
    return [record for record in reversed(records) if keep(record)]


def _slice(items: list[Any], page_no: int, size: int) -> tuple[list[Any], int]:
    pages = math.ceil(len(items) / size) if items else 0
    return items[(page_no - 1) * size : page_no * size], pages


def _media(record: SimRecord, base_url: str) -> list[dict[str, Any]]:
    if record.media is None:
        return []
    object_name, bucket, file_key = record.media
    return [{"file_url": base_url, "file_path": object_name, "file_key": file_key, "bucket": bucket}]


def history_records(world: World, lock: SimLock, call: Call) -> Outcome:
    codes = _codes(call, "target_standard_dp_codes")
    start = _call.integer(call.query.get("start_time"), "start_time")
    end = _call.integer(call.query.get("end_time"), "end_time")
    page_no, size = _page(call)

    def keep(record: SimRecord) -> bool:
        return (
            record.code in codes and (not start or record.at_ms >= start) and (not end or record.at_ms <= end)
        )

    matching = _newest_first(lock.log.records, keep)
    page, pages = _slice(matching, page_no, size)
    records = [
        {
            "record_id": record.record_id,
            "record_type": "alarm" if record.alarm else "normal",
            "gmt_create": record.at_ms,
            "unlock_name": record.unlock_name or "",
            "user_id": record.user_id or "",
            "user_name": record.user_name or "",
            "avatar": "",
            "member_bindable_flag": 0 if record.user_id else 1,
            "dps": [{"dp_code": record.code, "value": record.value}],
            "media_info_list": _media(record, call.base_url),
            "union_unlock_info": [],
        }
        for record in page
    ]
    result = {
        "has_more": page_no < pages,
        "total_pages": pages,
        "total": len(matching),
        "unread_count": 0,
        "records": records,
    }
    return Outcome(result, detail={"page_no": page_no, "returned": len(records)})


def open_logs(world: World, lock: SimLock, call: Call) -> Outcome:
    page_no, size = _page(call)
    start = _call.integer(call.query.get("start_time"), "start_time")
    end = _call.integer(call.query.get("end_time"), "end_time")

    def keep(record: SimRecord) -> bool:
        seconds = record.at_ms // 1000
        return record.code.startswith("unlock_") and start <= seconds and (not end or seconds <= end)

    page, _ = _slice(_newest_first(lock.log.records, keep), page_no, size)
    total = sum(1 for record in lock.log.records if keep(record))
    logs = [
        {
            "status": [{"code": record.code, "value": record.value}],
            "update_time": record.at_ms // 1000,
            "unlock_name": record.unlock_name or "",
            "user_id": record.user_id or "",
            "nick_name": record.user_name or "",
        }
        for record in page
    ]
    return Outcome({"total": total, "logs": logs}, detail={"page_no": page_no, "returned": len(logs)})


def alarm_logs(world: World, lock: SimLock, call: Call) -> Outcome:
    page_no, size = _page(call)
    # The table names the parameter `codes`, the sample `dp_codes`; both are served. alarm_lock is the default.
    codes = _codes(call, "codes", "dp_codes", default="alarm_lock")
    matching = _newest_first(lock.log.records, lambda record: record.alarm and record.code in codes)
    page, _ = _slice(matching, page_no, size)
    records = [
        {
            "update_time": record.at_ms // 1000,
            "status": {"code": record.code, "value": record.value},
            "nick_name": record.user_name or "",
        }
        for record in page
    ]
    return Outcome({"total": len(matching), "records": records}, detail={"page_no": page_no})


def list_members(world: World, lock: SimLock, call: Call) -> Outcome:
    codes = _codes(call, "codes")
    page_no, size = _page(call)
    members = list(lock.log.members.values())
    page, pages = _slice(members, page_no, size)
    records = []
    for member in page:
        detail: dict[str, list[dict[str, Any]]] = {}
        for key in lock.keys_of(member.user_id):
            if key.unlock_type.dp_code in codes:
                entry = {"unlock_sn": key.unlock_no, "unlock_name": key.name}
                detail.setdefault(key.unlock_type.dp_code, []).append(entry)
        records.append(
            {
                "user_id": member.user_id,
                "uid": member.user_id,
                "nick_name": member.nick_name,
                "user_type": member.role,
                "lock_user_id": member.lock_user_id,
                "user_contact": member.contact or "",
                "avatar_url": "",
                "back_home_notify_attr": 0,
                "effective_flag": 1,
                "unlock_detail": [{"dp_code": code, "unlock_list": keys} for code, keys in detail.items()],
            }
        )
    result = {"total": len(members), "total_pages": pages, "has_more": page_no < pages, "records": records}
    return Outcome(result)


def add_member(world: World, lock: SimLock, call: Call) -> Outcome:
    nick_name = _call.text(call.body, "nick_name")
    contact = call.body.get("contact")
    member = _new_member(lock, nick_name, contact=contact if isinstance(contact, str) else None)
    return Outcome({"user_id": member.user_id}, detail={"user_id": member.user_id})


def _member(lock: SimLock, call: Call) -> SimMember:
    member = lock.log.members.get(call.path_params["user_id"])
    if member is None:
        raise fail(1000, "no such member of this lock")
    return member


def edit_member(world: World, lock: SimLock, call: Call) -> Outcome:
    member = _member(lock, call)
    if "nick_name" in call.body:
        member.nick_name = _call.text(call.body, "nick_name")
    if "contact" in call.body:
        member.contact = _call.text(call.body, "contact")
    return Outcome(True, detail={"user_id": member.user_id})


def allocate_key(world: World, lock: SimLock, call: Call) -> Outcome:
    member = _member(lock, call)
    number = _call.integer(call.body.get("no"), "no")
    kind = _call.unlock_type(call.body.get("type"), "plain", "type")
    key = _call.require_key(lock, number, kind)
    key.user_id = member.user_id
    return Outcome(True, detail={"user_id": member.user_id, "unlock_no": number})


def shadow_properties(world: World, lock: SimLock, call: Call) -> Outcome:
    log = lock.log
    stamp = log.updated_ms or world.now_ms()
    values: Mapping[str, object] = {
        "residual_electricity": log.battery_percent,
        "battery_state": _battery_state(log.battery_percent),
        "closed_opened": "open" if lock.door_open else "closed",
        "lock_motor_state": log.bolt_locked,
        "alarm_lock": log.last_alarm or "",
    }
    wanted = _codes(call, "codes", required=False)
    properties = [
        {"code": code, "value": value, "time": stamp, "dp_id": index + 1, "custom_name": ""}
        for index, (code, value) in enumerate(values.items())
        if not wanted or code in wanted
    ]
    return Outcome({"properties": properties})


HANDLERS: Mapping[str, Handler] = {
    "history_records": history_records,
    "open_logs": open_logs,
    "alarm_logs": alarm_logs,
    "list_members": list_members,
    "add_member": add_member,
    "edit_member": edit_member,
    "allocate_key": allocate_key,
    "shadow_properties": shadow_properties,
}

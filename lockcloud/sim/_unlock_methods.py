"""Unlocking methods (keys): listing, syncing, deleting, renaming, duress alarms and special attributes.

Enrolling and cancelling an enrollment are the same resource's calls, run by :mod:`lockcloud.sim._enrollment`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from lockcloud.enums import UnlockMethodEvent, UnlockType
from lockcloud.sim import _call
from lockcloud.sim._call import Call, Handler, Outcome, fail
from lockcloud.sim._model import SimKey, SimLock
from lockcloud.sim._push import enrollment_push

if TYPE_CHECKING:
    from lockcloud.sim._world import World

__all__ = ["HANDLERS"]

#: Key types a duress alarm can be set on (both hijack documents list these three).
_DURESS_TYPES = frozenset({UnlockType.FINGERPRINT, UnlockType.PASSWORD, UnlockType.CARD})
_SPECIAL_ATTRIBUTES = frozenset({1, 2})


def _filter(call: Call) -> UnlockType | None:
    raw = call.query.get("unlock_type")
    return None if not raw else _call.unlock_type(raw, "plain")


def list_assigned_keys(world: World, lock: SimLock, call: Call) -> Outcome:
    kind_of_user = _call.user_type(call.path_params["user_type"])
    _call.require_applicable(lock, call.action, kind_of_user)
    user_id = call.path_params["user_id"]
    _call.require_user(world, user_id, kind_of_user)
    only = _filter(call)
    keys = [
        {"unlock_no": key.unlock_no, "unlock_type": key.unlock_type.plain, "hijack": key.hijack}
        for key in sorted(lock.keys_of(user_id), key=lambda k: k.unlock_no)
        if key.synced and (only is None or key.unlock_type is only)
    ]
    return Outcome({"unlock_keys": keys}, detail={"user_id": user_id})


def list_unassigned_keys(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    only = _filter(call)
    keys = [
        {"unlock_no": key.unlock_no, "unlock_type": key.unlock_type.plain}
        for key in sorted(lock.keys_of(None), key=lambda k: k.unlock_no)
        if key.synced and (only is None or key.unlock_type is only)
    ]
    return Outcome({"unlock_keys": keys})


def sync_keys(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    raw = call.query.get("codes")
    wanted = None if not raw else {_call.unlock_type(code, "dp", "codes") for code in raw.split(",")}
    _call.require_online(lock)
    synced = [
        key.unlock_no
        for key in lock.keys.values()
        if not key.synced and (wanted is None or key.unlock_type in wanted)
    ]
    for number in synced:
        lock.keys[number].synced = True
    return Outcome(True, detail={"synced": synced})


def delete_key(world: World, lock: SimLock, call: Call) -> Outcome:
    params = call.path_params
    kind_of_user = _call.user_type(params["user_type"])
    _call.require_applicable(lock, call.action, kind_of_user)
    user_id = params["user_id"]
    _call.require_user(world, user_id, kind_of_user)
    unlock_type = _call.unlock_type(params["unlock_type"], "plain")
    number = _call.integer(params["unlock_no"], "unlock_no")
    key = _call.require_key(lock, number, unlock_type)
    if key.user_id != user_id:
        raise fail(1000, f"key number {number} is not assigned to user {user_id!r}")
    _call.require_online(lock)
    del lock.keys[number]
    push = enrollment_push(
        lock, world.now_ms(), event=UnlockMethodEvent.DELETE, raised=False, finish=True, period=0
    )
    return Outcome(True, (push,), {"unlock_no": number, "unlock_type": unlock_type.plain})


def rename_key(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    number = _call.integer(call.path_params["unlock_sn"], "unlock_sn")
    unlock_type = _call.unlock_type(call.body.get("dp_code"), "dp", "dp_code")
    name = _call.text(call.body, "unlock_name")
    if len(name) > 50:
        raise fail(1101, "unlock_name is longer than 50 characters")
    _call.require_key(lock, number, unlock_type).name = name
    return Outcome(True, detail={"unlock_no": number, "name": name})


def _duress_key(lock: SimLock, call: Call, number_param: str, spelling: Literal["plain", "dp"]) -> SimKey:
    _call.require_applicable(lock, call.action)
    unlock_type = _call.unlock_type(call.path_params["unlock_type"], spelling)
    if unlock_type not in _DURESS_TYPES:
        raise fail(2008, f"a duress alarm cannot be set on {unlock_type.plain} keys")
    key = _call.require_key(lock, _call.integer(call.path_params[number_param], number_param), unlock_type)
    _call.require_online(lock)
    return key


def set_duress_alarm(world: World, lock: SimLock, call: Call) -> Outcome:
    key = _duress_key(lock, call, "unlock_no", "plain")
    key.hijack = True
    return Outcome(True, detail={"unlock_no": key.unlock_no})


def remove_duress_alarm(world: World, lock: SimLock, call: Call) -> Outcome:
    key = _duress_key(lock, call, "unlock_sn", "dp")
    key.hijack = False
    return Outcome(True, detail={"unlock_no": key.unlock_no})


def set_special_attribute(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    number = _call.integer(call.path_params["opmode_id"], "opmode_id")
    attribute = _call.integer(call.path_params["attribute"], "attribute")
    if attribute not in _SPECIAL_ATTRIBUTES:
        raise fail(1101, "attribute must be 1 (voice) or 2 (photo capture)")
    enabled = _call.flag(call.body, "enabled")
    key = _call.require_key(lock, number)
    _call.require_online(lock)
    key.attributes[attribute] = enabled
    return Outcome(True, detail={"unlock_no": number, "attribute": attribute, "enabled": enabled})


HANDLERS: Mapping[str, Handler] = {
    "list_assigned_keys": list_assigned_keys,
    "list_unassigned_keys": list_unassigned_keys,
    "sync_keys": sync_keys,
    "delete_key": delete_key,
    "rename_key": rename_key,
    "set_duress_alarm": set_duress_alarm,
    "remove_duress_alarm": remove_duress_alarm,
    "set_special_attribute": set_special_attribute,
}

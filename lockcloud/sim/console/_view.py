"""The console's JSON snapshot of a simulator: every lock as the person at the door sees it, the push messages it
produced (decrypted) and the REST calls the app made, newest first.

Everything in it is plain data for the page, which shows it as text only. Secrets stay out: PINs, guest codes,
tokens and ticket keys are never part of the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from lockcloud.sim._model import LockKind, SimKey, SimLock
from lockcloud.sim._simulator import Simulator
from lockcloud.sim.console._actions import FAULT_KINDS

__all__ = ["snapshot"]

#: How many push messages and REST calls the snapshot carries (the most recent ones).
RECENT = 100

_RADIO = {
    LockKind.WIFI: "Wi-Fi",
    LockKind.ZIGBEE: "Zigbee",
    LockKind.BLUETOOTH: "Bluetooth",
    LockKind.KEEPALIVE_WIFI: "Wi-Fi (keepalive)",
    LockKind.VIDEO: "Wi-Fi",
    LockKind.ACCESS_CONTROL: "Wi-Fi",
}
#: What the person does for one step of an enrollment, by key type.
_STEP = {
    "fingerprint": "Place finger",
    "card": "Present card",
    "password": "Enter PIN on the keypad",
    "face": "Show face",
    "remoteControl": "Press the remote",
    "unlock_hand": "Show palm",
    "unlock_finger_vein": "Place finger",
}
#: Field names whose values are secrets in the optional panels' rows (and any ``*_key``, ``*_secret`` ...).
_SECRETS = frozenset({"pin", "password", "secret", "token", "key"})
#: In the access codes panel, a ``code`` is the digits themselves, and a guest's phone number is theirs to keep.
_CODE_SECRETS = _SECRETS | {"code", "phone"}


def snapshot(simulator: Simulator) -> dict[str, Any]:
    """The whole console state as JSON-ready data."""
    world = simulator.world
    return {
        "access_id": simulator.access_id,
        "locks": [_lock(simulator, lock) for lock in world.locks.values()],
        "pushes": [
            {
                "seq": index + 1,
                "t": message.t,
                "protocol": message.protocol,
                "device_id": message.device_id,
                "body": _jsonable(message.body),
            }
            for index, message in _recent(simulator.pushes)
        ],
        "requests": [
            {
                "seq": record.seq,
                "at": record.at,
                "method": record.method,
                "path": record.path,
                "action": record.action,
                "code": record.code,
                "http_status": record.http_status,
                "executed": record.executed,
                "response_lost": record.response_lost,
                "tid": record.tid,
            }
            for _, record in _recent(simulator.requests)
        ],
        "faults": _faults(simulator),
    }


def _recent(items: list[Any]) -> Iterable[tuple[int, Any]]:
    start = max(0, len(items) - RECENT)
    numbered: list[tuple[int, Any]] = list(enumerate(items[start:], start))
    numbered.reverse()
    return numbered


def _lock(simulator: Simulator, lock: SimLock) -> dict[str, Any]:
    enrollment = lock.enrollment
    radio = _RADIO[lock.kind]
    if lock.kind is LockKind.BLUETOOTH:
        radio += " via gateway" if lock.gateway else " (no gateway)"
    view: dict[str, Any] = {
        "device_id": lock.device_id,
        "name": lock.name,
        "model": lock.kind.label,
        "product_key": lock.product_key,
        "radio": radio,
        "online": lock.online,
        "battery": lock.log.battery_percent,
        "door": "open" if lock.door_open else "closed",
        "bolt": "unlocked" if lock.door_open or not lock.log.bolt_locked else "locked",
        "pending_remote_request": lock.pending_remote_request,
        "remote_unlock": {switch.value: on for switch, on in lock.remote_unlock.items()},
        "has_camera": lock.kind.has_camera,
        "photos": len(lock.media),
        "enrollment": None
        if enrollment is None
        else {
            "unlock_type": enrollment.unlock_type.plain,
            "user_id": enrollment.user_id,
            "total": enrollment.total,
            "remaining": enrollment.remaining,
            "step": _STEP.get(enrollment.unlock_type.value, "Press"),
        },
        "members": _members(simulator, lock),
        "panels": _panels(simulator, lock),
    }
    return view


def _members(simulator: Simulator, lock: SimLock) -> list[dict[str, Any]]:
    by_member: dict[str | None, list[SimKey]] = {}
    for key in sorted(lock.keys.values(), key=lambda k: k.unlock_no):
        by_member.setdefault(key.user_id, []).append(key)
    members = []
    for user_id, keys in by_member.items():
        user = simulator.world.users.get(user_id) if user_id is not None else None
        members.append(
            {
                "user_id": user_id,
                "name": user.name if user is not None else "",
                "user_type": int(user.user_type) if user is not None else None,
                "keys": [
                    {
                        "unlock_no": key.unlock_no,
                        "unlock_type": key.unlock_type.plain,
                        "name": key.name,
                        "hijack": key.hijack,
                        "synced": key.synced,
                    }
                    for key in keys
                ],
            }
        )
    return members


def _panels(simulator: Simulator, lock: SimLock) -> list[dict[str, Any]]:
    """The lock's access codes and its latest history (newest first); a field whose name says it is a secret is
    masked, and values that are not plain text are left out."""
    codes = list(simulator.world.access_codes.codes_of(lock.device_id).values())[-RECENT:]
    history = lock.log.records[-RECENT:]
    return [
        {"name": "codes", "title": "Access codes", "rows": [_row(code, _CODE_SECRETS) for code in codes]},
        {
            "name": "history",
            "title": "History",
            "rows": [_row(record, _SECRETS) for record in reversed(history)],
        },
    ]


def _row(item: object, secrets: frozenset[str]) -> dict[str, str]:
    if attrs.has(type(item)):
        fields = attrs.asdict(item, recurse=False)  # type: ignore[arg-type]
    elif isinstance(item, Mapping):
        fields = dict(item)
    else:
        fields = {"value": item}
    row = {}
    for field, value in fields.items():
        label = str(field)
        if _secret(label, secrets):
            row[label] = "••••"
        elif value is None:
            row[label] = ""
        elif isinstance(value, bool | int | float | str) or hasattr(value, "value"):
            row[label] = _text(value)
    return row


def _text(value: object) -> str:
    if hasattr(value, "value") and not isinstance(value, bool | int | float | str):
        value = value.value
    return str(value)


def _secret(name: str, secrets: frozenset[str]) -> bool:
    lowered = name.lower()
    return lowered in secrets or lowered.endswith(("_key", "_secret", "_token", "_pin"))


def _faults(simulator: Simulator) -> dict[str, Any]:
    faults = simulator.faults
    return {
        "kinds": list(FAULT_KINDS),
        "error_rates": {str(code): rate for code, rate in faults.error_rates.items()},
        "lost_response_rate": faults.lost_response_rate,
        "latency": faults.latency,
        "clock_offset": faults.clock_offset,
        "scripted": [
            {"code": f.code, "gateway": f.gateway, "lose": f.lose, "action": f.action, "times": f.times}
            for f in faults.scripted
        ],
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)

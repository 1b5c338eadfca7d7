"""The event registry: which (protocol, status code) becomes which typed event, declared once.

The decoder reads it to classify protocol-4 status reports; the CLI reads it to describe events, and tests check
every registered type has a description. A report is classified by its first item whose code is registered; a
report with none, or whose registered item carries a value of the wrong shape, stays a plain
:class:`~lockcloud.events.StatusReport` (nothing is lost: ``status`` and ``raw`` keep every item).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from lockcloud._core.wire import STATUS_REPORT_PROTOCOL
from lockcloud.events._models import (
    BatteryLevel,
    DoorStateChanged,
    LockAlarm,
    LockUnlocked,
    StatusItem,
    StatusReport,
)
from lockcloud.history_models import (
    BATTERY_PERCENT_CODE,
    BATTERY_STATE_CODE,
    DOOR_CODE,
    HIJACK_CODE,
    AlarmKind,
    BatteryState,
    DoorState,
    UnlockMethod,
    alarm_from_code,
    key_reference,
)

__all__ = ["REGISTRY", "Registration", "classify", "registered_models"]

#: The fields of the typed event, from the item that classified the report and all of the report's items.
Fields = Callable[[StatusItem, Sequence[StatusItem]], Mapping[str, Any]]


@attrs.frozen
class Registration:
    """``(protocol, code)`` becomes ``model``, with the fields ``fields`` reads from the report."""

    protocol: int
    code: str
    model: type[StatusReport]
    fields: Fields


def _unlocked(item: StatusItem, items: Sequence[StatusItem]) -> Mapping[str, Any]:
    method, number = key_reference(item.code, item.value)
    return {"method": method, "key_number": number, "duress": any(i.code == HIJACK_CODE for i in items)}


def _alarm(item: StatusItem, items: Sequence[StatusItem]) -> Mapping[str, Any]:
    kind = alarm_from_code(item.code, item.value)
    method, number = key_reference(item.code, item.value) if kind is AlarmKind.DURESS else (None, None)
    return {"kind": kind, "method": method, "key_number": number}


def _door(item: StatusItem, items: Sequence[StatusItem]) -> Mapping[str, Any]:
    if not isinstance(item.value, str) or not item.value:
        raise TypeError("closed_opened is not a string")
    return {"door": DoorState(item.value)}


def _battery(item: StatusItem, items: Sequence[StatusItem]) -> Mapping[str, Any]:
    values = {i.code: i.value for i in items}
    percent, state = values.get(BATTERY_PERCENT_CODE), values.get(BATTERY_STATE_CODE)
    if percent is not None and (
        isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100
    ):
        raise TypeError("residual_electricity is not a percentage")
    if state is not None and (not isinstance(state, str) or not state):
        raise TypeError("battery_state is not a string")
    return {"percent": percent, "state": None if state is None else BatteryState(state)}


def _registrations() -> list[Registration]:
    p = STATUS_REPORT_PROTOCOL
    found = [Registration(p, str(method.value), LockUnlocked, _unlocked) for method in UnlockMethod]
    found += [Registration(p, code, LockAlarm, _alarm) for code in ("hijack", "alarm_lock", "doorbell")]
    found.append(Registration(p, DOOR_CODE, DoorStateChanged, _door))
    found += [
        Registration(p, code, BatteryLevel, _battery) for code in (BATTERY_PERCENT_CODE, BATTERY_STATE_CODE)
    ]
    return found


#: (protocol, status code) -> its registration.
REGISTRY: Mapping[tuple[int, str], Registration] = {(r.protocol, r.code): r for r in _registrations()}


def registered_models() -> frozenset[type[StatusReport]]:
    """Every typed event the registry can produce."""
    return frozenset(registration.model for registration in REGISTRY.values())


def classify(protocol: int, items: Sequence[StatusItem]) -> tuple[type[StatusReport], Mapping[str, Any]]:
    """The event class of a status report and its extra fields (``StatusReport`` and none when unregistered)."""
    for item in items:
        registration = REGISTRY.get((protocol, item.code))
        if registration is None:
            continue
        try:
            return registration.model, registration.fields(item, items)
        except (TypeError, ValueError):
            # A registered code with a value of the wrong shape: kept as the plain report it is.
            return StatusReport, {}
    return StatusReport, {}

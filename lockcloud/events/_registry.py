"""The event registry: every push type lockcloud knows, declared once.

An entry maps ``(protocol, code)`` to the typed event it becomes: for protocol 20 the ``code`` is the ``bizCode``,
for protocol 4 a status code, and ``None`` stands for every other message of the protocol (``(None, None)``: a
protocol lockcloud does not know). The decoder finds an event's class here and nowhere else, the CLI has one
description per registered class, and the simulator and :class:`lockcloud.testing.PushBuilder` build each class's
wire body with its entry's ``wire``; tests check that all of them cover every entry.

A protocol-4 report is classified by its first item whose code is registered; a report with none, or whose
registered item carries a value of the wrong shape, stays a plain :class:`~lockcloud.events.StatusReport` (nothing
is lost: ``status`` and ``raw`` keep every item). A device event with a ``bizCode`` lockcloud has no class for is a
plain :class:`~lockcloud.events.DeviceEvent` with its ``biz_data`` as a dict.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from lockcloud._core.converter import structure, unstructure
from lockcloud._core.wire import DEVICE_EVENT_PROTOCOL, ENROLLMENT_BIZ_CODE, STATUS_REPORT_PROTOCOL
from lockcloud.enums import EnrollmentOperation, UnlockMethodEvent
from lockcloud.events._fields import (
    FieldError,
    checked,
    field,
    flag,
    number,
    number_value,
    operation,
    optional_time,
    unlock_method_event,
)
from lockcloud.events._models import (
    BatteryLevel,
    DeviceEvent,
    DoorStateChanged,
    EnrollmentProgress,
    Event,
    LockAlarm,
    LockUnlocked,
    StatusItem,
    StatusReport,
    UnknownEvent,
)
from lockcloud.history_models import (
    ALARM_LOCK_CODE,
    BATTERY_PERCENT_CODE,
    BATTERY_STATE_CODE,
    DOOR_CODE,
    DOORBELL_CODE,
    HIJACK_CODE,
    AlarmKind,
    BatteryState,
    DoorState,
    UnlockMethod,
    alarm_from_code,
    key_reference,
)

__all__ = [
    "REGISTRY",
    "Registration",
    "biz_data_wire",
    "classify",
    "registered_models",
    "registration_of",
    "structured_fields",
]

#: The event's own fields, read from the message: for protocol 20 from its ``bizData``, body and envelope time
#: (``timestamp`` among them), for protocol 4 from the item that classified the report and all of the report's
#: items.
Fields = Callable[..., Mapping[str, Any]]

#: The wire form of an event's own fields: ``{"bizCode", "bizData"}`` for protocol 20, ``{code: value}`` status
#: items for protocol 4, the whole body for an unknown protocol.
Wire = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@attrs.frozen
class Registration:
    """``(protocol, code)`` becomes ``model``: ``fields`` reads the model's own fields from the message and
    ``wire`` writes them back (what the simulator and ``PushBuilder`` push); ``example`` is one such event's own
    fields, which tests build, decode and compare."""

    protocol: int | None
    code: str | None
    model: type[Event]
    fields: Fields = attrs.field(repr=False)
    wire: Wire = attrs.field(repr=False)
    example: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


# -- protocol 20: device events ---------------------------------------------------------------------------------


def _no_fields(*message: Any) -> Mapping[str, Any]:
    return {}


def _device_event(
    data: Mapping[str, Any], body: Mapping[str, Any], published_at: _dt.datetime | None
) -> Mapping[str, Any]:
    return {"timestamp": optional_time(body.get("ts"))}


def _device_event_wire(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"bizCode": str(fields["biz_code"]), "bizData": dict(fields.get("biz_data") or {})}


def _enrollment(
    data: Mapping[str, Any], body: Mapping[str, Any], published_at: _dt.datetime | None
) -> Mapping[str, Any]:
    # Hand-written rather than structured_fields(EnrollmentProgress): this is the hot message of enrollment, and the
    # converter takes about seven times as long for it (6.5 against 0.9 microseconds, measured here); a test checks
    # that both read the same.
    if "event" not in data:
        raise FieldError("required field missing @ bizData.event")
    timestamp = optional_time(body.get("ts")) or published_at
    if timestamp is None:
        raise ValueError("neither 'ts' nor the envelope's 't' gives its time")
    # Each value as Tuya sends it is taken at once; anything else goes through its check (the same result, or the
    # error that names the field).
    event = data["event"]
    event = _EVENTS.get(event) if type(event) is str else None
    if event is None:
        event = field(data, "event", unlock_method_event)
    operate = data.get("operate")
    if operate is not None:
        operate = (_OPERATIONS.get(operate) if type(operate) is int else None) or checked(
            "operate", operate, operation
        )
    raised, finish, period = data.get("raised"), data.get("finish"), data.get("period")
    if not (raised is None or raised is True or raised is False):
        raised = flag(data, "raised")
    if not (finish is None or finish is True or finish is False):
        finish = flag(data, "finish")
    if not (period is None or type(period) is int):
        period = number(data, "period")
    total = data.get("totalPeriod", data.get("total_period"))
    return {
        "timestamp": timestamp,
        "event": event,
        "operate": operate,
        "raised": raised,
        "finish": finish,
        "period": period,
        "total_period": total if total is None or type(total) is int else number_value("totalPeriod", total),
    }


_EVENTS: dict[Any, UnlockMethodEvent] = dict(UnlockMethodEvent._value2member_map_)
_OPERATIONS: dict[Any, EnrollmentOperation] = dict(EnrollmentOperation._value2member_map_)


def structured_fields(model: type[DeviceEvent]) -> Fields:
    """A reader of ``model``'s own fields (those beyond :class:`DeviceEvent`'s) from ``bizData``, structured by the
    shared converter as REST answers are: camelCase or snake_case keys, unknown keys ignored, epoch times to UTC
    datetimes, open enums; ``timestamp`` is the body's ``ts``. The way to read a new device event's ``bizData``
    unless it is hot enough to need a hand-written reader (see :func:`_enrollment`)."""
    attrs.resolve_types(model)
    base = {f.name for f in attrs.fields(DeviceEvent)}
    own = {
        f.name: attrs.field(type=f.type, default=f.default, kw_only=True)
        for f in attrs.fields(model)
        if f.name not in base
    }
    spec = attrs.make_class(f"{model.__name__}Fields", own, frozen=True)

    def fields(
        data: Mapping[str, Any], body: Mapping[str, Any], published_at: _dt.datetime | None
    ) -> Mapping[str, Any]:
        try:
            structured: Any = structure(data, spec)
        except Exception as exc:
            # One line naming the field, as the hand-written readers say it: "... @ bizData.at".
            from cattrs import transform_error

            problems = transform_error(exc, path="bizData") if hasattr(exc, "exceptions") else [str(exc)]
            raise FieldError("; ".join(problems)) from exc
        values = attrs.asdict(structured, recurse=False)
        values["timestamp"] = optional_time(body.get("ts"))
        return values

    return fields


def biz_data_wire(biz_code: str) -> Wire:
    """The wire form of a device event whose own fields are its ``bizData``: camelCase keys, values unstructured
    by the shared converter (enums to their values, times to epoch milliseconds), absent fields left out."""

    def wire(fields: Mapping[str, Any]) -> Mapping[str, Any]:
        data = {_camel(name): _plain(value) for name, value in fields.items() if value is not None}
        return {"bizCode": biz_code, "bizData": data}

    return wire


def _plain(value: Any) -> Any:
    # An enum as its value, explicitly: the converter passes str and int enums through as they are.
    return value.value if isinstance(value, enum.Enum) else unstructure(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


# -- protocol 4: status reports ---------------------------------------------------------------------------------


def _status_wire(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    status = fields.get("status") or {}
    if isinstance(status, Mapping):
        return dict(status)
    items: Iterable[StatusItem] = status
    return {item.code: item.value for item in items}


def _unlocked(item: StatusItem, items: Sequence[StatusItem]) -> Mapping[str, Any]:
    method, number = key_reference(item.code, item.value)
    return {"method": method, "key_number": number, "duress": any(i.code == HIJACK_CODE for i in items)}


def _duress_value(method: UnlockMethod | None, number: Any) -> Any:
    return number if method is None else f"{method.value}-{number:02d}"


def _unlocked_wire(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    method = UnlockMethod(fields["method"])
    number = fields.get("key_number")
    status: dict[str, Any] = {str(method.value): number}
    if fields.get("duress"):
        status[HIJACK_CODE] = _duress_value(method, number)
    return status


def _alarm(item: StatusItem, items: Sequence[StatusItem]) -> Mapping[str, Any]:
    kind = alarm_from_code(item.code, item.value)
    method, number = key_reference(item.code, item.value) if kind is AlarmKind.DURESS else (None, None)
    return {"kind": kind, "method": method, "key_number": number}


def _alarm_wire(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    kind = AlarmKind(fields["kind"])
    if kind is AlarmKind.DURESS:
        method = fields.get("method")
        return {
            HIJACK_CODE: _duress_value(None if method is None else UnlockMethod(method), fields["key_number"])
        }
    if kind is AlarmKind.DOORBELL:
        return {DOORBELL_CODE: True}
    return {ALARM_LOCK_CODE: str(kind.value)}


def _door(item: StatusItem, items: Sequence[StatusItem]) -> Mapping[str, Any]:
    if not isinstance(item.value, str) or not item.value:
        raise TypeError("closed_opened is not a string")
    return {"door": DoorState(item.value)}


def _door_wire(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    return {DOOR_CODE: str(DoorState(fields["door"]).value)}


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


def _battery_wire(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    status: dict[str, Any] = {}
    if fields.get("percent") is not None:
        status[BATTERY_PERCENT_CODE] = fields["percent"]
    if fields.get("state") is not None:
        status[BATTERY_STATE_CODE] = str(BatteryState(fields["state"]).value)
    return status


# -- any other protocol -----------------------------------------------------------------------------------------


def _unknown_wire(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(fields.get("raw") or {})


# -- the registry -----------------------------------------------------------------------------------------------


def _registrations() -> list[Registration]:
    d, s = DEVICE_EVENT_PROTOCOL, STATUS_REPORT_PROTOCOL
    found = [
        Registration(
            d,
            ENROLLMENT_BIZ_CODE,
            EnrollmentProgress,
            _enrollment,
            biz_data_wire(ENROLLMENT_BIZ_CODE),
            {
                "event": UnlockMethodEvent.ENTRY,
                "operate": EnrollmentOperation.START,
                "raised": True,
                "finish": False,
                "period": 2,
                "total_period": 3,
            },
        ),
        Registration(
            d, None, DeviceEvent, _device_event, _device_event_wire, {"biz_code": "online", "biz_data": {}}
        ),
    ]
    found += [
        Registration(
            s,
            str(method.value),
            LockUnlocked,
            _unlocked,
            _unlocked_wire,
            {"method": method, "key_number": 3, "duress": False},
        )
        for method in UnlockMethod
    ]
    duress = {"kind": AlarmKind.DURESS, "method": UnlockMethod.FINGERPRINT, "key_number": 2}
    found += [
        Registration(s, HIJACK_CODE, LockAlarm, _alarm, _alarm_wire, duress),
        Registration(s, DOORBELL_CODE, LockAlarm, _alarm, _alarm_wire, {"kind": AlarmKind.DOORBELL}),
        Registration(s, ALARM_LOCK_CODE, LockAlarm, _alarm, _alarm_wire, {"kind": AlarmKind.WRONG_FINGER}),
        Registration(s, DOOR_CODE, DoorStateChanged, _door, _door_wire, {"door": DoorState.OPEN}),
        Registration(s, BATTERY_PERCENT_CODE, BatteryLevel, _battery, _battery_wire, {"percent": 15}),
        Registration(
            s, BATTERY_STATE_CODE, BatteryLevel, _battery, _battery_wire, {"state": BatteryState.LOW}
        ),
        Registration(s, None, StatusReport, _no_fields, _status_wire, {"status": {"switch": True}}),
        Registration(
            None, None, UnknownEvent, _no_fields, _unknown_wire, {"protocol": 99, "raw": {"devId": "lock-1"}}
        ),
    ]
    return found


#: (protocol, code) -> its registration; ``code`` ``None`` is the rest of the protocol, ``(None, None)`` any
#: protocol lockcloud does not know.
REGISTRY: Mapping[tuple[int | None, str | None], Registration] = {
    (r.protocol, r.code): r for r in _registrations()
}

_STATUS_REPORTS = REGISTRY[(STATUS_REPORT_PROTOCOL, None)]


def registered_models() -> frozenset[type[Event]]:
    """Every typed event the registry can produce."""
    return frozenset(registration.model for registration in REGISTRY.values())


_BY_MODEL: dict[type[Event], Registration] = {}
for _registration in REGISTRY.values():
    _BY_MODEL.setdefault(_registration.model, _registration)
del _registration


def registration_of(model: type[Event]) -> Registration:
    """The (first) registration of ``model``: all of a model's registrations share its ``fields`` and ``wire``.

    Raises ``KeyError`` for a class the registry does not produce.
    """
    return _BY_MODEL[model]


def classify(protocol: int, items: Sequence[StatusItem]) -> tuple[type[Event], Mapping[str, Any]]:
    """The event class of a status report and its own fields (``StatusReport`` and none when unregistered)."""
    for item in items:
        registration = REGISTRY.get((protocol, item.code))
        if registration is None:
            continue
        try:
            return registration.model, registration.fields(item, items)
        except (TypeError, ValueError):
            # A registered code with a value of the wrong shape: kept as the plain report it is.
            return _STATUS_REPORTS.model, {}
    return _STATUS_REPORTS.model, {}

"""The checked readers of push-message fields, shared by the decoder and the event registry.

Each takes the values Tuya sends (JSON booleans, ints, known enum values) without a call into the generic checks,
and sends anything else through them, with the same result; a value of the wrong shape raises ``ValueError`` or
``TypeError`` (a :class:`FieldError` naming the ``bizData`` field), which the decoder turns into a
:class:`~lockcloud.DecodeError`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from lockcloud._core.converter import from_epoch, strict_bool
from lockcloud.enums import EnrollmentOperation, UnlockMethodEvent

__all__ = [
    "FieldError",
    "biz_data",
    "count",
    "device_id",
    "field",
    "flag",
    "number",
    "number_value",
    "operation",
    "optional_field",
    "optional_str",
    "optional_time",
    "short",
    "unlock_method_event",
]

T = TypeVar("T")

_UTC = _dt.UTC


class FieldError(ValueError):
    """A bizData field of the wrong shape; the message names it."""


def device_id(body: Mapping[str, Any]) -> str:
    value = body.get("devId")
    if not isinstance(value, str) or not value:
        raise ValueError("no 'devId'")
    return value


def biz_data(body: Mapping[str, Any]) -> dict[str, Any]:
    value = body.get("bizData", {})
    if not isinstance(value, dict):
        raise ValueError("'bizData' is not an object")
    return value


def optional_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


def optional_time(value: Any) -> _dt.datetime | None:
    if type(value) is int:
        # What Tuya sends (epoch milliseconds), without from_epoch's type checks; the same result.
        return _dt.datetime.fromtimestamp(value / 1000.0 if abs(value) >= 100_000_000_000 else value, tz=_UTC)
    if value is None or value == "":
        return None
    return from_epoch(value)


def field(data: Mapping[str, Any], name: str, convert: Callable[[Any], T]) -> T:
    return checked(name, data[name], convert)


def optional_field(data: Mapping[str, Any], name: str, convert: Callable[[Any], T]) -> T | None:
    value = data.get(name)
    return None if value is None else checked(name, value, convert)


def checked(name: str, value: Any, convert: Callable[[Any], T]) -> T:
    try:
        return convert(value)
    except Exception as exc:
        raise FieldError(f"invalid value for {type(value).__name__} @ bizData.{name}: {short(exc)}") from exc


_EVENTS: dict[Any, UnlockMethodEvent] = dict(UnlockMethodEvent._value2member_map_)
_OPERATIONS: dict[Any, EnrollmentOperation] = dict(EnrollmentOperation._value2member_map_)


def unlock_method_event(value: Any) -> UnlockMethodEvent:
    if type(value) is str:
        known = _EVENTS.get(value)
        if known is not None:
            return known
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return UnlockMethodEvent(value)


def operation(value: Any) -> EnrollmentOperation:
    known = _OPERATIONS.get(value) if type(value) is int else None
    return known if known is not None else EnrollmentOperation(value)


def flag(data: Mapping[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None or value is True or value is False:
        return value
    return checked(name, value, strict_bool)


def number(data: Mapping[str, Any], name: str) -> int | None:
    return number_value(name, data.get(name))


def number_value(name: str, value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    return checked(name, value, count)


def count(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]

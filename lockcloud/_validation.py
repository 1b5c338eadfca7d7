"""Checks run on arguments before anything is sent.

Each returns the normalised value or raises :class:`~lockcloud.ValidationError`. A value that ends up in a URL path
must not be able to change the path (``/``, ``..``), end it (``?``, ``#``), smuggle an escape (``%``) or carry
whitespace. Messages never echo a PIN.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from lockcloud._converter import OpenIntEnum, OpenStrEnum
from lockcloud._errors import ValidationError
from lockcloud.enums import (
    MediaFileType,
    RemoteUnlockType,
    RevokeReason,
    SpecialAttribute,
    UnlockType,
    UserType,
)

__all__ = [
    "attribute",
    "channel_id",
    "device_id",
    "flag",
    "max_bytes",
    "media_file_type",
    "non_empty_text",
    "open_door_pin",
    "path_part",
    "pin",
    "remote_unlock_type",
    "revoke_reason",
    "serial_number",
    "unlock_type",
    "user_type",
]

_FORBIDDEN_IN_PATH = re.compile(r"[/?#%\s\x00-\x1f\x7f]")
_OPEN_DOOR_PIN_LENGTH = 6

IntEnumT = TypeVar("IntEnumT", bound=OpenIntEnum)
StrEnumT = TypeVar("StrEnumT", bound=OpenStrEnum)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def path_part(value: object, name: str) -> str:
    """A string that goes into a URL path as one segment."""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise ValidationError(f"{name} must not be empty")
    if _FORBIDDEN_IN_PATH.search(value):
        raise ValidationError(
            f"{name} {_shown(value)} must not contain '/', '?', '#', '%', whitespace or control characters"
        )
    if ".." in value or value == ".":
        raise ValidationError(f"{name} {_shown(value)} must not be '.' or contain '..'")
    return value


def device_id(value: object) -> str:
    return path_part(value, "device_id")


def non_empty_text(value: object, name: str) -> str:
    """A string for a JSON body: any text, but not empty or only whitespace."""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(f"{name} must not be empty")
    return value


def flag(value: object, name: str) -> bool:
    # A truthy string such as "false" must not silently become True.
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def serial_number(value: object, name: str) -> int:
    """A non-negative integer id that goes into a path (``unlock_no``, ``unlock_sn``, ``opmode_id``)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ValidationError(f"{name} must not be negative, got {value}")
    return int(value)


def _known_int_member(value: object, enum_cls: type[IntEnumT], name: str) -> IntEnumT:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a {enum_cls.__name__} or an int, got {type(value).__name__}")
    member = enum_cls(value)
    if not member.is_known:
        choices = ", ".join(f"{m.value} ({m.name})" for m in enum_cls)
        raise ValidationError(f"{name} must be one of {choices}; got {int(value)}")
    return member


def user_type(value: object) -> UserType:
    return _known_int_member(value, UserType, "user_type")


def revoke_reason(value: object) -> RevokeReason:
    return _known_int_member(value, RevokeReason, "reason")


def media_file_type(value: object) -> MediaFileType:
    return _known_int_member(value, MediaFileType, "file_type")


def attribute(value: object) -> SpecialAttribute:
    """A special attribute: 1 voice or 2 photo capture, or another positive number a newer lock knows.

    The document's own sample sends attribute 4, so values beyond the table are let through.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"attribute must be a SpecialAttribute or an int, got {type(value).__name__}")
    if value < 1:
        raise ValidationError(f"attribute must be positive (1 voice, 2 photo capture), got {int(value)}")
    return SpecialAttribute(value)


def _str_member(value: object, enum_cls: type[StrEnumT], name: str) -> StrEnumT:
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a {enum_cls.__name__} or a string, got {type(value).__name__}")
    return enum_cls(path_part(value, name))


def unlock_type(value: object) -> UnlockType:
    """An unlock type in either spelling; values outside the documents pass if they are safe in a path."""
    return _str_member(value, UnlockType, "unlock_type")


def remote_unlock_type(value: object) -> RemoteUnlockType:
    member = _str_member(value, RemoteUnlockType, "remote_unlock_type")
    if not member.is_known:
        choices = ", ".join(repr(m.value) for m in RemoteUnlockType)
        raise ValidationError(f"remote_unlock_type must be one of {choices}; got {_shown(value)}")
    return member


def pin(value: object, *, length: int | None = None) -> str:
    """A PIN: digits only, and exactly ``length`` of them when given. The PIN itself is never in the message."""
    if not isinstance(value, str):
        raise ValidationError(f"pin must be a string of digits, got {type(value).__name__}")
    if not value:
        raise ValidationError("pin must not be empty")
    if not (value.isascii() and value.isdigit()):
        raise ValidationError("pin must consist of the digits 0-9 only")
    if length is not None and len(value) != length:
        raise ValidationError(f"pin must be exactly {length} digits, got {len(value)}")
    return value


def open_door_pin(value: object) -> str:
    return pin(value, length=_OPEN_DOOR_PIN_LENGTH)


def channel_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"channel_id must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ValidationError(f"channel_id must not be negative, got {value}")
    return int(value)


def max_bytes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"max_bytes must be a positive integer, got {_shown(value)}")
    return int(value)

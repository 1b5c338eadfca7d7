"""Checks run on arguments before anything is sent.

Each returns the normalised value or raises :class:`~lockcloud.ValidationError`. Ids are what Tuya issues:
printable ASCII, at most 128 characters, without ``/ \\ ? # %`` or spaces, and never ``.`` or containing ``..`` --
so a value cannot change the path it goes into, end it, smuggle an escape, or look like another value (look-alike
slashes and dots, bidi and zero-width characters are not ASCII). Integers stay within the range the documents give
their type (Integer: 32-bit, Long: 64-bit). Where a document gives a closed list of values, only those are sent;
open lists keep accepting new values. Messages never echo a PIN.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

from lockcloud._core.converter import OpenIntEnum, OpenStrEnum
from lockcloud._core.errors import ValidationError
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
    "count",
    "device_id",
    "encrypted_password",
    "flag",
    "max_bytes",
    "media_file_type",
    "non_empty_text",
    "non_negative_seconds",
    "open_door_pin",
    "path_part",
    "pin",
    "positive_count",
    "positive_seconds",
    "remote_unlock_type",
    "revoke_reason",
    "seconds",
    "serial_number",
    "ticket_id",
    "unlock_type",
    "url",
    "user_type",
]

_FORBIDDEN_IN_ID = re.compile(r"[/\\?#%\s]")
_USERINFO = re.compile(r"//[^/?#]*@")
_OPEN_DOOR_PIN_LENGTH = 6
MAX_ID_LENGTH = 128
MAX_URL_LENGTH = 2048
# DNS limits (RFC 1035): a label is 1-63 octets, a name at most 253.
_MAX_LABEL = 63
_MAX_HOST = 253
MAX_TEXT_LENGTH = 256
MAX_PIN_LENGTH = 32
INTEGER_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1

#: The unlock types each document lists for an endpoint that takes a closed list.
ENROLLABLE = frozenset(
    {UnlockType.FINGERPRINT, UnlockType.PASSWORD, UnlockType.CARD, UnlockType.FACE, UnlockType.REMOTE_CONTROL}
)
SYNCABLE = frozenset(member for member in UnlockType)
RENAMABLE = ENROLLABLE
DURESS_REMOVABLE = frozenset({UnlockType.FINGERPRINT, UnlockType.CARD, UnlockType.PASSWORD})

IntEnumT = TypeVar("IntEnumT", bound=OpenIntEnum)
StrEnumT = TypeVar("StrEnumT", bound=OpenStrEnum)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def path_part(value: object, name: str) -> str:
    """An id as Tuya issues it, safe as one URL path segment (see the module docstring)."""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise ValidationError(f"{name} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise ValidationError(f"{name} must be at most {MAX_ID_LENGTH} characters, got {len(value)}")
    if not (value.isascii() and value.isprintable()) or _FORBIDDEN_IN_ID.search(value):
        raise ValidationError(
            f"{name} {_shown(value)} must be printable ASCII without '/', '\\', '?', '#', '%' or spaces"
        )
    if ".." in value or value == ".":
        raise ValidationError(f"{name} {_shown(value)} must not be '.' or contain '..'")
    return value


def device_id(value: object) -> str:
    return path_part(value, "device_id")


def non_empty_text(value: object, name: str) -> str:
    """A string for a JSON body: text without control characters, not empty or only whitespace, bounded."""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValidationError(f"{name} must not be empty")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValidationError(f"{name} must be at most {MAX_TEXT_LENGTH} characters, got {len(value)}")
    if not value.isprintable():
        raise ValidationError(
            f"{name} {_shown(value)} must not contain control or invisible format characters"
        )
    return value


def ticket_id(value: object) -> str:
    """A ticket id from a password ticket: an id like any other Tuya issues."""
    return path_part(value, "ticket_id")


def encrypted_password(value: object) -> str:
    """A PIN already encrypted with a ticket key: upper-case hex, whole AES blocks. Never echoed."""
    if not isinstance(value, str):
        raise ValidationError(f"password must be a string, got {type(value).__name__}")
    if not value or len(value) % 32 or len(value) > 256 or not re.fullmatch(r"[0-9A-Fa-f]+", value):
        raise ValidationError(
            "password must be the hex of a PIN encrypted with the ticket key (crypto.encrypt_password)"
        )
    return value


def flag(value: object, name: str) -> bool:
    # A truthy string such as "false" must not silently become True.
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def serial_number(value: object, name: str, *, maximum: int = INTEGER_MAX) -> int:
    """A non-negative integer id that goes into a path (``unlock_no``, ``unlock_sn``: Integer; ``opmode_id``: Long)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer, got {type(value).__name__}")
    if not 0 <= value <= maximum:
        shown = str(int(value)) if abs(value) < 10**20 else f"a {len(str(abs(int(value))))}-digit number"
        raise ValidationError(f"{name} must be between 0 and {maximum}, got {shown}")
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
    if not 1 <= value <= INTEGER_MAX:
        shown = str(int(value)) if abs(value) < 10**20 else f"a {len(str(abs(int(value))))}-digit number"
        raise ValidationError(
            f"attribute must be between 1 and {INTEGER_MAX} (1 voice, 2 photo capture), got {shown}"
        )
    return SpecialAttribute(value)


def _str_member(value: object, enum_cls: type[StrEnumT], name: str) -> StrEnumT:
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a {enum_cls.__name__} or a string, got {type(value).__name__}")
    return enum_cls(path_part(value, name))


def unlock_type(value: object, allowed: frozenset[UnlockType] | None = None) -> UnlockType:
    """An unlock type in either spelling.

    With ``allowed`` (an endpoint whose document closes the list) anything else is refused, naming the valid
    values; without it, values outside the documents pass if they are safe in a path.
    """
    member = _str_member(value, UnlockType, "unlock_type")
    if allowed is not None and member not in allowed:
        order = list(UnlockType)
        choices = ", ".join(repr(m.value) for m in sorted(allowed, key=order.index))
        raise ValidationError(f"unlock_type must be one of {choices} for this call; got {_shown(value)}")
    return member


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
    if len(value) > MAX_PIN_LENGTH:
        raise ValidationError(f"pin must be at most {MAX_PIN_LENGTH} digits, got {len(value)}")
    return value


def open_door_pin(value: object) -> str:
    return pin(value, length=_OPEN_DOOR_PIN_LENGTH)


def channel_id(value: object) -> int:
    return serial_number(value, "channel_id")


def max_bytes(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"max_bytes must be a positive integer, got {_shown(value)}")
    return int(value)


def count(value: object, name: str, *, minimum: int = 1, maximum: int = INTEGER_MAX) -> int:
    """A number of things: an ``int`` from ``minimum`` to ``maximum`` (a bool, a float or a string of digits is
    refused, so ``1.5``, ``nan`` or ``"10"`` never reaches a library that would truncate or misread it)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be a whole number, got {type(value).__name__} {_shown(value)}")
    if not minimum <= value <= maximum:
        shown = str(int(value)) if abs(value) < 10**20 else f"a {len(str(abs(int(value))))}-digit number"
        raise ValidationError(f"{name} must be a whole number from {minimum} to {maximum}, got {shown}")
    return int(value)


def positive_count(instance: object, attribute: Any, value: object) -> None:
    """An attrs validator: a whole number, at least 1 (see :func:`count`)."""
    count(value, attribute.name)


def positive_seconds(instance: object, attribute: Any, value: object) -> None:
    """An attrs validator: a finite number of seconds above zero (``nan`` and infinity refused)."""
    seconds(value, attribute.name)


#: The longest timeout a push transport takes: pulsar-client keeps its timeouts as 32-bit milliseconds (about 24
#: days), and no connection needs more than a day to answer.
LONGEST_TIMEOUT = 86_400.0


def positive_timeout(instance: object, attribute: Any, value: object) -> None:
    """An attrs validator: a finite number of seconds above zero, at most :data:`LONGEST_TIMEOUT`."""
    seconds(value, attribute.name, maximum=LONGEST_TIMEOUT)


def non_negative_seconds(instance: object, attribute: Any, value: object) -> None:
    """An attrs validator: a finite number of seconds, zero or more."""
    seconds(value, attribute.name, allow_zero=True)


def seconds(value: object, name: str, *, allow_zero: bool = False, maximum: float | None = None) -> float:
    """A duration: a finite, positive number of seconds (or zero where ``allow_zero``), at most ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "more than zero"
        raise ValidationError(f"{name} must be a finite number of seconds, {bound}; got {value!r}")
    if maximum is not None and value > maximum:
        raise ValidationError(f"{name} must be at most {maximum:,.0f} seconds; got {value!r}")
    return float(value)


def url(
    value: object,
    name: str,
    *,
    schemes: tuple[str, ...],
    query: bool = False,
    credentials: bool = False,
) -> SplitResult:
    """A service URL, checked whole before any library below sees it, so a bad one is one clear line.

    Refused, naming ``name``: anything but text; control or invisible characters (the value is shown escaped, so
    nothing reaches a terminal raw); another scheme; no host; a host that is not an IP literal or a DNS name
    (empty or over-long labels, a name over 253 octets, a name IDNA cannot encode); a port outside 1-65535;
    a query or fragment unless ``query``; ``user:password@`` unless ``credentials`` (never echoed).
    """
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a URL string, got {type(value).__name__}")
    expected = " or ".join(f"{scheme}://" for scheme in schemes)
    shown = _shown(_USERINFO.sub("//***@", value))  # a password before "@" is never echoed
    if not value:
        raise ValidationError(f"{name} must be a {expected} URL, got an empty value")
    if len(value) > MAX_URL_LENGTH:
        raise ValidationError(f"{name} must be at most {MAX_URL_LENGTH} characters, got {len(value)}")
    if not value.isprintable() or any(char.isspace() for char in value):
        # Surrogates (bytes that were not UTF-8), escapes and zero-width characters all land here.
        raise ValidationError(f"{name} {shown} must not contain spaces, control or invisible characters")
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # an unclosed "[" of an IPv6 literal
        raise ValidationError(f"{name} {shown} is not a valid URL ({exc})") from None
    if parts.scheme not in schemes:
        raise ValidationError(f"{name} must start with {expected}, got {shown}")
    if "@" in parts.netloc and not credentials:
        # Not repeated back: the part before "@" may be a password.
        raise ValidationError(f"{name} must not hold credentials (user:password@host)")
    host = parts.hostname
    if not host:
        raise ValidationError(f"{name} must name a host, got {shown}")
    _host_name(host, name)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValidationError(f"{name} has a port outside 1-65535: {shown}")
    if (parts.query or parts.fragment) and not query:
        raise ValidationError(f"{name} must not have a query or fragment, got {shown}")
    return parts


def _host_name(host: str, name: str) -> None:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return
    except ValueError:
        pass
    if ":" in host:
        raise ValidationError(f"{name} has an invalid IPv6 address {_shown(host)}")
    labels = host.rstrip(".").split(".")
    for label in labels:
        if not label:
            raise ValidationError(f"{name} host {_shown(host)} has an empty label (two dots in a row?)")
        try:
            encoded = label.encode("idna")
        except UnicodeError:
            raise ValidationError(
                f"{name} host {_shown(host)} has a label that is not a valid DNS name (at most {_MAX_LABEL} "
                "letters, digits and hyphens)"
            ) from None
        if len(encoded) > _MAX_LABEL:
            raise ValidationError(f"{name} host {_shown(host)} has a label over {_MAX_LABEL} characters")
    if len(host.rstrip(".").encode("idna")) > _MAX_HOST:
        raise ValidationError(f"{name} host is over {_MAX_HOST} characters")

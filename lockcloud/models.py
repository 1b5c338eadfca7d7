"""Typed results of the lock endpoints.

Models are frozen attrs classes with snake_case fields, structured by the shared converter, which accepts camelCase
or snake_case keys and ignores keys it does not know. Fields holding keys (``ticket_key``, ``file_key``,
``media_key``) are left out of ``repr``.
"""

from __future__ import annotations

import datetime as _dt
import json
import typing
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs

from lockcloud._core.converter import fast_structure, structure
from lockcloud._core.errors import UnexpectedResponseError, ValidationError
from lockcloud.enums import (
    AccessCodeState,
    AlbumEventType,
    DeliveryStatus,
    LockRadio,
    OfflineCodeKind,
    RemoteUnlockType,
    StoragePlan,
    UnlockType,
    Weekday,
)

__all__ = [
    "Album",
    "AlbumEntry",
    "CreatedCode",
    "DynamicCode",
    "MediaFile",
    "OfflineCode",
    "PasswordTicket",
    "RemoteUnlockMethod",
    "Schedule",
    "SealedPin",
    "TemporaryCode",
    "UnlockKey",
]


@attrs.frozen
class UnlockKey:
    """One unlocking method (a fingerprint, card, password ...) of a lock.

    ``hijack`` (duress alarm on) is only reported for keys assigned to a user.
    """

    unlock_no: int
    unlock_type: UnlockType
    hijack: bool | None = None


@attrs.frozen
class PasswordTicket:
    """A single-use temporary key for one remote-unlock call.

    ``ticket_key`` is encrypted with the access secret (:func:`lockcloud.crypto.decrypt_ticket_key`).
    ``expire_time`` is the remaining validity in seconds at the time it was issued.
    """

    ticket_id: str
    ticket_key: str = attrs.field(repr=False)
    expire_time: int | None = None


@attrs.frozen
class SealedPin:
    """A PIN encrypted with the key of a fresh ticket, for exactly one call (:meth:`LockCloud.seal_pin`)."""

    ticket_id: str
    password: str = attrs.field(repr=False)


@attrs.frozen
class RemoteUnlockMethod:
    """A remote-unlock switch of a lock and whether it is on."""

    remote_unlock_type: RemoteUnlockType
    open: bool


def _join_url(file_url: str, file_path: str | None) -> str:
    # Tuya sometimes gives the bucket root in file_url and the object in file_path.
    if not file_path:
        return file_url
    if urlsplit(file_url).path.strip("/"):
        return file_url
    return file_url.rstrip("/") + "/" + file_path.lstrip("/")


@attrs.frozen
class MediaFile:
    """The latest cover image of a remote unlock or an alert; download it with ``remote_unlock.download_media``."""

    file_url: str
    file_key: str = attrs.field(repr=False)
    bucket: str | None = None
    file_path: str | None = None

    @property
    def download_url(self) -> str:
        """``file_url``, with ``file_path`` appended when ``file_url`` is only the bucket's root."""
        return _join_url(self.file_url, self.file_path)


@attrs.frozen
class AlbumEntry:
    """One cover image (and, for some events, a video) in a lock's album.

    ``event_type`` keeps values that are not in the document (``event_type.is_known`` is then false).
    """

    event_type: AlbumEventType
    file_url: str | None = None
    file_key: str | None = attrs.field(default=None, repr=False)
    file_id: int | None = None
    file_path: str | None = None
    media_path: str | None = None
    media_key: str | None = attrs.field(default=None, repr=False)
    media_bucket: str | None = None
    upload_time: _dt.datetime | None = None

    @property
    def download_url(self) -> str | None:
        """The cover image's URL, or ``None`` when the entry has none."""
        if not self.file_url:
            return None
        return _join_url(self.file_url, self.file_path)


@attrs.frozen
class Album:
    """The result of the album query: entries, the event types present, and the storage plan used."""

    album_list: list[AlbumEntry] = attrs.field(factory=list)
    event_types: list[AlbumEventType] = attrs.field(factory=list)
    order_code: StoragePlan | None = None

    @property
    def entries(self) -> list[AlbumEntry]:
        return self.album_list

    @property
    def storage_plan(self) -> StoragePlan | None:
        return self.order_code


T = TypeVar("T")

_SECRET_KEYS = frozenset(
    {"ticket_key", "ticketKey", "file_key", "fileKey", "media_key", "mediaKey"}
    # Guest access codes come back in plain text; a phone number is personal data.
    | {
        "offline_temp_password",
        "offlineTempPassword",
        "dynamic_password",
        "dynamicPassword",
        "password",
        "phone",
    }
)
# An error keeps a redacted sample of what did not fit, and names the first few problems, then counts the rest:
# a 100,000-item answer must not build a 20 MB message.
_SAMPLE_ITEMS = 20
_SAMPLE_DEPTH = 8
_SHOWN_PROBLEMS = 5


def _redacted(value: Any, depth: int = 0) -> Any:
    if depth >= _SAMPLE_DEPTH and isinstance(value, dict | list):
        return "..."
    if isinstance(value, dict):
        items = list(value.items())
        sample = {
            str(k): "<redacted>" if k in _SECRET_KEYS else _redacted(v, depth + 1)
            for k, v in items[:_SAMPLE_ITEMS]
        }
        if len(items) > _SAMPLE_ITEMS:
            sample["..."] = f"{len(items) - _SAMPLE_ITEMS} more keys"
        return sample
    if isinstance(value, list):
        sample_list = [_redacted(item, depth + 1) for item in value[:_SAMPLE_ITEMS]]
        if len(value) > _SAMPLE_ITEMS:
            sample_list.append(f"... {len(value) - _SAMPLE_ITEMS} more items")
        return sample_list
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + f"... ({len(value)} characters)"
    return value


def _location(exc: BaseException) -> str:
    for note in getattr(exc, "__notes__", ()):
        name = getattr(note, "name", None)
        if isinstance(name, str):
            return f".{name}"
        index = getattr(note, "index", None)
        if index is not None:
            return f"[{index}]"
    return ""


def _problems(exc: BaseException, root: str) -> str:
    """``Model[3].field: ValueError; ...`` for the first few leaves of cattrs' error tree, then how many more."""
    shown: list[str] = []
    total = 0
    pending: list[tuple[BaseException, str]] = [(exc, root)]
    while pending:
        current, where = pending.pop()
        if isinstance(current, BaseExceptionGroup):
            pending.extend((sub, where + _location(sub)) for sub in reversed(current.exceptions))
            continue
        total += 1
        if len(shown) < _SHOWN_PROBLEMS:
            shown.append(f"{where}: {type(current).__name__}")
    text = "; ".join(shown)
    return text + (f"; and {total - len(shown)} more" if total > len(shown) else "")


def bool_result(result: Any) -> bool:
    """The result of a call documented as Boolean or "Object": the envelope already said success, so only an
    explicit ``false`` is reported as False."""
    return result is not False


def decode_result(value: Any, cls: type[T], *, method: str, path: str) -> T:
    """Structure an envelope's ``result`` into ``cls``, or raise :class:`UnexpectedResponseError`.

    The error's ``body`` keeps a sample of the result with every key field redacted; the message names the first
    fields that did not fit but never their values (one of them could be a ticket key), then counts the rest.
    """
    origin = typing.get_origin(cls)
    args = typing.get_args(cls)
    name = f"list[{getattr(args[0], '__name__', args[0])}]" if origin is list and args else cls.__name__
    details: str
    if origin is list:
        if not isinstance(value, list):
            # A string or an object iterated as a list would fail once per character or key.
            details = f"expected a list, got {type(value).__name__}"
        else:
            items, details = _structure_items(value, args[0] if args else Any, name)
            if not details:
                return items  # type: ignore[return-value]
    else:
        try:
            return structure(value, cls)
        except RecursionError:
            details = "nested too deeply"
        except ExceptionGroup as exc:  # cattrs' BaseValidationError (cattrs is imported on first use)
            details = _problems(exc, name)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            details = type(exc).__name__
    try:
        body = json.dumps(_redacted(value), default=str).encode()[:2048]
    except (ValueError, RecursionError):
        body = b""
    raise UnexpectedResponseError(
        f"the result does not fit {name}: {details}",
        method=method,
        path=path,
        status_code=200,
        body=body,
    )


_STRUCTURE_FAILURES = (
    ExceptionGroup,  # cattrs' BaseValidationError
    RecursionError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    OverflowError,
)


def _structure_items(value: list[Any], item_type: Any, name: str) -> tuple[list[Any], str]:
    """Each item with the fast converter; the first few failures explained in detail, the rest counted."""
    items: list[Any] = []
    shown: list[str] = []
    failed = 0
    for index, item in enumerate(value):
        try:
            items.append(fast_structure(item, item_type))
        except _STRUCTURE_FAILURES:
            failed += 1
            if len(shown) < _SHOWN_PROBLEMS:
                shown.append(_item_problem(item, item_type, f"{name}[{index}]"))
    if not failed:
        return items, ""
    text = "; ".join(shown)
    if failed > len(shown):
        text += f"; and {failed - len(shown)} more of {len(value)} items"
    return [], text


def _item_problem(item: Any, item_type: Any, where: str) -> str:
    try:
        structure(item, item_type)
    except ExceptionGroup as exc:  # cattrs' BaseValidationError
        return _problems(exc, where)
    except RecursionError:
        return f"{where}: nested too deeply"
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        return f"{where}: {type(exc).__name__}"
    return f"{where}: does not fit"


# -- guest access codes (cloud.access_codes) --------------------------------------------------------------------

#: Last minute of a day in a weekly schedule (23:59).
LAST_MINUTE_OF_DAY = 1439


def _minute_of_day(value: object, name: str) -> int:
    """``time(9, 30)``, ``"09:30"`` or ``570``: a minute of the day from 0 to 1439."""
    if isinstance(value, _dt.time):
        if value.second or value.microsecond:
            raise ValidationError(f"{name} must be a whole minute, got {value.isoformat()}")
        return value.hour * 60 + value.minute
    if isinstance(value, str):
        hours, sep, minutes = value.partition(":")
        if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
            raise ValidationError(f"{name} must be a time of day such as '09:30', got {value[:20]!r}")
        total = int(hours) * 60 + int(minutes)
        if int(minutes) > 59 or not 0 <= total <= LAST_MINUTE_OF_DAY:
            raise ValidationError(f"{name} must be a time of day from 00:00 to 23:59, got {value[:20]!r}")
        return total
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"{name} must be a time of day or a minute of the day, got {type(value).__name__}"
        )
    if not 0 <= value <= LAST_MINUTE_OF_DAY:
        raise ValidationError(
            f"{name} must be a minute of the day from 0 to {LAST_MINUTE_OF_DAY}, got {value}"
        )
    return value


_DAY_NAMES = {
    "sun": Weekday.SUNDAY,
    "mon": Weekday.MONDAY,
    "tue": Weekday.TUESDAY,
    "wed": Weekday.WEDNESDAY,
    "thu": Weekday.THURSDAY,
    "fri": Weekday.FRIDAY,
    "sat": Weekday.SATURDAY,
}


def weekday(value: object) -> Weekday:
    """A :class:`~lockcloud.Weekday`, or a day name (``"mon"``, ``"Monday"``); anything else is refused."""
    if isinstance(value, Weekday) and value.is_known:
        return value
    if isinstance(value, str):
        member = _DAY_NAMES.get(value.strip().lower()[:3])
        if member is not None and value.strip().lower() in (member.name.lower(), member.name.lower()[:3]):
            return member
    raise ValidationError(f"a weekday must be a Weekday or a day name such as 'mon', got {str(value)[:20]!r}")


@attrs.frozen
class Schedule:
    """A weekly window of a temporary code: on these days, from one minute of the day to another.

    Build one with :meth:`weekly`; the fields are the wire's (``working_day`` has bit 0 for Sunday).
    """

    effective_time: int
    invalid_time: int
    working_day: int

    @classmethod
    def weekly(
        cls, weekdays: Iterable[Weekday | str], start: _dt.time | str | int, end: _dt.time | str | int
    ) -> Schedule:
        """``Schedule.weekly({"mon", "tue"}, "09:00", "17:00")``: validated, :class:`ValidationError` otherwise.

        The window ends before ``end`` and must start before it on the same day (split a night into two).
        """
        if isinstance(weekdays, str | Weekday):
            weekdays = [weekdays]
        days = {weekday(day) for day in weekdays}
        if not days:
            raise ValidationError("weekdays must name at least one day")
        first = _minute_of_day(start, "start")
        last = _minute_of_day(end, "end")
        if last <= first:
            raise ValidationError("a schedule's end must be later than its start on the same day")
        return cls(first, last, sum(int(day) for day in days))

    @property
    def weekdays(self) -> frozenset[Weekday]:
        return frozenset(day for day in Weekday if self.working_day & int(day))

    @property
    def start_minute(self) -> int:
        return self.effective_time

    @property
    def end_minute(self) -> int:
        return self.invalid_time

    @property
    def start(self) -> _dt.time:
        return _dt.time(*divmod(min(max(self.effective_time, 0), LAST_MINUTE_OF_DAY), 60))

    @property
    def end(self) -> _dt.time:
        return _dt.time(*divmod(min(max(self.invalid_time, 0), LAST_MINUTE_OF_DAY), 60))

    def to_wire(self) -> dict[str, int]:
        return {
            "effective_time": self.effective_time,
            "invalid_time": self.invalid_time,
            "working_day": self.working_day,
        }


@attrs.frozen
class TemporaryCode:
    """An online temporary code (``cloud.access_codes.list`` / ``get``). The PIN itself never comes back.

    ``state`` is the radio's ``phase`` read as one :class:`~lockcloud.AccessCodeState`; ``delivery_status`` is what a
    Zigbee lock answered. ``phone`` is personal data and left out of ``repr``.
    """

    id: int
    name: str | None = None
    phase: int | None = None
    effective_time: _dt.datetime | None = None
    invalid_time: _dt.datetime | None = None
    time_zone: str | None = None
    phone: str | None = attrs.field(default=None, repr=False)
    delivery_status: DeliveryStatus | None = None
    schedule_list: list[Schedule] = attrs.field(factory=list)
    #: Filled in by the resource: the radio whose phase table was used, and the resulting state.
    radio: LockRadio | None = None
    state: AccessCodeState | None = None

    @property
    def password_id(self) -> int:
        return self.id

    @property
    def valid_from(self) -> _dt.datetime | None:
        return self.effective_time

    @property
    def valid_until(self) -> _dt.datetime | None:
        return self.invalid_time

    @property
    def schedules(self) -> list[Schedule]:
        return self.schedule_list


# phase -> state, per radio. Zigbee locks are the ones that answer delivery_status, which is how a code is read
# when the caller does not say which radio the lock has; Wi-Fi and Bluetooth agree on 0-3.
_ZIGBEE_PHASES = {
    1: AccessCodeState.PENDING_DELIVERY,
    2: AccessCodeState.ACTIVE,
    3: AccessCodeState.FROZEN,
    4: AccessCodeState.DELETED,
    5: AccessCodeState.FAILED,
}
_WIFI_PHASES = {
    0: AccessCodeState.DELETED,
    1: AccessCodeState.PENDING_DELIVERY,
    2: AccessCodeState.ACTIVE,
    3: AccessCodeState.DELETING,
}
_BLUETOOTH_PHASES = {**_WIFI_PHASES, 7: AccessCodeState.FAILED}


def code_radio(code: TemporaryCode, radio: LockRadio | None) -> LockRadio:
    """The radio a code's ``phase`` is read with: the one given, else Zigbee when the lock answered
    ``delivery_status``, else Bluetooth (whose table is Wi-Fi's plus 7 "failed")."""
    if radio is not None:
        return radio
    return LockRadio.ZIGBEE if code.delivery_status is not None else LockRadio.BLUETOOTH


def code_state(code: TemporaryCode, radio: LockRadio | None, now: float) -> AccessCodeState:
    """The one state of ``code`` at ``now`` (epoch seconds); an undocumented phase stays ``UNKNOWN``."""
    used = code_radio(code, radio)
    table = {LockRadio.ZIGBEE: _ZIGBEE_PHASES, LockRadio.WIFI: _WIFI_PHASES}.get(used, _BLUETOOTH_PHASES)
    if code.phase is None:
        return AccessCodeState("phase-none")
    state = table.get(code.phase)
    if state is None:
        return AccessCodeState(f"phase-{code.phase}")
    if (
        state is AccessCodeState.ACTIVE
        and code.invalid_time is not None
        and code.invalid_time.timestamp() <= now
    ):
        return AccessCodeState.EXPIRED
    return state


@attrs.frozen
class CreatedCode:
    """What creating a temporary code answers: its number on the lock."""

    id: int


@attrs.frozen
class OfflineCode:
    """An offline code: the lock checks it by itself, so it works without a connection. A secret: not in ``repr``.

    ``kind`` says what typing it does (open the door many times or once, or clear one or every offline code).
    ``valid_from`` / ``valid_until`` are the whole hours the code was made for.
    """

    offline_temp_password: str = attrs.field(repr=False)
    offline_temp_password_id: int | None = None
    name: str | None = None
    kind: OfflineCodeKind | None = None
    effective_time: _dt.datetime | None = None
    invalid_time: _dt.datetime | None = None

    @property
    def code(self) -> str:
        return self.offline_temp_password

    @property
    def password_id(self) -> int | None:
        return self.offline_temp_password_id

    @property
    def valid_from(self) -> _dt.datetime | None:
        return self.effective_time

    @property
    def valid_until(self) -> _dt.datetime | None:
        return self.invalid_time


@attrs.frozen
class DynamicCode:
    """The lock's current dynamic code (it changes every few minutes). A secret: not in ``repr``."""

    dynamic_password: str = attrs.field(repr=False)
    expire_time: int | None = None

    @property
    def code(self) -> str:
        return self.dynamic_password

"""Guest access codes: online temporary codes, offline codes and the dynamic code.

Reach it as ``cloud.access_codes``:

* :meth:`AccessCodes.create` — a PIN for a guest, valid between two aware datetimes, optionally only on some
  weekdays and hours; it returns a :class:`CodeDelivery` to ``await delivery.delivered()`` on;
* :meth:`AccessCodes.list` / :meth:`AccessCodes.get` — the codes and their :class:`~lockcloud.AccessCodeState`;
* :meth:`AccessCodes.modify`, :meth:`AccessCodes.freeze`, :meth:`AccessCodes.unfreeze`,
  :meth:`AccessCodes.delete`, :meth:`AccessCodes.clear`, :meth:`AccessCodes.sync`;
* :meth:`AccessCodes.create_offline`, :meth:`AccessCodes.offline_once`, :meth:`AccessCodes.offline_clear_code`,
  :meth:`AccessCodes.offline_clear_all_code` — codes the lock checks by itself, whole hours only;
* :meth:`AccessCodes.dynamic` — the lock's rotating dynamic code.

The PIN of a temporary code travels sealed with a fresh single-use password ticket, exactly as for a remote unlock
(:meth:`~lockcloud.LockCloud.seal_pin`). Creating a code, changing one and asking for an offline code are never
replayed once they may have reached Tuya (:class:`~lockcloud.OutcomeUnknownError`); reads, freezing, deleting and
clearing retry. Codes that come back in plain text are never in ``repr``, logs or error messages.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import time
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from lockcloud._core import validation as check
from lockcloud._core.errors import (
    AccessCodeDeliveryError,
    AccessCodeDeliveryTimeoutError,
    UnexpectedResponseError,
    ValidationError,
)
from lockcloud._core.validation import seconds
from lockcloud.enums import AccessCodeState, DeliveryStatus, LockRadio, OfflineCodeKind, PasswordType
from lockcloud.models import (
    CreatedCode,
    DynamicCode,
    OfflineCode,
    Schedule,
    TemporaryCode,
    code_radio,
    code_state,
)
from lockcloud.resources._base import Resource

__all__ = [
    "DEFAULT_DELIVERY_TIMEOUT",
    "MAX_CODE_NAME_LENGTH",
    "AccessCodes",
    "CodeDelivery",
]

#: How long :meth:`CodeDelivery.delivered` waits by default: Tuya gives a Zigbee lock 25 seconds.
DEFAULT_DELIVERY_TIMEOUT = 25.0
#: The longest code name lockcloud sends (Tuya documents no limit; lock apps show about this much).
MAX_CODE_NAME_LENGTH = 50
_MAX_PHONE_LENGTH = 20
_MAX_RELATED_DEVICES = 16
_HOUR = 3600

# Without a delivery_status (Wi-Fi and Bluetooth locks), the state says whether the lock has the code, or never will.
_SETTLED_STATES = frozenset({AccessCodeState.ACTIVE, AccessCodeState.FROZEN, AccessCodeState.EXPIRED})
_FAILED_STATES = frozenset({AccessCodeState.FAILED, AccessCodeState.DELETED, AccessCodeState.DELETING})


@runtime_checkable
class _HasServerClock(Protocol):
    def server_time(self) -> float: ...


# -- argument checks ---------------------------------------------------------------------------------------------


def _aware(value: object, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ValidationError(f"{name} must be a datetime with a time zone, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{name} must be an aware datetime (with tzinfo); a naive one is ambiguous")
    return value


def _window(valid_from: object, valid_until: object) -> tuple[dt.datetime, dt.datetime]:
    start = _aware(valid_from, "valid_from")
    end = _aware(valid_until, "valid_until")
    if end <= start:
        raise ValidationError("valid_until must be later than valid_from")
    return start, end


def _epoch(value: dt.datetime) -> int:
    return int(value.timestamp())


def _name(value: object) -> str:
    text = check.non_empty_text(value, "name")
    if len(text) > MAX_CODE_NAME_LENGTH:
        raise ValidationError(f"name must be at most {MAX_CODE_NAME_LENGTH} characters, got {len(text)}")
    return text


def _radio(value: object) -> LockRadio:
    member = LockRadio(value) if isinstance(value, str) else None
    if member is None or not member.is_known:
        choices = ", ".join(repr(m.value) for m in LockRadio)
        raise ValidationError(f"radio must be one of {choices}; got {str(value)[:20]!r}")
    return member


def _optional_radio(value: object) -> LockRadio | None:
    return None if value is None else _radio(value)


def _time_zone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError("time_zone must be an IANA time zone name such as 'Europe/Paris'")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"time_zone {value[:40]!r} is not a known IANA time zone") from None
    return value


def _zone_of(start: dt.datetime) -> str | None:
    return start.tzinfo.key if isinstance(start.tzinfo, zoneinfo.ZoneInfo) else None


def _phone(value: object) -> str:
    # Never echoed: a phone number is personal data.
    if not isinstance(value, str) or not value:
        raise ValidationError("phone must be a non-empty string")
    if len(value) > _MAX_PHONE_LENGTH or not all(c.isdigit() or c in "+- " for c in value):
        raise ValidationError(f"phone must be digits (with '+', '-'), at most {_MAX_PHONE_LENGTH} characters")
    return value


def _schedules(value: Iterable[Schedule]) -> list[Schedule]:
    if isinstance(value, Schedule):
        value = [value]
    result = []
    for item in value:
        if not isinstance(item, Schedule):
            raise ValidationError(
                f"schedules must be Schedule values (Schedule.weekly), got {type(item).__name__}"
            )
        # A Schedule built directly (not through Schedule.weekly) is checked here as well.
        result.append(Schedule.weekly(item.weekdays or (), item.effective_time, item.invalid_time))
        if item.working_day & ~0x7F:
            raise ValidationError("a schedule's working_day has bits for days that do not exist")
    return result


def _related(value: Sequence[str]) -> list[str]:
    if isinstance(value, str):
        raise ValidationError("related_devices must be a list of device ids, not one string")
    devices = [check.path_part(item, "related_devices item") for item in value]
    if len(devices) > _MAX_RELATED_DEVICES:
        raise ValidationError(f"related_devices holds at most {_MAX_RELATED_DEVICES} devices")
    return devices


def _password_id(value: object) -> int:
    return check.serial_number(value, "password_id")


def _whole_hours(start: dt.datetime, end: dt.datetime, round_to_hour: bool) -> tuple[int, int]:
    """Offline codes work in whole hours. Off-hour times are refused unless ``round_to_hour``, which widens the
    window to the hours around it (start down, end up), so the guest never loses time."""
    first, last = _epoch(start), _epoch(end)
    if (first % _HOUR or last % _HOUR or start.microsecond or end.microsecond) and not round_to_hour:
        raise ValidationError(
            "offline codes start and end on whole hours: pass times like 15:00, or round_to_hour=True to widen "
            "the window to the hours around it"
        )
    first -= first % _HOUR
    last = -(-last // _HOUR) * _HOUR
    if last <= first:
        raise ValidationError("valid_until must be later than valid_from")
    return first, last


# -- the resource ------------------------------------------------------------------------------------------------


class AccessCodes(Resource):
    """The guest access codes of one :class:`~lockcloud.LockCloud` (``AccessCodes(cloud)``)."""

    # -- online temporary codes ----------------------------------------------------------------------------------

    async def create(
        self,
        device_id: str,
        *,
        pin: str,
        valid_from: dt.datetime,
        valid_until: dt.datetime,
        radio: LockRadio | str,
        single_use: bool = False,
        schedules: Iterable[Schedule] = (),
        time_zone: str | None = None,
        phone: str | None = None,
        related_devices: Sequence[str] = (),
        name: str | None = None,
    ) -> CodeDelivery:
        """Create a temporary code (POST ``.../door-lock/temp-password``) and return its :class:`CodeDelivery`.

        ``name`` is what the code is for (a guest, a booking); without one the code is created unnamed (POST
        ``/v2.0/.../door-lock/temp-password``, which takes no name and no related devices).

        ``pin`` has 7 digits on Wi-Fi locks and 6 on Zigbee and Bluetooth ones (``radio``). ``valid_from`` and
        ``valid_until`` are aware datetimes (sent as whole seconds). ``schedules`` restrict the code to weekly
        windows (:meth:`Schedule.weekly`) read in ``time_zone``, which defaults to ``valid_from``'s zone when it is a
        :class:`zoneinfo.ZoneInfo`. ``single_use`` makes the code work once. Everything is checked before the ticket
        is fetched; the call is unsafe (:class:`~lockcloud.OutcomeUnknownError` rather than a second code).
        """
        device = check.device_id(device_id)
        lock_radio = _radio(radio)
        if name is None and related_devices:
            raise ValidationError("related_devices needs a name: the unnamed create takes no related devices")
        body = self._code_body(
            name=name,
            valid_from=valid_from,
            valid_until=valid_until,
            single_use=single_use,
            schedules=schedules,
            time_zone=time_zone,
            phone=phone,
            related_devices=related_devices,
        )
        digits = check.pin(pin, length=lock_radio.pin_length)
        sealed = await self._cloud.seal_pin(device, digits)
        body.update(
            password=sealed.password, password_type=PasswordType.TICKET.value, ticket_id=sealed.ticket_id
        )
        version = "v1.0" if name is not None else "v2.0"
        path = f"/{version}/devices/{device}/door-lock/temp-password"
        created = await self._call("POST", path, json=body, cast_to=CreatedCode, unsafe=True)
        return CodeDelivery(self, device, created.id, lock_radio)

    async def modify(
        self,
        device_id: str,
        password_id: int,
        *,
        name: str,
        pin: str,
        valid_from: dt.datetime,
        valid_until: dt.datetime,
        radio: LockRadio | str,
        single_use: bool = False,
        schedules: Iterable[Schedule] = (),
        time_zone: str | None = None,
        phone: str | None = None,
    ) -> CodeDelivery:
        """Replace a code's PIN, name, window and schedules (PUT ``.../temp-passwords/{id}/modify-password``).

        Arguments as for :meth:`create`. Unsafe: it spends a fresh ticket, so it is never replayed.
        """
        device = check.device_id(device_id)
        number = _password_id(password_id)
        lock_radio = _radio(radio)
        body = self._code_body(
            name=name,
            valid_from=valid_from,
            valid_until=valid_until,
            single_use=single_use,
            schedules=schedules,
            time_zone=time_zone,
            phone=phone,
            related_devices=(),
        )
        digits = check.pin(pin, length=lock_radio.pin_length)
        sealed = await self._cloud.seal_pin(device, digits)
        body.update(
            password=sealed.password, password_type=PasswordType.TICKET.value, ticket_id=sealed.ticket_id
        )
        path = f"/v1.0/devices/{device}/door-lock/temp-passwords/{number}/modify-password"
        await self._call("PUT", path, json=body, cast_to=bool, unsafe=True)
        return CodeDelivery(self, device, number, lock_radio)

    async def list(
        self, device_id: str, *, valid: bool | None = None, radio: LockRadio | str | None = None
    ) -> builtins.list[TemporaryCode]:
        """The lock's temporary codes (GET ``.../door-lock/temp-passwords``), each with its ``state``.

        ``valid=True`` asks for the valid ones only, ``False`` for the others. Each radio numbers ``phase``
        differently; give ``radio`` to read them exactly (without it, a code with a ``delivery_status`` is read as
        a Zigbee lock's, any other as a Wi-Fi or Bluetooth lock's, which agree).
        """
        device = check.device_id(device_id)
        lock_radio = _optional_radio(radio)
        params = None if valid is None else {"valid": "true" if check.flag(valid, "valid") else "false"}
        path = f"/v1.0/devices/{device}/door-lock/temp-passwords"
        result = await self._get_raw(path, params=params)
        items = result.get("list", []) if isinstance(result, dict) else (result or [])
        codes = await self._decode(items, list[TemporaryCode], method="GET", path=path)
        return [self._with_state(code, lock_radio) for code in codes]

    async def get(
        self, device_id: str, password_id: int, *, radio: LockRadio | str | None = None
    ) -> TemporaryCode:
        """One temporary code (GET ``.../door-lock/temp-password/{id}``) with its ``state``."""
        device = check.device_id(device_id)
        number = _password_id(password_id)
        lock_radio = _optional_radio(radio)
        path = f"/v1.0/devices/{device}/door-lock/temp-password/{number}"
        code = await self._call("GET", path, cast_to=TemporaryCode, unsafe=False)
        return self._with_state(code, lock_radio)

    async def freeze(self, device_id: str, password_id: int) -> bool:
        """Suspend a code: it stays on the lock but opens nothing (PUT ``.../freeze-password``). Idempotent."""
        return await self._put_state(device_id, password_id, "freeze-password")

    async def unfreeze(self, device_id: str, password_id: int) -> bool:
        """Let a frozen code open the door again (PUT ``.../unfreeze-password``). Idempotent."""
        return await self._put_state(device_id, password_id, "unfreeze-password")

    async def delete(self, device_id: str, password_id: int) -> bool:
        """Remove a code (DELETE ``.../door-lock/temp-passwords/{id}``).

        Retried like a read. When an earlier attempt's answer was lost, the retry can be answered
        :class:`~lockcloud.NotFoundError`: the code is gone either way.
        """
        device = check.device_id(device_id)
        number = _password_id(password_id)
        path = f"/v1.0/devices/{device}/door-lock/temp-passwords/{number}"
        return await self._call("DELETE", path, cast_to=bool, unsafe=False)

    async def clear(self, device_id: str) -> bool:
        """Remove every temporary code of the lock (POST ``.../temp-passwords/rest-password``; Tuya's sample
        spells it ``reset-password``, its table ``rest-password``, which is what is sent). Retried."""
        device = check.device_id(device_id)
        path = f"/v1.0/devices/{device}/door-lock/temp-passwords/rest-password"
        return await self._call("POST", path, cast_to=bool, unsafe=False)

    async def sync(self, device_id: str) -> bool:
        """Send the cloud's temporary codes to the lock again (POST ``.../door-lock/issue-password``). Retried."""
        device = check.device_id(device_id)
        path = f"/v1.0/devices/{device}/door-lock/issue-password"
        return await self._call("POST", path, cast_to=bool, unsafe=False)

    # -- offline and dynamic codes -------------------------------------------------------------------------------

    async def create_offline(
        self,
        device_id: str,
        *,
        valid_from: dt.datetime,
        valid_until: dt.datetime,
        name: str | None = None,
        round_to_hour: bool = False,
    ) -> OfflineCode:
        """An offline code that opens the door any number of times between two whole hours.

        The lock works in whole hours, so ``valid_from`` and ``valid_until`` must fall on them: an off-hour time is
        a :class:`~lockcloud.ValidationError`, unless ``round_to_hour=True``, which widens the window to the hours
        around it (``valid_from`` down, ``valid_until`` up). The result's ``valid_from`` / ``valid_until`` say which
        hours were sent. Unsafe: each call makes another code.
        """
        device = check.device_id(device_id)
        start, end = _window(valid_from, valid_until)
        first, last = _whole_hours(start, end, check.flag(round_to_hour, "round_to_hour"))
        body: dict[str, Any] = {
            "type": OfflineCodeKind.MULTIPLE.value,
            "effective_time": first,
            "invalid_time": last,
        }
        return await self._offline(device, body, name, OfflineCodeKind.MULTIPLE, first, last)

    async def offline_once(self, device_id: str, *, name: str | None = None) -> OfflineCode:
        """An offline code that opens the door once, within the 6 hours from the current hour (Tuya's rule)."""
        device = check.device_id(device_id)
        body: dict[str, Any] = {"type": OfflineCodeKind.ONCE.value}
        return await self._offline(device, body, name, OfflineCodeKind.ONCE, None, None)

    async def offline_clear_code(
        self, device_id: str, password_id: int, *, name: str | None = None
    ) -> OfflineCode:
        """A code that, typed on the lock, clears the offline code ``password_id``."""
        device = check.device_id(device_id)
        body: dict[str, Any] = {
            "type": OfflineCodeKind.CLEAR_ONE.value,
            "password_id": _password_id(password_id),
        }
        return await self._offline(device, body, name, OfflineCodeKind.CLEAR_ONE, None, None)

    async def offline_clear_all_code(self, device_id: str, *, name: str | None = None) -> OfflineCode:
        """A code that, typed on the lock, clears every offline code (valid for 24 hours from the current hour)."""
        device = check.device_id(device_id)
        body: dict[str, Any] = {"type": OfflineCodeKind.CLEAR_ALL.value}
        return await self._offline(device, body, name, OfflineCodeKind.CLEAR_ALL, None, None)

    async def dynamic(self, device_id: str) -> DynamicCode:
        """The lock's dynamic code right now (GET ``.../door-lock/dynamic-password``); it changes every few
        minutes. The code is a secret: it is not in the result's ``repr``."""
        device = check.device_id(device_id)
        path = f"/v1.0/devices/{device}/door-lock/dynamic-password"
        result = await self._get_raw(path)
        if isinstance(result, str):
            result = {"dynamic_password": result}
        code = await self._decode(result, DynamicCode, method="GET", path=path)
        _require_digits(code.dynamic_password, "GET", path)
        return code

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _code_body(
        self,
        *,
        name: object,
        valid_from: object,
        valid_until: object,
        single_use: object,
        schedules: Iterable[Schedule],
        time_zone: object,
        phone: object,
        related_devices: Sequence[str],
    ) -> dict[str, Any]:
        start, end = _window(valid_from, valid_until)
        body: dict[str, Any] = {
            **({"name": _name(name)} if name is not None else {}),
            "effective_time": _epoch(start),
            "invalid_time": _epoch(end),
            "type": 1 if check.flag(single_use, "single_use") else 0,
        }
        windows = _schedules(schedules)
        zone = _time_zone(time_zone) if time_zone is not None else _zone_of(start)
        if windows and zone is None:
            raise ValidationError(
                "time_zone is needed with schedules: pass one such as 'Europe/Paris', or valid_from in a ZoneInfo"
            )
        if zone is not None:
            body["time_zone"] = zone
        if windows:
            body["schedule_list"] = [window.to_wire() for window in windows]
        if phone is not None:
            body["phone"] = _phone(phone)
        devices = _related(related_devices)
        if devices:
            body["relate_dev_list"] = devices
        return body

    def _with_state(self, code: TemporaryCode, radio: LockRadio | None) -> TemporaryCode:
        now = self._cloud.server_time() if isinstance(self._cloud, _HasServerClock) else time.time()
        return attrs.evolve(code, radio=code_radio(code, radio), state=code_state(code, radio, now))

    async def _put_state(self, device_id: str, password_id: int, action: str) -> bool:
        device = check.device_id(device_id)
        number = _password_id(password_id)
        path = f"/v1.0/devices/{device}/door-lock/temp-passwords/{number}/{action}"
        return await self._call("PUT", path, cast_to=bool, unsafe=False)

    async def _offline(
        self,
        device: str,
        body: dict[str, Any],
        name: str | None,
        kind: OfflineCodeKind,
        first: int | None,
        last: int | None,
    ) -> OfflineCode:
        if name is not None:
            body["name"] = _name(name)
        path = f"/v1.1/devices/{device}/door-lock/offline-temp-password"
        code = await self._call("POST", path, json=body, cast_to=OfflineCode, unsafe=True)
        _require_digits(code.offline_temp_password, "POST", path)
        sent_from = dt.datetime.fromtimestamp(first, dt.UTC) if first is not None else None
        sent_until = dt.datetime.fromtimestamp(last, dt.UTC) if last is not None else None
        return attrs.evolve(
            code,
            kind=kind,
            effective_time=code.effective_time or sent_from,
            invalid_time=code.invalid_time or sent_until,
        )


def _require_digits(code: object, method: str, path: str) -> None:
    # A code is digits. Anything else is a malformed answer, reported without it (it may hold the code).
    if not isinstance(code, str) or not code.isascii() or not code.isdigit():
        raise UnexpectedResponseError(
            "the answer holds no code of digits", method=method, path=path, status_code=200, body=b""
        )


class CodeDelivery:
    """A temporary code on its way to the lock: an action attempt to await (``await delivery.delivered()``).

    Zigbee locks take a code asynchronously and answer ``delivery_status``; Wi-Fi and Bluetooth locks move its
    ``phase`` from "to be sent" to "sent". :meth:`delivered` polls the code until the lock confirms or refuses it.
    """

    def __init__(self, codes: AccessCodes, device_id: str, password_id: int, radio: LockRadio) -> None:
        self._codes = codes
        self.device_id = device_id
        self.password_id = password_id
        self.radio = radio

    def __repr__(self) -> str:
        return f"CodeDelivery(device_id={self.device_id!r}, password_id={self.password_id}, radio={self.radio.value!r})"

    async def status(self) -> TemporaryCode:
        """The code as the cloud has it now (one GET)."""
        return await self._codes.get(self.device_id, self.password_id, radio=self.radio)

    async def delivered(
        self,
        timeout: float = DEFAULT_DELIVERY_TIMEOUT,  # noqa: ASYNC109 - the deadline is the operation's, named in its error
        *,
        poll_interval: float = 1.0,
    ) -> TemporaryCode:
        """Wait until the lock has the code, and return it.

        Raises :class:`~lockcloud.AccessCodeDeliveryError` when the lock refuses it (``reason`` says why:
        ``OVERLAPPING``, ``CAPACITY_REACHED``, ``ALREADY_EXISTS`` ...) and
        :class:`~lockcloud.AccessCodeDeliveryTimeoutError` when neither happened within ``timeout`` seconds.
        """
        limit = seconds(timeout, "timeout")
        interval = seconds(poll_interval, "poll_interval")
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                while True:
                    code = await self.status()
                    if _is_delivered(code, self.device_id):
                        return code
                    await asyncio.sleep(interval)
        except TimeoutError:
            # A read that timed out inside the transport is a TimeoutError too: only the deadline's own is ours.
            if not deadline.expired():
                raise
            raise AccessCodeDeliveryTimeoutError(self.device_id, self.password_id, limit) from None


def _is_delivered(code: TemporaryCode, device_id: str) -> bool:
    """True once the lock has the code; raises when it refused it; False while it is still on its way."""
    status = code.delivery_status
    if status is not None and status is not DeliveryStatus.IN_PROGRESS:
        if status is DeliveryStatus.SUCCEEDED:
            return True
        raise AccessCodeDeliveryError(device_id, code.id, status, code.state)
    if code.state in _SETTLED_STATES and status is None:
        return True
    if code.state in _FAILED_STATES:
        raise AccessCodeDeliveryError(device_id, code.id, status, code.state)
    return False

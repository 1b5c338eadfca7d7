"""Unlocking methods: keys, enrollment, names, duress alarms, attributes.

Reach it as ``cloud.unlock_methods``. Each method is one endpoint; it validates its arguments before anything is
sent and declares whether the call may be replayed after a timeout (``idempotent``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lockcloud._core import validation as check
from lockcloud._core.errors import ValidationError
from lockcloud.enums import PasswordType, SpecialAttribute, UnlockType, UserType
from lockcloud.models import UnlockKey
from lockcloud.resources._base import Resource

__all__ = ["UnlockMethods"]


class UnlockMethods(Resource):
    """The unlocking-method endpoints of one :class:`~lockcloud.LockCloud` (``UnlockMethods(cloud)``)."""

    async def _unlock_keys(self, path: str, params: dict[str, str] | None) -> list[UnlockKey]:
        result = await self._get_raw(path, params=params)
        items: Any
        if result is None:
            items = []
        elif isinstance(result, list):
            items = result
        elif isinstance(result, dict):
            items = result.get("unlock_keys", result.get("unlockKeys")) or []
        else:
            items = result
        return await self._decode(items, list[UnlockKey], method="GET", path=path)

    async def list_assigned(
        self,
        device_id: str,
        user_id: str,
        user_type: UserType | int,
        *,
        unlock_type: UnlockType | str | None = None,
    ) -> list[UnlockKey]:
        """Keys linked to a user (GET ``.../user-types/{user_type}/users/{user_id}/assigned-keys``)."""
        device = check.device_id(device_id)
        user = check.path_part(user_id, "user_id")
        kind = check.user_type(user_type)
        params = None if unlock_type is None else {"unlock_type": check.unlock_type(unlock_type).plain}
        path = f"/v1.0/devices/{device}/door-lock/user-types/{kind.value}/users/{user}/assigned-keys"
        return await self._unlock_keys(path, params)

    async def list_unassigned(
        self, device_id: str, *, unlock_type: UnlockType | str | None = None
    ) -> list[UnlockKey]:
        """Keys enrolled on the lock but not linked to any user (GET ``.../door-lock/unassigned-keys``)."""
        device = check.device_id(device_id)
        params = None if unlock_type is None else {"unlock_type": check.unlock_type(unlock_type).plain}
        return await self._unlock_keys(f"/v1.0/devices/{device}/door-lock/unassigned-keys", params)

    async def sync(self, device_id: str, codes: Iterable[UnlockType | str] | None = None) -> bool:
        """Ask the lock to sync its unlocking methods to the cloud (POST ``.../opmodes/actions/sync``).

        ``codes`` limits the sync to some methods; they are sent as DP codes (``unlock_fingerprint,unlock_card``).
        The document's sample says PUT, its endpoint line POST: POST is sent. The call only makes the lock report
        what it has, so replaying it is harmless (idempotent).
        """
        device = check.device_id(device_id)
        params = None
        if codes is not None:
            if isinstance(codes, str):
                codes = [codes]
            spelled = [check.unlock_type(code, check.SYNCABLE).dp_code for code in codes]
            if not spelled:
                raise ValidationError("codes must name at least one unlock type, or be None for all")
            params = {"codes": ",".join(dict.fromkeys(spelled))}
        path = f"/v1.0/smart-lock/devices/{device}/opmodes/actions/sync"
        return await self._call("POST", path, params=params, cast_to=bool, unsafe=False)

    async def enroll(
        self,
        device_id: str,
        user_id: str,
        user_type: UserType | int,
        unlock_type: UnlockType | str,
        *,
        pin: str | None = None,
    ) -> bool:
        """Start enrolling an unlocking method on the lock (PUT ``.../door-lock/actions/entry``).

        The lock then waits for the finger, card or face; progress arrives as ``doorUnlockMethodStatus`` push
        events. For a password on a Bluetooth lock pass ``pin``: a fresh password ticket is fetched and the PIN is
        sent encrypted with its key (``password_type: "ticket"``).

        Unsafe: replaying it could start a second enrollment session, so a timeout after sending raises
        :class:`~lockcloud.OutcomeUnknownError`.
        """
        device = check.device_id(device_id)
        user = check.path_part(user_id, "user_id")
        kind = check.user_type(user_type)
        method = check.unlock_type(unlock_type, check.ENROLLABLE)
        body: dict[str, Any] = {"user_id": user, "user_type": kind.value, "unlock_type": method.plain}
        if pin is not None:
            digits = check.pin(pin)
            if method is not UnlockType.PASSWORD:
                raise ValidationError("pin is only sent when enrolling unlock_type 'password'")
            sealed = await self._cloud.seal_pin(device, digits)
            body.update(
                password=sealed.password, password_type=PasswordType.TICKET.value, ticket_id=sealed.ticket_id
            )
        path = f"/v1.0/devices/{device}/door-lock/actions/entry"
        return await self._call("PUT", path, json=body, cast_to=bool, unsafe=True)

    async def delete(
        self,
        device_id: str,
        user_id: str,
        user_type: UserType | int,
        unlock_type: UnlockType | str,
        unlock_no: int,
    ) -> bool:
        """Delete one of a user's keys (DELETE ``.../unlock-types/{unlock_type}/keys/{unlock_no}``).

        Idempotent: deleting the same key again leaves the same state (a replay after a lost answer may then
        report that the key does not exist).
        """
        device = check.device_id(device_id)
        user = check.path_part(user_id, "user_id")
        kind = check.user_type(user_type)
        method = check.unlock_type(unlock_type)
        number = check.serial_number(unlock_no, "unlock_no")
        path = (
            f"/v1.0/devices/{device}/door-lock/user-types/{kind.value}/users/{user}"
            f"/unlock-types/{method.plain}/keys/{number}"
        )
        return await self._call("DELETE", path, cast_to=bool, unsafe=False)

    async def cancel_enrollment(self, device_id: str, unlock_type: UnlockType | str) -> bool:
        """Cancel an enrollment in progress (PUT ``.../unlock-types/{unlock_type}/actions/cancel``).

        Idempotent: a second cancel leaves the lock in the same state (no enrollment running) and cannot create or
        remove a key. A replay only happens within this call's retry window, so it cannot cancel an enrollment this
        caller starts later; one started meanwhile by someone else (another client, the Tuya app) could be hit.
        """
        device = check.device_id(device_id)
        method = check.unlock_type(unlock_type)
        path = f"/v1.0/devices/{device}/door-lock/unlock-types/{method.plain}/actions/cancel"
        return await self._call("PUT", path, cast_to=bool, unsafe=False)

    async def rename(self, device_id: str, unlock_sn: int, unlock_type: UnlockType | str, name: str) -> bool:
        """Set the name of an unlocking method (PUT ``.../door-lock/opmodes/{unlock_sn}``). Idempotent."""
        device = check.device_id(device_id)
        number = check.serial_number(unlock_sn, "unlock_sn")
        body = {
            "dp_code": check.unlock_type(unlock_type, check.RENAMABLE).dp_code,
            "unlock_name": check.non_empty_text(name, "name"),
        }
        path = f"/v1.0/devices/{device}/door-lock/opmodes/{number}"
        return await self._call("PUT", path, json=body, cast_to=bool, unsafe=False)

    async def set_duress_alarm(self, device_id: str, unlock_type: UnlockType | str, unlock_no: int) -> bool:
        """Make a key trigger the duress alarm (PUT ``.../keys/{unlock_no}/hijack``). Idempotent."""
        device = check.device_id(device_id)
        method = check.unlock_type(unlock_type)
        number = check.serial_number(unlock_no, "unlock_no")
        path = f"/v1.0/devices/{device}/door-lock/unlock-types/{method.plain}/keys/{number}/hijack"
        return await self._call("PUT", path, cast_to=bool, unsafe=False)

    async def remove_duress_alarm(
        self, device_id: str, unlock_type: UnlockType | str, unlock_sn: int
    ) -> bool:
        """Stop a key triggering the duress alarm (DELETE ``.../keys/{unlock_sn}/hijack``). Idempotent.

        This endpoint spells the type as a DP code (``unlock_fingerprint``); either spelling may be passed.
        """
        device = check.device_id(device_id)
        method = check.unlock_type(unlock_type, check.DURESS_REMOVABLE)
        number = check.serial_number(unlock_sn, "unlock_sn")
        path = f"/v1.0/smart-lock/devices/{device}/unlock-types/{method.dp_code}/keys/{number}/hijack"
        return await self._call("DELETE", path, cast_to=bool, unsafe=False)

    async def set_special_attribute(
        self, device_id: str, opmode_id: int, attribute: SpecialAttribute | int, enabled: bool
    ) -> bool:
        """Switch a special attribute (1 voice, 2 photo capture) of an unlocking method.

        POST ``.../opmodes/{opmode_id}/attribute/{attribute}/opmode-attr`` with ``{"enabled": ...}`` (the
        document's sample spells ``opnodes``; the endpoint line's ``opmodes`` is used). Setting a switch to a
        given value is idempotent.
        """
        device = check.device_id(device_id)
        number = check.serial_number(opmode_id, "opmode_id", maximum=check.LONG_MAX)
        kind = check.attribute(attribute)
        body = {"enabled": check.flag(enabled, "enabled")}
        path = f"/v1.0/smart-lock/devices/{device}/opmodes/{number}/attribute/{kind.value}/opmode-attr"
        return await self._call("POST", path, json=body, cast_to=bool, unsafe=False)

"""Members: who lives with a lock, and which keys they hold.

Reach it as ``cloud.members``. :meth:`Members.list` pages by itself like the history iterators.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lockcloud._core import validation as check
from lockcloud._core.errors import UnexpectedResponseError, ValidationError
from lockcloud.enums import UnlockType
from lockcloud.history_models import Member, read_member
from lockcloud.resources._base import Resource
from lockcloud.resources.history import (
    DEFAULT_PAGE_SIZE,
    HistoryPages,
    Page,
    _more_by_total,
    checked_page_size,
)

__all__ = ["Members"]

#: What the members list is asked for when no ``methods`` are given: every method the endpoint names.
_LISTED = (
    UnlockType.FINGERPRINT,
    UnlockType.CARD,
    UnlockType.PASSWORD,
    UnlockType.FACE,
    UnlockType.HAND,
    UnlockType.FINGER_VEIN,
)


def _unreadable_member(raw: Any, problem: str) -> Member:
    # A member that cannot be read is kept, with an empty id, so the count and the raw item survive.
    return Member(
        user_id="", nick_name=None, raw=raw if isinstance(raw, dict) else {"item": raw, "problem": problem}
    )


class Members(Resource):
    """The member endpoints of one :class:`~lockcloud.LockCloud` (``Members(cloud)``)."""

    def list(
        self,
        device_id: str,
        *,
        methods: Iterable[UnlockType | str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> HistoryPages[Member]:
        """The members and the keys they hold (GET ``/v1.0/smart-lock/devices/{device_id}/users``).

        ``methods`` limits which keys are listed (sent as DP codes); an unreadable member is yielded with an
        empty ``user_id`` and counted in ``stats.unreadable``.
        """
        device = check.device_id(device_id)
        chosen = (
            _LISTED
            if methods is None
            else [check.unlock_type(m) for m in ([methods] if isinstance(methods, str) else methods)]
        )
        if not chosen:
            raise ValidationError("methods must name at least one unlock type, or be None for all")
        codes = ",".join(dict.fromkeys(method.dp_code for method in chosen))
        size = checked_page_size(page_size)
        path = f"/v1.0/smart-lock/devices/{device}/users"

        async def fetch(page_no: int) -> Page:
            params = {"codes": codes, "page_no": str(page_no), "page_size": str(size)}
            result = await self._get_raw(path, params=params)
            items = result.get("records") if isinstance(result, dict) else result
            if items is None:
                items = []
            if not isinstance(items, list):
                raise UnexpectedResponseError(
                    "the result has no 'records' list", method="GET", path=path, status_code=200, body=b""
                )
            more = _more_by_total(result, page_no, size, items) if isinstance(result, dict) else False
            return Page(items, more)

        return HistoryPages(fetch, read_member, _unreadable_member)

    async def add(self, device_id: str, nick_name: str, *, contact: str | None = None) -> str:
        """Add a member to the lock's household (POST ``/v1.0/devices/{device_id}/user``); returns the new
        member's ``user_id``. Unsafe: a replay could add the member twice."""
        device = check.device_id(device_id)
        body: dict[str, Any] = {"nick_name": check.non_empty_text(nick_name, "nick_name")}
        if contact is not None:
            body["contact"] = check.non_empty_text(contact, "contact")
        path = f"/v1.0/devices/{device}/user"
        result = await self._cloud.request("POST", path, json=body, idempotent=False)
        user_id = result.get("user_id", result.get("id")) if isinstance(result, dict) else result
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)
        if not isinstance(user_id, str) or not user_id:
            raise UnexpectedResponseError(
                "the answer names no user_id", method="POST", path=path, status_code=200, body=b""
            )
        return user_id

    async def edit(
        self, device_id: str, user_id: str, *, nick_name: str | None = None, contact: str | None = None
    ) -> bool:
        """Change a member's name or contact (PUT ``/v1.0/devices/{device_id}/users/{user_id}``). Idempotent."""
        device = check.device_id(device_id)
        user = check.path_part(user_id, "user_id")
        body: dict[str, Any] = {}
        if nick_name is not None:
            body["nick_name"] = check.non_empty_text(nick_name, "nick_name")
        if contact is not None:
            body["contact"] = check.non_empty_text(contact, "contact")
        if not body:
            raise ValidationError("edit needs nick_name or contact")
        path = f"/v1.0/devices/{device}/users/{user}"
        return await self._call("PUT", path, json=body, cast_to=bool, unsafe=False)

    async def give_key(
        self, device_id: str, user_id: str, unlock_type: UnlockType | str, key_number: int
    ) -> bool:
        """Give an enrolled key to a member (POST ``.../device-lock/users/{user_id}/allocate`` with
        ``{"no": "30", "type": "card"}``). Idempotent: giving the same key to the same member again changes
        nothing."""
        device = check.device_id(device_id)
        user = check.path_part(user_id, "user_id")
        method = check.unlock_type(unlock_type)
        number = check.serial_number(key_number, "key_number")
        body = {"no": str(number), "type": method.plain}
        path = f"/v1.0/devices/{device}/device-lock/users/{user}/allocate"
        return await self._call("POST", path, json=body, cast_to=bool, unsafe=False)

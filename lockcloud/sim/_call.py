"""What every endpoint handler works with: the call, its outcome, Tuya's errors, argument parsing and lock checks.

A handler is ``handler(world, lock, call) -> Outcome``. A call that Tuya would refuse raises the
:class:`~lockcloud.APIError` subclass for its code (built by :func:`fail`); the HTTP layer turns it into a
``success: false`` envelope.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

from lockcloud._core.errors import APIError, error_for_code
from lockcloud._core.wire import ERROR_MESSAGES
from lockcloud.enums import UnlockType, UserType
from lockcloud.sim._model import APPLICABILITY, SimKey, SimLock, SimUser
from lockcloud.sim._push import PushMessage

if TYPE_CHECKING:
    from lockcloud.sim._world import World

__all__ = [
    "Call",
    "Handler",
    "Outcome",
    "fail",
    "flag",
    "integer",
    "json_body",
    "message_for",
    "require_applicable",
    "require_key",
    "require_online",
    "require_user",
    "text",
    "unlock_type",
    "user_type",
]


def message_for(code: int) -> str:
    """Tuya's message for ``code`` (``"simulated error"`` for a code Tuya does not document)."""
    return ERROR_MESSAGES.get(code, "simulated error")


def fail(code: int, detail: str | None = None) -> APIError:
    """The error Tuya answers ``code`` with; ``detail`` is appended to its message."""
    msg = message_for(code)
    return error_for_code(code, f"{msg}: {detail}" if detail else msg)


@attrs.frozen
class Call:
    """One business call as the endpoint logic sees it."""

    action: str
    method: str
    path: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    body: Mapping[str, Any]
    base_url: str


@attrs.frozen
class Outcome:
    """What an executed call returns, the push messages it caused, and what the action log records."""

    result: Any
    pushes: tuple[PushMessage, ...] = ()
    detail: Mapping[str, Any] = attrs.field(factory=dict)
    #: The device whose enrollment this call started (the simulator may then press automatically).
    enrollment_started: str | None = None


Handler = Callable[["World", SimLock, Call], Outcome]

# -- argument parsing -------------------------------------------------------------------------------------------


def json_body(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object (empty for no body); 1109 for anything else."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        raise fail(1109, "the body is not JSON") from None
    if not isinstance(value, dict):
        raise fail(1109, "the body is not a JSON object")
    return value


def unlock_type(raw: object, spelling: Literal["plain", "dp"], name: str = "unlock_type") -> UnlockType:
    """A key type spelt the way this endpoint spells it (``fingerprint`` or ``unlock_fingerprint``)."""
    if not isinstance(raw, str) or not raw:
        raise fail(1100, f"{name} is required")
    member = UnlockType(raw)
    wanted = member.plain if spelling == "plain" else member.dp_code
    if not member.is_known or raw != wanted:
        example = "fingerprint, password, card" if spelling == "plain" else "unlock_fingerprint, unlock_card"
        raise fail(1109, f"{name} {raw!r} is not valid here (expected values like {example})")
    return member


def integer(raw: object, name: str) -> int:
    if isinstance(raw, bool):
        raise fail(1109, f"{name} must be an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    if raw is None or raw == "":
        raise fail(1100, f"{name} is required")
    raise fail(1109, f"{name} must be an integer")


def user_type(raw: object) -> UserType:
    value = integer(raw, "user_type")
    if value not in (1, 2):
        raise fail(1101, "user_type must be 1 (home user) or 2 (not a home user)")
    return UserType(value)


def text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise fail(1100, f"{name} is required")
    if not isinstance(value, str):
        raise fail(1109, f"{name} must be a string")
    return value


def flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        raise fail(1100, f"{name} is required")
    if not isinstance(value, bool):
        raise fail(1109, f"{name} must be true or false")
    return value


# -- checks -----------------------------------------------------------------------------------------------------


def require_applicable(lock: SimLock, action: str, kind_of_user: UserType | None = None) -> None:
    """2004 for a lock kind the endpoint does not serve; 2003 for a non-home user where only home users count,
    or a Bluetooth lock without its gateway."""
    rule = APPLICABILITY[action]
    if lock.kind not in rule.kinds:
        raise fail(2004, f"not available for this lock type ({lock.kind.label})")
    if kind_of_user is not None and kind_of_user != UserType.HOME_USER and lock.kind in rule.home_users_only:
        raise fail(2003, f"for home users (user_type 1) only on this lock type ({lock.kind.label})")
    if lock.kind in rule.needs_gateway and not lock.gateway:
        raise fail(2003, f"this lock ({lock.kind.label}) has no gateway")


def require_online(lock: SimLock) -> None:
    """2001 when the call must reach a lock that is offline."""
    if not lock.online:
        raise fail(2001)


def require_user(world: World, user_id: str, kind_of_user: UserType) -> SimUser:
    user = world.users.get(user_id)
    if user is None:
        raise fail(1000, f"no user {user_id!r}")
    if user.user_type != kind_of_user:
        raise fail(1109, f"user {user_id!r} is not of user_type {int(kind_of_user)}")
    return user


def require_key(lock: SimLock, unlock_no: int, of_type: UnlockType | None = None) -> SimKey:
    key = lock.keys.get(unlock_no)
    if key is None or (of_type is not None and key.unlock_type is not of_type):
        kind = f"{of_type.plain} " if of_type is not None else ""
        raise fail(1000, f"no {kind}key number {unlock_no} on this lock")
    return key

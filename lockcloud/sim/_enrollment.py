"""Enrollment as the lock runs it: a session per lock, one press at a time, a push message at every step.

``PUT .../actions/entry`` opens a session asking for ``presses[unlock_type]`` presses and pushes the count twice
(``period``, then ``totalPeriod`` in a message of its own, as the document describes); every :func:`press` pushes
the presses left, and the last one creates the key and pushes ``finish``. A cancel, or a new enroll call on the
same lock, ends the session with an ``operate`` 2 push.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING

from lockcloud._core.errors import ValidationError
from lockcloud.enums import UnlockType
from lockcloud.sim import _call
from lockcloud.sim._call import Call, Handler, Outcome, fail
from lockcloud.sim._model import Enrollment, LockKind, SimLock
from lockcloud.sim._push import PushMessage, enrollment_push
from lockcloud.sim._remote_unlock import decrypt_pin, spend_ticket

if TYPE_CHECKING:
    from lockcloud.sim._world import World

__all__ = ["DEFAULT_PRESSES", "HANDLERS", "press"]

#: Presses (or entries) a lock asks for when enrolling each kind of key.
DEFAULT_PRESSES: Mapping[UnlockType, int] = {
    UnlockType.FINGERPRINT: 5,
    UnlockType.PASSWORD: 2,
    UnlockType.CARD: 1,
    UnlockType.FACE: 1,
    UnlockType.REMOTE_CONTROL: 1,
    UnlockType.HAND: 3,
    UnlockType.FINGER_VEIN: 3,
}

#: Key types the enroll endpoint accepts (its document lists these five).
_ENROLLABLE = frozenset(
    {UnlockType.FINGERPRINT, UnlockType.PASSWORD, UnlockType.CARD, UnlockType.FACE, UnlockType.REMOTE_CONTROL}
)


def enroll(world: World, lock: SimLock, call: Call) -> Outcome:
    body = call.body
    kind_of_user = _call.user_type(body.get("user_type"))
    _call.require_applicable(lock, call.action, kind_of_user)
    user_id = _call.text(body, "user_id")
    unlock_type = _call.unlock_type(body.get("unlock_type"), "plain")
    if unlock_type not in _ENROLLABLE:
        raise fail(1109, f"{unlock_type.plain} cannot be enrolled through this call")
    _call.require_user(world, user_id, kind_of_user)
    _call.require_online(lock)
    pin: str | None = None
    if lock.kind is LockKind.BLUETOOTH and unlock_type is UnlockType.PASSWORD and body.get("password"):
        if body.get("password_type") != "ticket":
            raise fail(1109, "password_type must be 'ticket'")
        ticket = spend_ticket(world, lock, _call.text(body, "ticket_id"))
        pin = decrypt_pin(_call.text(body, "password"), ticket)
    pushes: list[PushMessage] = []
    if lock.enrollment is not None:
        # A lock asked to enroll while enrolling abandons the first session, as if it had been cancelled.
        pushes.append(_cancel_push(world, lock, lock.enrollment))
    total = 1 if pin is not None else world.presses[unlock_type]
    world.enrollment_generation += 1
    enrollment = Enrollment(
        unlock_type=unlock_type,
        user_id=user_id,
        user_type=kind_of_user,
        total=total,
        remaining=total,
        pin=pin,
        generation=world.enrollment_generation,
    )
    lock.enrollment = enrollment
    pushes.append(enrollment_push(lock, world.now_ms(), raised=True, finish=False, period=total))
    pushes.append(
        enrollment_push(lock, world.now_ms(), raised=True, finish=False, period=total, total_period=total)
    )
    detail = {"user_id": user_id, "unlock_type": unlock_type.plain, "total": total}
    if pin is not None:
        # The password travelled with the call: the lock stores it without anyone at the keypad.
        pushes.extend(press(world, lock.device_id))
        return Outcome(True, tuple(pushes), detail)
    return Outcome(True, tuple(pushes), detail, enrollment_started=lock.device_id)


def press(world: World, device_id: str) -> list[PushMessage]:
    """One finger press (card tap, keypad entry ...) on a lock that is enrolling."""
    lock = world.lock(device_id)
    enrollment = lock.enrollment
    if enrollment is None:
        raise ValidationError(f"lock {device_id!r} is not enrolling anything")
    enrollment.remaining -= 1
    if enrollment.remaining > 0:
        return [enrollment_push(lock, world.now_ms(), raised=True, finish=False, period=enrollment.remaining)]
    lock.enrollment = None
    pin = enrollment.pin
    if enrollment.unlock_type is UnlockType.PASSWORD and pin is None:
        pin = "".join(secrets.choice(string.digits) for _ in range(6))
    world.add_key(device_id, enrollment.unlock_type, user_id=enrollment.user_id, pin=pin)
    return [enrollment_push(lock, world.now_ms(), raised=True, finish=True, period=0)]


def cancel_enrollment(world: World, lock: SimLock, call: Call) -> Outcome:
    unlock_type = _call.unlock_type(call.path_params["unlock_type"], "plain")
    enrollment = lock.enrollment
    _call.require_applicable(lock, call.action, enrollment.user_type if enrollment is not None else None)
    _call.require_online(lock)
    if enrollment is None or enrollment.unlock_type is not unlock_type:
        # The cancel command reaches a lock that is not enrolling this type: nothing happens.
        return Outcome(True, (), {"unlock_type": unlock_type.plain, "cancelled": False})
    lock.enrollment = None
    push = _cancel_push(world, lock, enrollment)
    return Outcome(True, (push,), {"unlock_type": unlock_type.plain, "cancelled": True})


def _cancel_push(world: World, lock: SimLock, enrollment: Enrollment) -> PushMessage:
    return enrollment_push(
        lock, world.now_ms(), operate=2, raised=False, finish=False, period=enrollment.remaining
    )


HANDLERS: Mapping[str, Handler] = {"enroll": enroll, "cancel_enrollment": cancel_enrollment}

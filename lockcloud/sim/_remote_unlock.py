"""Remote unlock: the two switches, password tickets, opening (with a PIN, password-free, by channel), door-operate
and revoking a visitor's request.

A ticket is single use and expires on the simulated clock; a PIN arrives encrypted with the ticket's key and is
really decrypted. Opening the door pushes a ``closed_opened`` status report, and locks with a camera take a photo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from lockcloud._core.errors import CryptoError
from lockcloud.crypto import decrypt_password, encrypt_ticket_key
from lockcloud.enums import RemoteUnlockType, UnlockType
from lockcloud.sim import _call
from lockcloud.sim._call import Call, Handler, Outcome, fail
from lockcloud.sim._history import door_moved
from lockcloud.sim._model import SimLock, SimTicket, random_id
from lockcloud.sim._push import PushMessage

if TYPE_CHECKING:
    from lockcloud.sim._world import World

__all__ = ["HANDLERS", "decrypt_pin", "spend_ticket"]


def list_remote_unlocks(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    switches = [
        {"remote_unlock_type": switch.value, "open": lock.remote_unlock.get(switch, False)}
        for switch in (RemoteUnlockType.WITHOUT_PASSWORD, RemoteUnlockType.WITH_PASSWORD)
    ]
    return Outcome(switches)


def set_remote_unlock(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    raw = _call.text(call.body, "remote_unlock_type")
    switch = RemoteUnlockType(raw)
    if not switch.is_known:
        raise fail(1109, "remote_unlock_type must be remoteUnlockWithoutPwd or remoteUnlockWithPwd")
    value = _call.flag(call.body, "open")
    _call.require_online(lock)
    lock.remote_unlock[switch] = value
    return Outcome(True, detail={"remote_unlock_type": switch.value, "open": value})


def _switched_on(lock: SimLock, switch: RemoteUnlockType) -> None:
    # Tuya documents no code for this refusal; 2008 (command not supported) is the simulator's choice.
    if not lock.remote_unlock.get(switch, False):
        raise fail(2008, f"remote unlock switch {switch.value} is off on this lock")


def password_ticket(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    ticket = SimTicket(
        ticket_id=random_id(10),
        device_id=lock.device_id,
        key=random_id(16).encode(),
        expires_at=world.now() + world.faults.ticket_lifetime,
    )
    world.tickets[ticket.ticket_id] = ticket
    result = {
        "ticket_id": ticket.ticket_id,
        "ticket_key": encrypt_ticket_key(ticket.key, world.access_secret),
        "expire_time": world.faults.ticket_lifetime,
    }
    return Outcome(result, detail={"ticket_id": ticket.ticket_id})


def spend_ticket(world: World, lock: SimLock, ticket_id: str) -> SimTicket:
    """Use up a ticket of this lock; 1109 when it is unknown, used or expired."""
    ticket = world.tickets.get(ticket_id)
    if ticket is None or ticket.device_id != lock.device_id:
        raise fail(1109, "unknown ticket_id")
    if ticket.used:
        raise fail(1109, "ticket already used")
    if ticket.expires_at <= world.now():
        raise fail(1109, "ticket expired")
    ticket.used = True
    return ticket


def decrypt_pin(password: str, ticket: SimTicket) -> str:
    """The digits of a password encrypted with the ticket's key; 1109 when it is not."""
    try:
        pin = decrypt_password(password, ticket.key)
    except CryptoError:
        raise fail(1109, "password is not encrypted with the ticket's key") from None
    if not (pin.isascii() and pin.isdigit()):
        raise fail(1109, "password is not encrypted with the ticket's key")
    return pin


def _camera(world: World, lock: SimLock, event_type: int) -> None:
    if lock.kind.has_camera:
        world.capture(lock.device_id, event_type)


def _door_moved(world: World, lock: SimLock, is_open: bool) -> tuple[PushMessage, ...]:
    # Written to the lock's history, with the unlock_app and closed_opened reports a lock pushes.
    return tuple(door_moved(world, lock, is_open, remote=True))


def open_door(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    password = _call.text(call.body, "password")
    if _call.text(call.body, "password_type") != "ticket":
        raise fail(1109, "password_type must be 'ticket'")
    ticket_id = _call.text(call.body, "ticket_id")
    _call.require_online(lock)
    _switched_on(lock, RemoteUnlockType.WITH_PASSWORD)
    pin = decrypt_pin(password, spend_ticket(world, lock, ticket_id))
    if len(pin) != 6:
        raise fail(1109, "the password must be 6 digits")
    valid = {key.pin for key in lock.keys.values() if key.unlock_type is UnlockType.PASSWORD and key.pin}
    if pin not in valid:
        _camera(world, lock, 3)
        return Outcome(False, detail={"ticket_id": ticket_id, "opened": False})
    pushes = _door_moved(world, lock, True)
    return Outcome(True, pushes, {"ticket_id": ticket_id, "opened": True})


def open_door_password_free(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    ticket_id = _call.text(call.body, "ticket_id")
    _call.require_online(lock)
    _switched_on(lock, RemoteUnlockType.WITHOUT_PASSWORD)
    spend_ticket(world, lock, ticket_id)
    _camera(world, lock, 16)
    return Outcome(True, _door_moved(world, lock, True), {"ticket_id": ticket_id, "opened": True})


def open_door_channel(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    ticket_id = _call.text(call.body, "ticket_id")
    channel = _call.integer(call.body.get("channel_id"), "channel_id")
    if channel not in lock.channels:
        raise fail(1101, f"channel_id {channel} does not exist on this device")
    _call.require_online(lock)
    _switched_on(lock, RemoteUnlockType.WITHOUT_PASSWORD)
    spend_ticket(world, lock, ticket_id)
    lock.opened_channels.append(channel)
    pushes = _door_moved(world, lock, True)
    return Outcome(True, pushes, {"ticket_id": ticket_id, "channel_id": channel, "opened": True})


def door_operate(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    ticket_id = _call.text(call.body, "ticket_id")
    wanted = _call.flag(call.body, "open")
    _call.require_online(lock)
    if wanted:
        _switched_on(lock, RemoteUnlockType.WITHOUT_PASSWORD)
    spend_ticket(world, lock, ticket_id)
    if wanted:
        _camera(world, lock, 16)
    return Outcome(True, _door_moved(world, lock, wanted), {"ticket_id": ticket_id, "open": wanted})


def revoke_remote_unlock(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    reason = _call.integer(call.body.get("type"), "type")
    if reason not in (1, 2):
        raise fail(1101, "type must be 1 (reject) or 2 (cancel)")
    _call.require_online(lock)
    revoked = lock.pending_remote_request
    lock.pending_remote_request = False
    return Outcome(True, detail={"type": reason, "revoked": revoked})


HANDLERS: Mapping[str, Handler] = {
    "list_remote_unlocks": list_remote_unlocks,
    "set_remote_unlock": set_remote_unlock,
    "password_ticket": password_ticket,
    "open_door": open_door,
    "open_door_password_free": open_door_password_free,
    "open_door_channel": open_door_channel,
    "door_operate": door_operate,
    "revoke_remote_unlock": revoke_remote_unlock,
}

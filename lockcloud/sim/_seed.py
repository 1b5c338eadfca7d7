"""The world a new simulator starts with: one lock of every kind, two users, some keys and photos.

Device and user ids are fixed and readable, so the CLI, the examples and users' own tests can name them.
"""

from __future__ import annotations

import attrs

from lockcloud.enums import RemoteUnlockType, UnlockType, UserType
from lockcloud.sim._model import LockKind
from lockcloud.sim._world import World

__all__ = ["DEMO_PIN", "Seeded", "seed_demo"]

#: The 6-digit PIN of Alice's password key on the front door (and the back door).
DEMO_PIN = "123456"


@attrs.frozen
class Seeded:
    """Ids of the seeded world. ``devices`` maps a role (``front_door`` ...) to its device id."""

    devices: dict[str, str]
    home_user: str
    guest_user: str


def seed_demo(world: World) -> Seeded:
    alice = world.add_user("sim-alice", UserType.HOME_USER, name="Alice").user_id
    bob = world.add_user("sim-bob", UserType.NON_HOME_USER, name="Bob").user_id

    front = world.add_lock(LockKind.ZIGBEE, "sim-front-door", name="Front door").device_id
    world.add_key(front, UnlockType.PASSWORD, user_id=alice, pin=DEMO_PIN, name="Alice's PIN")
    world.add_key(front, UnlockType.FINGERPRINT, user_id=alice, name="Alice's thumb")
    world.add_key(front, UnlockType.CARD, name="Spare card")

    back = world.add_lock(LockKind.WIFI, "sim-back-door", name="Back door").device_id
    world.add_key(back, UnlockType.FINGERPRINT, user_id=alice, name="Alice's index finger")
    world.add_key(back, UnlockType.PASSWORD, user_id=alice, pin=DEMO_PIN, name="Alice's PIN")
    world.add_key(back, UnlockType.CARD, user_id=bob, name="Bob's card")
    world.capture(back, 0)  # anti-pry alert
    world.capture(back, 1)  # remote unlocking request: the visitor's photo
    world.lock(back).pending_remote_request = True

    shed = world.add_lock(
        LockKind.BLUETOOTH,
        "sim-shed",
        name="Shed",
        remote_unlock={RemoteUnlockType.WITHOUT_PASSWORD: True},
    ).device_id
    world.add_key(shed, UnlockType.CARD, user_id=bob, name="Bob's card")
    world.add_key(shed, UnlockType.PASSWORD, user_id=bob, pin="246810", name="Bob's PIN")
    world.capture(shed, 16)

    garage = world.add_lock(LockKind.KEEPALIVE_WIFI, "sim-garage", name="Garage").device_id
    world.add_key(garage, UnlockType.FINGERPRINT, user_id=alice, name="Alice's thumb")
    world.add_key(garage, UnlockType.CARD, name="Remote card", synced=False)

    porch = world.add_lock(LockKind.VIDEO, "sim-porch", name="Porch").device_id
    world.add_key(porch, UnlockType.FACE, user_id=alice, name="Alice's face")
    world.add_key(porch, UnlockType.FINGERPRINT, user_id=alice, name="Alice's thumb")
    for event_type in (18, 8, 24):  # doorbell, fingerprint unlock, loitering
        world.capture(porch, event_type)

    office = world.add_lock(LockKind.ACCESS_CONTROL, "sim-office", name="Office", channels=(1, 2)).device_id
    world.add_key(office, UnlockType.CARD, user_id=bob, name="Badge")
    world.add_key(office, UnlockType.FINGERPRINT, name="Visitor finger")

    devices = {
        "front_door": front,
        "back_door": back,
        "shed": shed,
        "garage": garage,
        "porch": porch,
        "office": office,
    }
    return Seeded(devices=devices, home_user=alice, guest_user=bob)

"""What the simulated cloud knows: lock kinds and what each supports, locks, users, keys, tickets, tokens, media.

Plain mutable records; :mod:`lockcloud.sim._world` holds them, the handlers (``_tokens``, ``_unlock_methods``,
``_enrollment``, ``_remote_unlock``, ``_media``) apply the rules that change them.
"""

from __future__ import annotations

import enum
import secrets
import string
from collections.abc import Mapping

import attrs

from lockcloud.enums import RemoteUnlockType, UnlockType, UserType
from lockcloud.sim._lock_log import LockLog

__all__ = [
    "APPLICABILITY",
    "Applicability",
    "Enrollment",
    "LockKind",
    "SimKey",
    "SimLock",
    "SimMedia",
    "SimTicket",
    "SimToken",
    "SimUser",
    "random_id",
]

_ID_ALPHABET = string.ascii_letters + string.digits


def random_id(length: int, alphabet: str = _ID_ALPHABET) -> str:
    """A random id of ``length`` characters, like the ones Tuya hands out."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


class LockKind(enum.StrEnum):
    """The kinds of lock the two API documents name in their "Applicable lock types" lists."""

    WIFI = "wifi"
    ZIGBEE = "zigbee"
    BLUETOOTH = "bluetooth"
    KEEPALIVE_WIFI = "keepalive_wifi"
    #: A Wi-Fi lock with video talk.
    VIDEO = "video"
    #: A Wi-Fi access control device (several door channels).
    ACCESS_CONTROL = "access_control"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def has_camera(self) -> bool:
        """Whether the lock takes cover photos (remote-unlock photo capture, alerts, the video album)."""
        return self in (LockKind.WIFI, LockKind.BLUETOOTH, LockKind.VIDEO)


_LABELS = {
    LockKind.WIFI: "Wi-Fi lock",
    LockKind.ZIGBEE: "Zigbee lock",
    LockKind.BLUETOOTH: "Bluetooth lock",
    LockKind.KEEPALIVE_WIFI: "keepalive Wi-Fi lock",
    LockKind.VIDEO: "Wi-Fi lock with video talk",
    LockKind.ACCESS_CONTROL: "Wi-Fi access control device",
}

_W, _Z, _B, _K, _V, _A = (
    LockKind.WIFI,
    LockKind.ZIGBEE,
    LockKind.BLUETOOTH,
    LockKind.KEEPALIVE_WIFI,
    LockKind.VIDEO,
    LockKind.ACCESS_CONTROL,
)


@attrs.frozen
class Applicability:
    """Which lock kinds an endpoint serves, and for which of them only home users (``user_type`` 1) count.

    A kind outside ``kinds`` gets 2004 (lock type not supported); a kind in ``home_users_only`` called for a
    non-home user gets 2003 (function not supported). ``needs_gateway`` kinds must have a gateway (Bluetooth).
    """

    kinds: frozenset[LockKind]
    home_users_only: frozenset[LockKind] = frozenset()
    needs_gateway: frozenset[LockKind] = frozenset()


def _rule(
    kinds: set[LockKind], home_only: set[LockKind] | None = None, gateway: set[LockKind] | None = None
) -> Applicability:
    return Applicability(frozenset(kinds), frozenset(home_only or ()), frozenset(gateway or ()))


#: Action name -> the documents' "Applicable lock types" of its endpoint.
#:
#: Password tickets are served to every kind: the document lists fewer kinds for the ticket endpoint than for the
#: password-free, door-operate and v1.1 endpoints that cannot work without a ticket, so following it literally
#: would make those endpoints unusable on keepalive Wi-Fi locks and access control devices.
APPLICABILITY: Mapping[str, Applicability] = {
    "list_assigned_keys": _rule({_W, _Z, _B, _V}, home_only={_V}),
    "list_unassigned_keys": _rule({_W, _Z, _B, _A}),
    "sync_keys": _rule({_B, _K, _V, _A}, gateway={_B}),
    "enroll": _rule({_W, _Z, _B, _K, _V, _A}, home_only={_K, _V}),
    "delete_key": _rule({_W, _Z, _B, _K, _A}, home_only={_K}),
    "cancel_enrollment": _rule({_W, _Z, _B, _K, _V, _A}, home_only={_K, _V}),
    "rename_key": _rule({_A}),
    "set_duress_alarm": _rule({_W, _Z, _B}),
    "remove_duress_alarm": _rule({_W, _Z, _B}),
    "set_special_attribute": _rule({_W}),
    "list_remote_unlocks": _rule({_Z, _B}),
    "set_remote_unlock": _rule({_W, _Z, _B}),
    "open_door": _rule({_Z}),
    "open_door_password_free": _rule({_W, _Z, _B, _K, _V}),
    "open_door_channel": _rule({_A}),
    "revoke_remote_unlock": _rule({_W}),
    "door_operate": _rule({_W, _Z, _B, _K, _V}),
    "password_ticket": _rule({_W, _Z, _B, _K, _V, _A}),
    "latest_media": _rule({_W, _B}),
    "albums": _rule({_V}),
    # Guest access codes: the documents name Wi-Fi, Zigbee and Bluetooth locks (see lockcloud.sim._access_codes).
    **dict.fromkeys(
        (
            "create_temp_password",
            "create_unnamed_temp_password",
            "list_temp_passwords",
            "get_temp_password",
            "modify_temp_password",
            "freeze_temp_password",
            "unfreeze_temp_password",
            "delete_temp_password",
            "clear_temp_passwords",
            "sync_temp_passwords",
            "offline_password",
            "dynamic_password",
        ),
        _rule({_W, _Z, _B, _K, _V}, gateway={_B}),
    ),
}


@attrs.define
class SimUser:
    """A user keys can be assigned to. ``user_type`` 1 is a home member, 2 a non-home user."""

    user_id: str
    user_type: UserType = UserType.HOME_USER
    name: str = ""


@attrs.define
class SimKey:
    """An unlocking method enrolled on a lock. ``unlock_no`` is unique per lock and doubles as its opmode id.

    ``synced`` false means the lock has it but has not reported it to the cloud yet (see the sync endpoint).
    """

    unlock_no: int
    unlock_type: UnlockType
    user_id: str | None = None
    name: str = ""
    hijack: bool = False
    attributes: dict[int, bool] = attrs.field(factory=dict)
    synced: bool = True
    pin: str | None = attrs.field(default=None, repr=False)


@attrs.define
class Enrollment:
    """An enrollment in progress: ``remaining`` presses of ``total`` are still needed."""

    unlock_type: UnlockType
    user_id: str
    user_type: UserType
    total: int
    remaining: int
    #: Set on entry with an encrypted password (Bluetooth locks): the key is created with this PIN.
    pin: str | None = attrs.field(default=None, repr=False)
    generation: int = 0


@attrs.define
class SimMedia:
    """A photo (and optionally a video) the lock's camera uploaded, stored encrypted under ``bucket/object_name``."""

    file_id: int
    event_type: int
    bucket: str
    object_name: str
    file_key: str = attrs.field(repr=False)
    upload_time: int
    video_object: str | None = None
    video_key: str | None = attrs.field(default=None, repr=False)


@attrs.define
class SimLock:
    """One simulated lock."""

    device_id: str
    kind: LockKind
    name: str
    product_key: str
    uuid: str
    online: bool = True
    #: Bluetooth locks reach the cloud only through a gateway.
    gateway: bool = True
    keys: dict[int, SimKey] = attrs.field(factory=dict)
    remote_unlock: dict[RemoteUnlockType, bool] = attrs.field(factory=dict)
    door_open: bool = False
    channels: tuple[int, ...] = (1,)
    #: Channels of an access control device that were opened, most recent last.
    opened_channels: list[int] = attrs.field(factory=list)
    pending_remote_request: bool = False
    enrollment: Enrollment | None = None
    media: list[SimMedia] = attrs.field(factory=list)
    next_unlock_no: int = 1
    #: History, members and reported state (:mod:`lockcloud.sim._history`).
    log: LockLog = attrs.field(factory=LockLog, repr=False)

    def keys_of(self, user_id: str | None) -> list[SimKey]:
        return [key for key in self.keys.values() if key.user_id == user_id]


@attrs.define
class SimTicket:
    """A password ticket: single use, valid until ``expires_at`` (server clock, epoch seconds)."""

    ticket_id: str
    device_id: str
    key: bytes = attrs.field(repr=False)
    expires_at: float
    used: bool = False


@attrs.define
class SimToken:
    """An access token pair. Refreshing it retires both halves."""

    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    expires_at: float
    uid: str

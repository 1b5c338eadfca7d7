"""The simulated cloud's state for one project (one access id): locks, users, tickets, tokens, stored media, and the
clock they live by; :meth:`World.execute` hands each call to its resource's handler.

Everything here is synchronous and free of I/O, so it can be driven and inspected directly in tests. The rules of
each resource live with its handlers: :mod:`~lockcloud.sim._tokens`, :mod:`~lockcloud.sim._unlock_methods`,
:mod:`~lockcloud.sim._enrollment`, :mod:`~lockcloud.sim._remote_unlock` and :mod:`~lockcloud.sim._media`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from lockcloud._errors import ValidationError
from lockcloud.enums import RemoteUnlockType, UnlockType, UserType
from lockcloud.sim import _enrollment, _media, _remote_unlock, _tokens, _unlock_methods
from lockcloud.sim._call import Call, Handler, Outcome, fail
from lockcloud.sim._faults import Faults
from lockcloud.sim._media import AlbumKeyStyle
from lockcloud.sim._model import (
    APPLICABILITY,
    LockKind,
    SimKey,
    SimLock,
    SimMedia,
    SimTicket,
    SimToken,
    SimUser,
    random_id,
)
from lockcloud.sim._push import PushMessage

__all__ = ["World"]

_PRODUCT_KEYS = {
    LockKind.WIFI: "simwifilock01",
    LockKind.ZIGBEE: "simzigbeelock1",
    LockKind.BLUETOOTH: "simblelock0001",
    LockKind.KEEPALIVE_WIFI: "simkeepalive01",
    LockKind.VIDEO: "simvideolock01",
    LockKind.ACCESS_CONTROL: "simaccessctl01",
}

#: Action name -> the handler of its endpoint, one module per resource.
_HANDLERS: Mapping[str, Handler] = {
    **_unlock_methods.HANDLERS,
    **_enrollment.HANDLERS,
    **_remote_unlock.HANDLERS,
    **_media.HANDLERS,
}


class World:
    """The simulated cloud's state for one project (one access id); :meth:`execute` applies its rules to a call."""

    def __init__(
        self,
        access_id: str,
        access_secret: str,
        *,
        faults: Faults | None = None,
        presses: Mapping[UnlockType | str, int] | None = None,
        bucket: str = "lockcloud-sim-media",
        album_keys: AlbumKeyStyle = "snake",
    ) -> None:
        self.access_id = access_id
        self._access_secret = access_secret
        self.faults = faults or Faults()
        self.presses: dict[UnlockType, int] = dict(_enrollment.DEFAULT_PRESSES)
        for unlock_type, count in (presses or {}).items():
            if count < 1:
                raise ValidationError("an enrollment needs at least one press")
            self.presses[UnlockType(unlock_type)] = count
        self.bucket = bucket
        self.album_keys: AlbumKeyStyle = album_keys
        self.uid = "sim" + random_id(13)
        self.locks: dict[str, SimLock] = {}
        self.users: dict[str, SimUser] = {}
        self.tickets: dict[str, SimTicket] = {}
        self.tokens: dict[str, SimToken] = {}
        self.refresh_tokens: dict[str, SimToken] = {}
        #: Encrypted media objects by object name (``media/<device id>/<file>``), served at ``/<object name>``.
        self.storage: dict[str, bytes] = {}
        self.next_file_id = 100_000_001
        #: Counts enrollments started, so an automatic presser can tell its session from a later one.
        self.enrollment_generation = 0

    @property
    def access_secret(self) -> str:
        return self._access_secret

    def __repr__(self) -> str:
        return f"World(access_id={self.access_id!r}, locks={len(self.locks)}, users={len(self.users)})"

    # -- clock --------------------------------------------------------------------------------------------------

    def now(self) -> float:
        """The simulated Tuya clock, epoch seconds."""
        return time.time() + self.faults.clock_offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> None:
        """Age every token and ticket by ``seconds`` (the clock itself stays put, so request times stay valid)."""
        for token in self.tokens.values():
            token.expires_at -= seconds
        for ticket in self.tickets.values():
            ticket.expires_at -= seconds

    def expire_tokens(self) -> None:
        """Make every access token expired: the next business call with one gets 1010."""
        past = self.now() - 1
        for token in self.tokens.values():
            token.expires_at = past

    # -- seeding --------------------------------------------------------------------------------------------------

    def add_lock(
        self,
        kind: LockKind | str,
        device_id: str | None = None,
        *,
        name: str | None = None,
        online: bool = True,
        gateway: bool = True,
        channels: Sequence[int] = (1,),
        remote_unlock: Mapping[RemoteUnlockType | str, bool] | None = None,
    ) -> SimLock:
        """Add a lock. Remote-unlock switches default to: with password on; without password off, except on kinds
        whose switches the API cannot change (keepalive Wi-Fi, video, access control), where both are on."""
        lock_kind = LockKind(kind)
        device_id = device_id or "vdevo" + random_id(15)
        if device_id in self.locks:
            raise ValidationError(f"a lock with device id {device_id!r} already exists")
        configurable = lock_kind in APPLICABILITY["set_remote_unlock"].kinds
        switches = {RemoteUnlockType.WITH_PASSWORD: True, RemoteUnlockType.WITHOUT_PASSWORD: not configurable}
        for switch, value in (remote_unlock or {}).items():
            switches[RemoteUnlockType(switch)] = value
        lock = SimLock(
            device_id=device_id,
            kind=lock_kind,
            name=name or lock_kind.label,
            product_key=_PRODUCT_KEYS[lock_kind],
            uuid=random_id(16).lower(),
            online=online,
            gateway=gateway,
            remote_unlock=switches,
            channels=tuple(channels),
        )
        self.locks[device_id] = lock
        return lock

    def add_user(
        self, user_id: str | None = None, user_type: UserType | int = UserType.HOME_USER, *, name: str = ""
    ) -> SimUser:
        user_id = user_id or "sim" + random_id(12)
        if user_id in self.users:
            raise ValidationError(f"a user with id {user_id!r} already exists")
        user = SimUser(user_id=user_id, user_type=UserType(user_type), name=name)
        self.users[user_id] = user
        return user

    def add_key(
        self,
        device_id: str,
        unlock_type: UnlockType | str,
        *,
        user_id: str | None = None,
        pin: str | None = None,
        name: str = "",
        hijack: bool = False,
        synced: bool = True,
        unlock_no: int | None = None,
    ) -> SimKey:
        """Put a key on a lock, assigned to ``user_id`` or unassigned. Password keys carry their ``pin``."""
        lock = self.lock(device_id)
        member = UnlockType(unlock_type)
        if user_id is not None and user_id not in self.users:
            raise ValidationError(f"no user {user_id!r}; add it with add_user first")
        if pin is not None and not (pin.isascii() and pin.isdigit()):
            raise ValidationError("a PIN consists of digits only")
        number = unlock_no if unlock_no is not None else lock.next_unlock_no
        if number in lock.keys:
            raise ValidationError(f"lock {device_id!r} already has a key number {number}")
        lock.next_unlock_no = max(lock.next_unlock_no, number + 1)
        key = SimKey(
            unlock_no=number,
            unlock_type=member,
            user_id=user_id,
            name=name,
            hijack=hijack,
            synced=synced,
            pin=pin if member is UnlockType.PASSWORD else None,
        )
        lock.keys[number] = key
        return key

    def lock(self, device_id: str) -> SimLock:
        try:
            return self.locks[device_id]
        except KeyError:
            raise ValidationError(f"the simulator has no lock {device_id!r}") from None

    def capture(
        self,
        device_id: str,
        event_type: int,
        *,
        content: bytes | None = None,
        video: bytes | None = None,
        upload_time: int | None = None,
    ) -> SimMedia:
        """The lock's camera uploads a photo (``content``, a drawn PNG by default) for an album event type; see
        :func:`lockcloud.sim._media.capture`."""
        return _media.capture(
            self, device_id, event_type, content=content, video=video, upload_time=upload_time
        )

    # -- calls ----------------------------------------------------------------------------------------------------

    def execute(self, call: Call) -> Outcome:
        """Run one call (already authenticated) and return its outcome, or raise its APIError."""
        if call.action == "token":
            return Outcome(_tokens.grant_token(self, call.query))
        if call.action == "refresh_token":
            return Outcome(_tokens.refresh_token(self, call.path_params["refresh_token"]))
        handler = _HANDLERS[call.action]
        return handler(self, self._device(call.path_params["device_id"]), call)

    def check_token(self, access_token: str) -> None:
        """Raise 1002 for a missing token, 1010 for an unknown or expired one."""
        _tokens.check_token(self, access_token)

    def press(self, device_id: str) -> list[PushMessage]:
        """One finger press (card tap, keypad entry ...) on a lock that is enrolling."""
        return _enrollment.press(self, device_id)

    def media_object(self, object_name: str) -> bytes | None:
        return self.storage.get(object_name)

    def _device(self, device_id: str) -> SimLock:
        lock = self.locks.get(device_id)
        if lock is None:
            raise fail(2010, f"no device {device_id!r}")
        return lock

"""The scenario API: locks, users, keys and media put into the simulated cloud, and its clock moved on.

:class:`Scenario` is written once and shared: :class:`~lockcloud.sim.Simulator` offers it to users' tests, and the
:class:`~lockcloud.sim._world.World` it acts on offers it to the seed and to the handlers (a finished enrollment
adds its key, a doorbell ring captures a photo).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from lockcloud._core.errors import ValidationError
from lockcloud.crypto import encrypt_media
from lockcloud.enums import RemoteUnlockType, UnlockType, UserType
from lockcloud.sim._media import MEDIA_PREFIX
from lockcloud.sim._model import APPLICABILITY, LockKind, SimKey, SimLock, SimMedia, SimUser, random_id
from lockcloud.sim._snapshot import render_snapshot

if TYPE_CHECKING:
    from lockcloud.sim._world import World

__all__ = ["Scenario"]

_PRODUCT_KEYS = {
    LockKind.WIFI: "simwifilock01",
    LockKind.ZIGBEE: "simzigbeelock1",
    LockKind.BLUETOOTH: "simblelock0001",
    LockKind.KEEPALIVE_WIFI: "simkeepalive01",
    LockKind.VIDEO: "simvideolock01",
    LockKind.ACCESS_CONTROL: "simaccessctl01",
}


class Scenario:
    """What a test does to the simulated cloud directly, without an API call."""

    @property
    def _world(self) -> World:
        raise NotImplementedError

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
        """Add a lock of ``kind`` (a random device id unless given). ``gateway=False`` leaves a Bluetooth lock
        without its gateway; ``channels`` are an access control device's doors. Remote-unlock switches default to:
        with password on; without password off, except on kinds whose switches the API cannot change (keepalive
        Wi-Fi, video, access control), where both are on; ``remote_unlock`` overrides them."""
        world = self._world
        lock_kind = LockKind(kind)
        device_id = device_id or "vdevo" + random_id(15)
        if device_id in world.locks:
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
        world.locks[device_id] = lock
        return lock

    def add_user(
        self, user_id: str | None = None, user_type: UserType | int = UserType.HOME_USER, *, name: str = ""
    ) -> SimUser:
        """Add a user of the project (a home user unless ``user_type`` says otherwise; a random id unless given)."""
        world = self._world
        user_id = user_id or "sim" + random_id(12)
        if user_id in world.users:
            raise ValidationError(f"a user with id {user_id!r} already exists")
        user = SimUser(user_id=user_id, user_type=UserType(user_type), name=name)
        world.users[user_id] = user
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
        """Put a key on a lock, assigned to ``user_id`` or unassigned; a password key opens with its ``pin``.
        ``synced=False``: the lock has it but has not reported it yet (the sync call does)."""
        lock = self.lock(device_id)
        member = UnlockType(unlock_type)
        if user_id is not None and user_id not in self._world.users:
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
        """The live state of a lock (door, keys, switches, enrollment ...); changes to it take effect."""
        try:
            return self._world.locks[device_id]
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
        """The lock's camera uploads a photo (``content``, a drawn PNG by default) for an album event type, and
        a ``video`` if given (stored in the same encrypted container; whether Tuya does so is not documented)."""
        world = self._world
        lock = self.lock(device_id)
        file_id = world.next_file_id
        world.next_file_id += 1
        photo = render_snapshot(event_type) if content is None else content
        media = SimMedia(
            file_id=file_id,
            event_type=event_type,
            bucket=world.bucket,
            object_name=f"{MEDIA_PREFIX}/{lock.device_id}/{file_id}-{random_id(8).lower()}.png",
            file_key=random_id(16),
            upload_time=int(world.now()) if upload_time is None else upload_time,
        )
        world.storage[media.object_name] = encrypt_media(photo, media.file_key)
        if video is not None:
            media.video_object = f"{MEDIA_PREFIX}/{lock.device_id}/{file_id}-video.mp4"
            media.video_key = random_id(16)
            world.storage[media.video_object] = encrypt_media(video, media.video_key)
        lock.media.append(media)
        return media

    def expire_tokens(self) -> None:
        """Expire every access token now (the next business call gets 1010)."""
        world = self._world
        past = world.now() - 1
        for token in world.tokens.values():
            token.expires_at = past

    def advance(self, seconds: float) -> None:
        """Age every token and ticket by ``seconds`` (the clock itself stays put, so request times stay valid)."""
        world = self._world
        for token in world.tokens.values():
            token.expires_at -= seconds
        for ticket in world.tickets.values():
            ticket.expires_at -= seconds

"""The rules of the simulated cloud: tokens, the 20 lock endpoints, enrollment, tickets, media.

Everything here is synchronous and free of I/O, so it can be driven and inspected directly in tests. A call that
Tuya would refuse raises the :class:`~lockcloud.APIError` subclass for its code (built by
:func:`lockcloud._errors.error_for_code`); the HTTP layer turns it into a ``success: false`` envelope.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs

from lockcloud._errors import APIError, CryptoError, ValidationError, error_for_code
from lockcloud.crypto import decrypt_password, encrypt_media, encrypt_ticket_key
from lockcloud.enums import RemoteUnlockType, UnlockType, UserType
from lockcloud.sim._faults import Faults, message_for
from lockcloud.sim._media import render_snapshot
from lockcloud.sim._model import (
    APPLICABILITY,
    Enrollment,
    LockKind,
    SimKey,
    SimLock,
    SimMedia,
    SimTicket,
    SimToken,
    SimUser,
)
from lockcloud.sim._push import DEVICE_EVENT, STATUS_REPORT, PushMessage

__all__ = ["DEFAULT_PRESSES", "Call", "Outcome", "World"]

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

ENROLLMENT_BIZ_CODE = "doorUnlockMethodStatus"
ENTRY_EVENT = "unlockMethodEntry"
DELETE_EVENT = "unlockMethodDelete"

#: Key types the enroll endpoint accepts (its document lists these five).
_ENROLLABLE = frozenset(
    {UnlockType.FINGERPRINT, UnlockType.PASSWORD, UnlockType.CARD, UnlockType.FACE, UnlockType.REMOTE_CONTROL}
)
#: Key types a duress alarm can be set on (both hijack documents list these three).
_DURESS_TYPES = frozenset({UnlockType.FINGERPRINT, UnlockType.PASSWORD, UnlockType.CARD})
_SPECIAL_ATTRIBUTES = frozenset({1, 2})

#: Album event types whose photo is a remote-unlock cover (file_type 1) or an alert cover (file_type 2).
REMOTE_UNLOCK_EVENTS = frozenset({1, 16, 18, 23})
ALERT_EVENTS = frozenset({0, 2, 3, 4, 5, 6, 7, 19, 21, 22, 24, 25})

_ID_ALPHABET = string.ascii_letters + string.digits
_PRODUCT_KEYS = {
    LockKind.WIFI: "simwifilock01",
    LockKind.ZIGBEE: "simzigbeelock1",
    LockKind.BLUETOOTH: "simblelock0001",
    LockKind.KEEPALIVE_WIFI: "simkeepalive01",
    LockKind.VIDEO: "simvideolock01",
    LockKind.ACCESS_CONTROL: "simaccessctl01",
}

AlbumKeyStyle = Literal["snake", "camel"]

#: Media objects live under this first path segment of the simulator's URL space.
MEDIA_PREFIX = "media"


def _random_id(length: int) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


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


# -- argument parsing -----------------------------------------------------------------------------------------


def _unlock_type(raw: object, spelling: Literal["plain", "dp"], name: str = "unlock_type") -> UnlockType:
    if not isinstance(raw, str) or not raw:
        raise fail(1100, f"{name} is required")
    member = UnlockType(raw)
    wanted = member.plain if spelling == "plain" else member.dp_code
    if not member.is_known or raw != wanted:
        example = "fingerprint, password, card" if spelling == "plain" else "unlock_fingerprint, unlock_card"
        raise fail(1109, f"{name} {raw!r} is not valid here (expected values like {example})")
    return member


def _integer(raw: object, name: str) -> int:
    if isinstance(raw, bool):
        raise fail(1109, f"{name} must be an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        return int(raw)
    if raw is None or raw == "":
        raise fail(1100, f"{name} is required")
    raise fail(1109, f"{name} must be an integer")


def _user_type(raw: object) -> UserType:
    value = _integer(raw, "user_type")
    if value not in (1, 2):
        raise fail(1101, "user_type must be 1 (home user) or 2 (not a home user)")
    return UserType(value)


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        raise fail(1100, f"{name} is required")
    if not isinstance(value, str):
        raise fail(1109, f"{name} must be a string")
    return value


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        raise fail(1100, f"{name} is required")
    if not isinstance(value, bool):
        raise fail(1109, f"{name} must be true or false")
    return value


class World:
    """The simulated cloud's state and rules for one project (one access id)."""

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
        self.presses: dict[UnlockType, int] = dict(DEFAULT_PRESSES)
        for unlock_type, count in (presses or {}).items():
            if count < 1:
                raise ValidationError("an enrollment needs at least one press")
            self.presses[UnlockType(unlock_type)] = count
        self.bucket = bucket
        self.album_keys: AlbumKeyStyle = album_keys
        self.uid = "sim" + _random_id(13)
        self.locks: dict[str, SimLock] = {}
        self.users: dict[str, SimUser] = {}
        self.tickets: dict[str, SimTicket] = {}
        self.tokens: dict[str, SimToken] = {}
        self._refresh_tokens: dict[str, SimToken] = {}
        #: Encrypted media objects by object name (``media/<device id>/<file>``), served at ``/<object name>``.
        self.storage: dict[str, bytes] = {}
        self._next_file_id = 100_000_001
        self._enrollment_generation = 0

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
        device_id = device_id or "vdevo" + _random_id(15)
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
            uuid=_random_id(16).lower(),
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
        user_id = user_id or "sim" + _random_id(12)
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
        """The lock's camera uploads a photo (``content``, a drawn PNG by default) for an album event type.

        ``video`` bytes are stored in the same container as photos; whether Tuya does so is not documented.
        """
        lock = self.lock(device_id)
        file_id = self._next_file_id
        self._next_file_id += 1
        photo = render_snapshot(event_type) if content is None else content
        media = SimMedia(
            file_id=file_id,
            event_type=event_type,
            bucket=self.bucket,
            object_name=f"{MEDIA_PREFIX}/{lock.device_id}/{file_id}-{_random_id(8).lower()}.png",
            file_key=_random_id(16),
            upload_time=int(self.now()) if upload_time is None else upload_time,
        )
        self.storage[media.object_name] = encrypt_media(photo, media.file_key)
        if video is not None:
            media.video_object = f"{MEDIA_PREFIX}/{lock.device_id}/{file_id}-video.mp4"
            media.video_key = _random_id(16)
            self.storage[media.video_object] = encrypt_media(video, media.video_key)
        lock.media.append(media)
        return media

    # -- tokens ---------------------------------------------------------------------------------------------------

    def grant_token(self, query: Mapping[str, str]) -> dict[str, Any]:
        grant_type = query.get("grant_type")
        if not grant_type:
            raise fail(1100, "grant_type is required")
        if grant_type != "1":
            raise fail(1109, "grant_type must be 1")
        if self.faults.grant_replaces_token:
            self.tokens.clear()
            self._refresh_tokens.clear()
        return self._issue_token()

    def refresh_token(self, refresh_token: str) -> dict[str, Any]:
        old = self._refresh_tokens.pop(refresh_token, None)
        if old is None:
            raise fail(1012, "unknown or already used refresh token")
        self.tokens.pop(old.access_token, None)
        return self._issue_token()

    def _issue_token(self) -> dict[str, Any]:
        lifetime = self.faults.token_lifetime
        token = SimToken(
            access_token=secrets.token_hex(16),
            refresh_token=secrets.token_hex(16),
            expires_at=self.now() + lifetime,
            uid=self.uid,
        )
        self.tokens[token.access_token] = token
        self._refresh_tokens[token.refresh_token] = token
        return {
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expire_time": lifetime,
            "uid": token.uid,
        }

    def check_token(self, access_token: str) -> None:
        """Raise 1002 for a missing token, 1010 for an unknown or expired one."""
        if not access_token:
            raise fail(1002)
        token = self.tokens.get(access_token)
        if token is None:
            raise fail(1010)
        if token.expires_at <= self.now():
            raise fail(1010, "token expired")

    # -- dispatch -------------------------------------------------------------------------------------------------

    def execute(self, call: Call) -> Outcome:
        """Run one business call (already authenticated) and return its outcome, or raise its APIError."""
        handler = getattr(self, f"_do_{call.action}")
        lock = self._device(call.path_params["device_id"])
        outcome: Outcome = handler(lock, call)
        return outcome

    def _device(self, device_id: str) -> SimLock:
        lock = self.locks.get(device_id)
        if lock is None:
            raise fail(2010, f"no device {device_id!r}")
        return lock

    def _applicable(self, lock: SimLock, action: str, user_type: UserType | None = None) -> None:
        rule = APPLICABILITY[action]
        if lock.kind not in rule.kinds:
            raise fail(2004, f"not available for this lock type ({lock.kind.label})")
        if user_type is not None and user_type != UserType.HOME_USER and lock.kind in rule.home_users_only:
            raise fail(2003, f"for home users (user_type 1) only on this lock type ({lock.kind.label})")
        if lock.kind in rule.needs_gateway and not lock.gateway:
            raise fail(2003, f"this lock ({lock.kind.label}) has no gateway")

    @staticmethod
    def _online(lock: SimLock) -> None:
        if not lock.online:
            raise fail(2001)

    def _user(self, user_id: str, user_type: UserType) -> SimUser:
        user = self.users.get(user_id)
        if user is None:
            raise fail(1000, f"no user {user_id!r}")
        if user.user_type != user_type:
            raise fail(1109, f"user {user_id!r} is not of user_type {int(user_type)}")
        return user

    @staticmethod
    def _key(lock: SimLock, unlock_no: int, unlock_type: UnlockType | None = None) -> SimKey:
        key = lock.keys.get(unlock_no)
        if key is None or (unlock_type is not None and key.unlock_type is not unlock_type):
            kind = f"{unlock_type.plain} " if unlock_type is not None else ""
            raise fail(1000, f"no {kind}key number {unlock_no} on this lock")
        return key

    # -- pushes -----------------------------------------------------------------------------------------------

    def _device_event(self, lock: SimLock, biz_code: str, biz_data: Mapping[str, Any]) -> PushMessage:
        now = self.now_ms()
        body = {
            "bizCode": biz_code,
            "bizData": dict(biz_data),
            "devId": lock.device_id,
            "productKey": lock.product_key,
            "ts": now,
            "uuid": lock.uuid,
        }
        return PushMessage(protocol=DEVICE_EVENT, body=body, t=now)

    def _enrollment_push(
        self,
        lock: SimLock,
        *,
        event: str = ENTRY_EVENT,
        operate: int = 1,
        raised: bool,
        finish: bool,
        period: int,
        total_period: int | None = None,
    ) -> PushMessage:
        data: dict[str, Any] = {
            "event": event,
            "operate": operate,
            "raised": raised,
            "finish": finish,
            "period": period,
        }
        if total_period is not None:
            data["totalPeriod"] = total_period
        return self._device_event(lock, ENROLLMENT_BIZ_CODE, data)

    def _status_report(self, lock: SimLock, status: Mapping[str, Any]) -> PushMessage:
        now = self.now_ms()
        body = {
            "dataId": _random_id(24),
            "devId": lock.device_id,
            "productKey": lock.product_key,
            "status": [{"code": code, "value": value, "t": now} for code, value in status.items()],
        }
        return PushMessage(protocol=STATUS_REPORT, body=body, t=now)

    def _door_moved(self, lock: SimLock, is_open: bool) -> tuple[PushMessage, ...]:
        lock.door_open = is_open
        if is_open:
            lock.pending_remote_request = False
        return (self._status_report(lock, {"closed_opened": "open" if is_open else "closed"}),)

    # -- enrollment -----------------------------------------------------------------------------------------------

    def _do_enroll(self, lock: SimLock, call: Call) -> Outcome:
        body = call.body
        user_type = _user_type(body.get("user_type"))
        self._applicable(lock, call.action, user_type)
        user_id = _text(body, "user_id")
        unlock_type = _unlock_type(body.get("unlock_type"), "plain")
        if unlock_type not in _ENROLLABLE:
            raise fail(1109, f"{unlock_type.plain} cannot be enrolled through this call")
        self._user(user_id, user_type)
        self._online(lock)
        pin: str | None = None
        if lock.kind is LockKind.BLUETOOTH and unlock_type is UnlockType.PASSWORD and body.get("password"):
            if body.get("password_type") != "ticket":
                raise fail(1109, "password_type must be 'ticket'")
            ticket = self._spend_ticket(lock, _text(body, "ticket_id"))
            pin = self._decrypt_pin(_text(body, "password"), ticket)
        pushes: list[PushMessage] = []
        if lock.enrollment is not None:
            # A lock asked to enroll while enrolling abandons the first session, as if it had been cancelled.
            pushes.append(self._cancel_push(lock, lock.enrollment))
        total = 1 if pin is not None else self.presses[unlock_type]
        self._enrollment_generation += 1
        enrollment = Enrollment(
            unlock_type=unlock_type,
            user_id=user_id,
            user_type=user_type,
            total=total,
            remaining=total,
            pin=pin,
            generation=self._enrollment_generation,
        )
        lock.enrollment = enrollment
        pushes.append(self._enrollment_push(lock, raised=True, finish=False, period=total))
        pushes.append(
            self._enrollment_push(lock, raised=True, finish=False, period=total, total_period=total)
        )
        detail = {"user_id": user_id, "unlock_type": unlock_type.plain, "total": total}
        if pin is not None:
            # The password travelled with the call: the lock stores it without anyone at the keypad.
            pushes.extend(self.press(lock.device_id))
            return Outcome(True, tuple(pushes), detail)
        return Outcome(True, tuple(pushes), detail, enrollment_started=lock.device_id)

    def press(self, device_id: str) -> list[PushMessage]:
        """One finger press (card tap, keypad entry ...) on a lock that is enrolling."""
        lock = self.lock(device_id)
        enrollment = lock.enrollment
        if enrollment is None:
            raise ValidationError(f"lock {device_id!r} is not enrolling anything")
        enrollment.remaining -= 1
        if enrollment.remaining > 0:
            return [self._enrollment_push(lock, raised=True, finish=False, period=enrollment.remaining)]
        lock.enrollment = None
        pin = enrollment.pin
        if enrollment.unlock_type is UnlockType.PASSWORD and pin is None:
            pin = "".join(secrets.choice(string.digits) for _ in range(6))
        self.add_key(device_id, enrollment.unlock_type, user_id=enrollment.user_id, pin=pin)
        return [self._enrollment_push(lock, raised=True, finish=True, period=0)]

    def _cancel_push(self, lock: SimLock, enrollment: Enrollment) -> PushMessage:
        return self._enrollment_push(lock, operate=2, raised=False, finish=False, period=enrollment.remaining)

    def _do_cancel_enrollment(self, lock: SimLock, call: Call) -> Outcome:
        unlock_type = _unlock_type(call.path_params["unlock_type"], "plain")
        enrollment = lock.enrollment
        self._applicable(lock, call.action, enrollment.user_type if enrollment is not None else None)
        self._online(lock)
        if enrollment is None or enrollment.unlock_type is not unlock_type:
            # The cancel command reaches a lock that is not enrolling this type: nothing happens.
            return Outcome(True, (), {"unlock_type": unlock_type.plain, "cancelled": False})
        lock.enrollment = None
        push = self._cancel_push(lock, enrollment)
        return Outcome(True, (push,), {"unlock_type": unlock_type.plain, "cancelled": True})

    # -- keys -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _filter(call: Call) -> UnlockType | None:
        raw = call.query.get("unlock_type")
        return None if not raw else _unlock_type(raw, "plain")

    def _do_list_assigned_keys(self, lock: SimLock, call: Call) -> Outcome:
        user_type = _user_type(call.path_params["user_type"])
        self._applicable(lock, call.action, user_type)
        user_id = call.path_params["user_id"]
        self._user(user_id, user_type)
        only = self._filter(call)
        keys = [
            {"unlock_no": key.unlock_no, "unlock_type": key.unlock_type.plain, "hijack": key.hijack}
            for key in sorted(lock.keys_of(user_id), key=lambda k: k.unlock_no)
            if key.synced and (only is None or key.unlock_type is only)
        ]
        return Outcome({"unlock_keys": keys}, detail={"user_id": user_id})

    def _do_list_unassigned_keys(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        only = self._filter(call)
        keys = [
            {"unlock_no": key.unlock_no, "unlock_type": key.unlock_type.plain}
            for key in sorted(lock.keys_of(None), key=lambda k: k.unlock_no)
            if key.synced and (only is None or key.unlock_type is only)
        ]
        return Outcome({"unlock_keys": keys})

    def _do_sync_keys(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        raw = call.query.get("codes")
        wanted = None if not raw else {_unlock_type(code, "dp", "codes") for code in raw.split(",")}
        self._online(lock)
        synced = [
            key.unlock_no
            for key in lock.keys.values()
            if not key.synced and (wanted is None or key.unlock_type in wanted)
        ]
        for number in synced:
            lock.keys[number].synced = True
        return Outcome(True, detail={"synced": synced})

    def _do_delete_key(self, lock: SimLock, call: Call) -> Outcome:
        params = call.path_params
        user_type = _user_type(params["user_type"])
        self._applicable(lock, call.action, user_type)
        user_id = params["user_id"]
        self._user(user_id, user_type)
        unlock_type = _unlock_type(params["unlock_type"], "plain")
        number = _integer(params["unlock_no"], "unlock_no")
        key = self._key(lock, number, unlock_type)
        if key.user_id != user_id:
            raise fail(1000, f"key number {number} is not assigned to user {user_id!r}")
        self._online(lock)
        del lock.keys[number]
        push = self._enrollment_push(lock, event=DELETE_EVENT, raised=False, finish=True, period=0)
        return Outcome(True, (push,), {"unlock_no": number, "unlock_type": unlock_type.plain})

    def _do_rename_key(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        number = _integer(call.path_params["unlock_sn"], "unlock_sn")
        unlock_type = _unlock_type(call.body.get("dp_code"), "dp", "dp_code")
        name = _text(call.body, "unlock_name")
        if len(name) > 50:
            raise fail(1101, "unlock_name is longer than 50 characters")
        self._key(lock, number, unlock_type).name = name
        return Outcome(True, detail={"unlock_no": number, "name": name})

    def _duress_key(
        self, lock: SimLock, call: Call, number_param: str, spelling: Literal["plain", "dp"]
    ) -> SimKey:
        self._applicable(lock, call.action)
        unlock_type = _unlock_type(call.path_params["unlock_type"], spelling)
        if unlock_type not in _DURESS_TYPES:
            raise fail(2008, f"a duress alarm cannot be set on {unlock_type.plain} keys")
        key = self._key(lock, _integer(call.path_params[number_param], number_param), unlock_type)
        self._online(lock)
        return key

    def _do_set_duress_alarm(self, lock: SimLock, call: Call) -> Outcome:
        key = self._duress_key(lock, call, "unlock_no", "plain")
        key.hijack = True
        return Outcome(True, detail={"unlock_no": key.unlock_no})

    def _do_remove_duress_alarm(self, lock: SimLock, call: Call) -> Outcome:
        key = self._duress_key(lock, call, "unlock_sn", "dp")
        key.hijack = False
        return Outcome(True, detail={"unlock_no": key.unlock_no})

    def _do_set_special_attribute(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        number = _integer(call.path_params["opmode_id"], "opmode_id")
        attribute = _integer(call.path_params["attribute"], "attribute")
        if attribute not in _SPECIAL_ATTRIBUTES:
            raise fail(1101, "attribute must be 1 (voice) or 2 (photo capture)")
        enabled = _flag(call.body, "enabled")
        key = self._key(lock, number)
        self._online(lock)
        key.attributes[attribute] = enabled
        return Outcome(True, detail={"unlock_no": number, "attribute": attribute, "enabled": enabled})

    # -- remote unlock --------------------------------------------------------------------------------------------

    def _do_list_remote_unlocks(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        switches = [
            {"remote_unlock_type": switch.value, "open": lock.remote_unlock.get(switch, False)}
            for switch in (RemoteUnlockType.WITHOUT_PASSWORD, RemoteUnlockType.WITH_PASSWORD)
        ]
        return Outcome(switches)

    def _do_set_remote_unlock(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        raw = _text(call.body, "remote_unlock_type")
        switch = RemoteUnlockType(raw)
        if not switch.is_known:
            raise fail(1109, "remote_unlock_type must be remoteUnlockWithoutPwd or remoteUnlockWithPwd")
        value = _flag(call.body, "open")
        self._online(lock)
        lock.remote_unlock[switch] = value
        return Outcome(True, detail={"remote_unlock_type": switch.value, "open": value})

    @staticmethod
    def _switched_on(lock: SimLock, switch: RemoteUnlockType) -> None:
        # Tuya documents no code for this refusal; 2008 (command not supported) is the simulator's choice.
        if not lock.remote_unlock.get(switch, False):
            raise fail(2008, f"remote unlock switch {switch.value} is off on this lock")

    def _do_password_ticket(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        ticket = SimTicket(
            ticket_id=_random_id(10),
            device_id=lock.device_id,
            key=_random_id(16).encode(),
            expires_at=self.now() + self.faults.ticket_lifetime,
        )
        self.tickets[ticket.ticket_id] = ticket
        result = {
            "ticket_id": ticket.ticket_id,
            "ticket_key": encrypt_ticket_key(ticket.key, self._access_secret),
            "expire_time": self.faults.ticket_lifetime,
        }
        return Outcome(result, detail={"ticket_id": ticket.ticket_id})

    def _spend_ticket(self, lock: SimLock, ticket_id: str) -> SimTicket:
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket.device_id != lock.device_id:
            raise fail(1109, "unknown ticket_id")
        if ticket.used:
            raise fail(1109, "ticket already used")
        if ticket.expires_at <= self.now():
            raise fail(1109, "ticket expired")
        ticket.used = True
        return ticket

    @staticmethod
    def _decrypt_pin(password: str, ticket: SimTicket) -> str:
        try:
            pin = decrypt_password(password, ticket.key)
        except CryptoError:
            raise fail(1109, "password is not encrypted with the ticket's key") from None
        if not (pin.isascii() and pin.isdigit()):
            raise fail(1109, "password is not encrypted with the ticket's key")
        return pin

    def _camera(self, lock: SimLock, event_type: int) -> None:
        if lock.kind.has_camera:
            self.capture(lock.device_id, event_type)

    def _do_open_door(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        password = _text(call.body, "password")
        if _text(call.body, "password_type") != "ticket":
            raise fail(1109, "password_type must be 'ticket'")
        ticket_id = _text(call.body, "ticket_id")
        self._online(lock)
        self._switched_on(lock, RemoteUnlockType.WITH_PASSWORD)
        pin = self._decrypt_pin(password, self._spend_ticket(lock, ticket_id))
        if len(pin) != 6:
            raise fail(1109, "the password must be 6 digits")
        valid = {key.pin for key in lock.keys.values() if key.unlock_type is UnlockType.PASSWORD and key.pin}
        if pin not in valid:
            self._camera(lock, 3)
            return Outcome(False, detail={"ticket_id": ticket_id, "opened": False})
        pushes = self._door_moved(lock, True)
        return Outcome(True, pushes, {"ticket_id": ticket_id, "opened": True})

    def _do_open_door_password_free(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        ticket_id = _text(call.body, "ticket_id")
        self._online(lock)
        self._switched_on(lock, RemoteUnlockType.WITHOUT_PASSWORD)
        self._spend_ticket(lock, ticket_id)
        self._camera(lock, 16)
        return Outcome(True, self._door_moved(lock, True), {"ticket_id": ticket_id, "opened": True})

    def _do_open_door_channel(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        ticket_id = _text(call.body, "ticket_id")
        channel = _integer(call.body.get("channel_id"), "channel_id")
        if channel not in lock.channels:
            raise fail(1101, f"channel_id {channel} does not exist on this device")
        self._online(lock)
        self._switched_on(lock, RemoteUnlockType.WITHOUT_PASSWORD)
        self._spend_ticket(lock, ticket_id)
        lock.opened_channels.append(channel)
        pushes = self._door_moved(lock, True)
        return Outcome(True, pushes, {"ticket_id": ticket_id, "channel_id": channel, "opened": True})

    def _do_door_operate(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        ticket_id = _text(call.body, "ticket_id")
        wanted = _flag(call.body, "open")
        self._online(lock)
        if wanted:
            self._switched_on(lock, RemoteUnlockType.WITHOUT_PASSWORD)
        self._spend_ticket(lock, ticket_id)
        if wanted:
            self._camera(lock, 16)
        return Outcome(True, self._door_moved(lock, wanted), {"ticket_id": ticket_id, "open": wanted})

    def _do_revoke_remote_unlock(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        reason = _integer(call.body.get("type"), "type")
        if reason not in (1, 2):
            raise fail(1101, "type must be 1 (reject) or 2 (cancel)")
        self._online(lock)
        revoked = lock.pending_remote_request
        lock.pending_remote_request = False
        return Outcome(True, detail={"type": reason, "revoked": revoked})

    # -- media ----------------------------------------------------------------------------------------------------

    def _do_latest_media(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        file_type = _integer(call.query.get("file_type"), "file_type")
        if file_type not in (1, 2):
            raise fail(1101, "file_type must be 1 (remote unlock) or 2 (alert)")
        events = REMOTE_UNLOCK_EVENTS if file_type == 1 else ALERT_EVENTS
        candidates = [media for media in lock.media if media.event_type in events]
        if not candidates:
            return Outcome(None, detail={"file_type": file_type})
        media = candidates[-1]
        result = {
            "bucket": media.bucket,
            "file_key": media.file_key,
            "file_path": "/" + media.object_name,
            # Like Tuya's sample: the bucket's root (here the server's root) in file_url, the object in file_path.
            "file_url": call.base_url,
        }
        return Outcome(result, detail={"file_type": file_type, "file_id": media.file_id})

    def _do_albums(self, lock: SimLock, call: Call) -> Outcome:
        self._applicable(lock, call.action)
        entries = []
        for media in sorted(lock.media, key=lambda m: (m.upload_time, m.file_id), reverse=True):
            entry: dict[str, Any] = {
                "event_type": media.event_type,
                "file_id": media.file_id,
                "file_key": media.file_key,
                "file_url": f"{call.base_url}/{media.object_name}",
                "upload_time": media.upload_time,
            }
            if media.video_object is not None:
                entry.update(
                    media_path=f"{call.base_url}/{media.video_object}",
                    media_key=media.video_key,
                    media_bucket=media.bucket,
                )
            entries.append(entry)
        result = {
            "album_list": entries,
            "event_types": sorted({media.event_type for media in lock.media}),
            "order_code": "cloud_free_storage_3day",
        }
        if self.album_keys == "camel":
            result = _camel_keys(result)
        return Outcome(result, detail={"entries": len(entries)})

    def media_object(self, object_name: str) -> bytes | None:
        return self.storage.get(object_name)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(key): _camel_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel_keys(item) for item in value]
    return value

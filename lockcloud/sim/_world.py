"""The simulated cloud's state for one project (one access id): locks, users, tickets, tokens, stored media, and the
clock they live by; :meth:`World.execute` hands each call to its resource's handler.

Everything here is synchronous and free of I/O, so it can be driven and inspected directly in tests. The rules of
each resource live with its handlers: :mod:`~lockcloud.sim._tokens`, :mod:`~lockcloud.sim._unlock_methods`,
:mod:`~lockcloud.sim._enrollment`, :mod:`~lockcloud.sim._remote_unlock` and :mod:`~lockcloud.sim._media`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from lockcloud._core.errors import ValidationError
from lockcloud.enums import UnlockType
from lockcloud.sim import (
    _access_codes,
    _enrollment,
    _history,
    _media,
    _remote_unlock,
    _tokens,
    _unlock_methods,
)
from lockcloud.sim._call import Call, Handler, Outcome, fail
from lockcloud.sim._faults import Faults
from lockcloud.sim._media import AlbumKeyStyle
from lockcloud.sim._model import SimLock, SimTicket, SimToken, SimUser, random_id
from lockcloud.sim._push import PushMessage
from lockcloud.sim._scenario import Scenario

__all__ = ["World"]

#: Action name -> the handler of its endpoint, one module per resource.
_HANDLERS: Mapping[str, Handler] = {
    **_unlock_methods.HANDLERS,
    **_enrollment.HANDLERS,
    **_remote_unlock.HANDLERS,
    **_media.HANDLERS,
    **_access_codes.HANDLERS,
    **_history.HANDLERS,
}


class World(Scenario):
    """The simulated cloud's state for one project (one access id); :meth:`execute` applies its rules to a call,
    the :class:`~lockcloud.sim._scenario.Scenario` methods put locks, users, keys and media into it."""

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
        #: Guest access codes of every lock, and how Zigbee locks deliver them.
        self.access_codes = _access_codes.AccessCodeBook()

    @property
    def access_secret(self) -> str:
        return self._access_secret

    @property
    def _world(self) -> World:
        return self

    def __repr__(self) -> str:
        return f"World(access_id={self.access_id!r}, locks={len(self.locks)}, users={len(self.users)})"

    # -- clock --------------------------------------------------------------------------------------------------

    def now(self) -> float:
        """The simulated Tuya clock, epoch seconds."""
        return time.time() + self.faults.clock_offset

    def now_ms(self) -> int:
        return int(self.now() * 1000)

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

"""What a simulated lock remembers beyond its keys: its history, its household and its reported state.

Plain records kept on each :class:`~lockcloud.sim.SimLock` (``lock.log``); :mod:`lockcloud.sim._history` writes
and serves them.
"""

from __future__ import annotations

import attrs

__all__ = ["LockLog", "SimMember", "SimRecord"]


@attrs.define
class SimRecord:
    """One history entry: the data point the lock reported (``code`` = ``value``) at ``at_ms`` on the sim clock."""

    record_id: str
    at_ms: int
    code: str
    value: object
    alarm: bool = False
    user_id: str | None = None
    user_name: str | None = None
    unlock_name: str | None = None
    #: Object name, bucket and key of the photo taken with it, if any.
    media: tuple[str, str, str] | None = None


@attrs.define
class SimMember:
    """A member of the lock's household (the members endpoints)."""

    user_id: str
    nick_name: str
    role: int = 20
    contact: str | None = None
    lock_user_id: int = 0


@attrs.define
class LockLog:
    """A lock's history (oldest first), members, and the state it last reported."""

    records: list[SimRecord] = attrs.field(factory=list)
    members: dict[str, SimMember] = attrs.field(factory=dict)
    battery_percent: int = 100
    bolt_locked: bool = True
    last_alarm: str | None = None
    updated_ms: int = 0
    next_record: int = 1

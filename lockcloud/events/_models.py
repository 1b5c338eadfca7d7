"""The typed push events, the dead letters and the counters of a stream."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import attrs

from lockcloud._core.errors import DecodeError
from lockcloud._core.wire import ENROLLMENT_BIZ_CODE
from lockcloud.enums import EnrollmentOperation, UnlockMethodEvent
from lockcloud.history_models import AlarmKind, BatteryState, DoorState, UnlockMethod

__all__ = [
    "BatteryLevel",
    "DeadLetter",
    "DeviceEvent",
    "DoorStateChanged",
    "EnrollmentProgress",
    "Event",
    "LockAlarm",
    "LockUnlocked",
    "StatusItem",
    "StatusReport",
    "StreamStats",
    "UnknownEvent",
]


@attrs.frozen(kw_only=True)
class Event:
    """One decoded push message.

    ``protocol`` is the envelope's protocol number (20 device events, 4 status reports), ``published_at`` the
    envelope's ``t``, ``message_id`` the broker's id of the message (``None`` when decoded by hand) and ``raw`` the
    decrypted JSON body as received, unknown keys included.

    Events are plain immutable values, the same object for every recipient: acknowledgement is the iterator's
    business (it acknowledges an event when asked for the next; ``subscription.ack(event)`` does it earlier).
    """

    protocol: int
    device_id: str | None = None
    published_at: _dt.datetime | None = None
    message_id: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


@attrs.frozen(kw_only=True)
class DeviceEvent(Event):
    """A protocol-20 device event; what lockcloud has no dedicated class for keeps its ``biz_data`` as a dict."""

    device_id: str
    biz_code: str
    biz_data: Mapping[str, Any] = attrs.field(factory=dict)
    product_key: str | None = None
    timestamp: _dt.datetime | None = None
    uuid: str | None = None


@attrs.frozen(kw_only=True)
class EnrollmentProgress(DeviceEvent):
    """``doorUnlockMethodStatus``: progress of enrolling (or deleting) a fingerprint, card, face ... on a lock.

    ``period`` is the number of presses still needed; ``total_period`` the number needed in all, which Tuya pushes
    only once (``None`` in every other message). ``raised`` says the enrollment was initiated, ``finish`` that it is
    complete. The document says ``totalPeriod`` "will be pushed separately", so a message may carry it alone: every
    field but ``event`` is ``None`` when the message lacks it.
    """

    biz_code: str = ENROLLMENT_BIZ_CODE
    event: UnlockMethodEvent
    operate: EnrollmentOperation | None = None
    raised: bool | None = None
    finish: bool | None = None
    period: int | None = None
    total_period: int | None = None
    timestamp: _dt.datetime


@attrs.frozen(kw_only=True)
class StatusItem:
    """One data point of a status report: its DP ``code``, ``value`` and the time it was reported."""

    code: str
    value: Any
    timestamp: _dt.datetime | None = None


@attrs.frozen(kw_only=True)
class StatusReport(Event):
    """A protocol-4 status report: data points the device reported."""

    device_id: str
    status: tuple[StatusItem, ...] = ()
    product_key: str | None = None
    data_id: str | None = None


@attrs.frozen(kw_only=True)
class LockUnlocked(StatusReport):
    """A lock reported an unlock: ``method`` (fingerprint, card, password, app ...) and the ``key_number`` it
    reported. ``duress`` is true when the same report carries the duress alarm. The push names no member: look
    the key up with ``cloud.members`` or read the record with ``cloud.history``."""

    method: UnlockMethod
    key_number: int | None = None
    duress: bool = False


@attrs.frozen(kw_only=True)
class LockAlarm(StatusReport):
    """A lock raised an alarm: ``kind`` (duress, doorbell, wrong finger, tamper, low battery ...; an unknown kind
    keeps its raw value). For a duress alarm ``method`` and ``key_number`` name the key that raised it."""

    kind: AlarmKind
    method: UnlockMethod | None = None
    key_number: int | None = None

    @property
    def is_duress(self) -> bool:
        return self.kind is AlarmKind.DURESS


@attrs.frozen(kw_only=True)
class DoorStateChanged(StatusReport):
    """The door opened or closed (``closed_opened``)."""

    door: DoorState


@attrs.frozen(kw_only=True)
class BatteryLevel(StatusReport):
    """The lock reported its battery: ``percent`` (``residual_electricity``) and/or ``state``
    (``battery_state``), each ``None`` when the report lacks it."""

    percent: int | None = None
    state: BatteryState | None = None


@attrs.frozen(kw_only=True)
class UnknownEvent(Event):
    """A message of a protocol lockcloud does not know, or a device event without a ``bizCode``: see ``raw``."""


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A message that could not be decoded, as handed to the dead-letter sink (then acknowledged).

    ``payload`` is the raw message body exactly as received (still encrypted) and ``properties`` its message
    properties, so it can be inspected or replayed once the cause is fixed.
    """

    reason: str
    payload: bytes = attrs.field(repr=lambda payload: f"<{len(payload)} bytes>")
    properties: Mapping[str, str] = attrs.field(factory=dict)
    message_id: str | None = None
    received_at: _dt.datetime = attrs.field(factory=lambda: _dt.datetime.now(_dt.UTC))
    error: DecodeError | None = attrs.field(default=None, repr=False, eq=False)


@attrs.define
class StreamStats:
    """Counters of an :class:`~lockcloud.events.EventStream`, since it was created.

    ``received`` counts every message taken from the source, duplicates included; ``buffered`` the events handed
    to the stream's iterators; ``duplicates`` the redeliveries suppressed; ``dead_letters`` the messages sent to the
    dead-letter sink (``dead_letter_failures`` those the sink failed to take, and ``dead_letters_refused`` those
    past the dead-letter quota: both stay unacknowledged); ``unmatched`` events no subscriber wanted (only with
    ``firehose=False``); ``acknowledged`` the acknowledgements sent; ``resubscriptions`` the times the source was
    subscribed again after a failure.
    """

    received: int = 0
    buffered: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    dead_letter_failures: int = 0
    dead_letters_refused: int = 0
    unmatched: int = 0
    acknowledged: int = 0
    resubscriptions: int = 0

"""Push messages of the simulated cloud: how they look decrypted, how the locks' events are built (each by its
entry in the event registry), and their encrypted Pulsar envelope (:mod:`lockcloud.sim._publisher` produces them to a broker)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import attrs

from lockcloud._core.wire import (
    DEVICE_EVENT_PROTOCOL,
    ENCRYPTION_PROPERTY,
    ENVELOPE_VERSION,
    STATUS_REPORT_PROTOCOL,
    MessageEncryption,
)
from lockcloud.crypto import encrypt_message
from lockcloud.enums import UnlockMethodEvent
from lockcloud.events._models import DeviceEvent, EnrollmentProgress, Event, StatusReport
from lockcloud.events._registry import registration_of
from lockcloud.sim._model import random_id

__all__ = [
    "Device",
    "MessageEncryption",
    "PushMessage",
    "device_event",
    "encode_push",
    "enrollment_push",
    "event_push",
    "seal",
    "status_report",
]


class Device(Protocol):
    """What a push message says about the device it comes from (a :class:`~lockcloud.sim.SimLock` is one)."""

    @property
    def device_id(self) -> str: ...

    @property
    def product_key(self) -> str: ...

    @property
    def uuid(self) -> str: ...


@attrs.frozen
class PushMessage:
    """One push message as the simulator produced it, before encryption.

    ``body`` is the decrypted JSON object (``{bizCode, bizData, devId, productKey, ts, uuid}`` for protocol 20,
    ``{dataId, devId, productKey, status}`` for protocol 4); ``t`` the envelope time in epoch milliseconds.
    """

    protocol: int
    body: Mapping[str, Any]
    t: int

    @property
    def device_id(self) -> str:
        return str(self.body.get("devId", ""))

    @property
    def biz_code(self) -> str | None:
        code = self.body.get("bizCode")
        return code if isinstance(code, str) else None

    @property
    def biz_data(self) -> Mapping[str, Any]:
        data = self.body.get("bizData")
        return data if isinstance(data, Mapping) else {}


def encode_push(
    message: PushMessage, access_secret: str, em: MessageEncryption = "aes_gcm"
) -> tuple[bytes, dict[str, str]]:
    """The message payload and properties Tuya would publish: envelope ``{data, protocol, pv, sign, t}`` with
    ``data`` encrypted by ``em`` (also set as the ``em`` property)."""
    plaintext = json.dumps(message.body, separators=(",", ":")).encode()
    payload = seal(plaintext, access_secret, em, protocol=message.protocol, t=message.t)
    return payload, {ENCRYPTION_PROPERTY: em}


def seal(
    plaintext: bytes, access_secret: str, em: MessageEncryption | None, *, protocol: int, t: int
) -> bytes:
    """The envelope around ``plaintext`` encrypted by ``em`` (``None``: ECB, as for a message without ``em``).

    Tuya does not document how ``sign`` is made and no client checks it; the simulator fills it with an
    HMAC-SHA256 of ``data`` and ``t`` under the access secret, which is not Tuya's algorithm.
    """
    data = encrypt_message(plaintext, access_secret, em)
    sign = hmac.new(access_secret.encode(), f"{data}{t}".encode(), hashlib.sha256).hexdigest()
    envelope = {"data": data, "protocol": protocol, "pv": ENVELOPE_VERSION, "sign": sign, "t": t}
    return json.dumps(envelope, separators=(",", ":")).encode()


def event_push(lock: Device, model: type[Event], now_ms: int, /, **fields: Any) -> PushMessage:
    """The push message of ``lock`` that decodes to ``model`` with ``fields`` (its own fields, as the event has
    them: ``event_push(lock, LockAlarm, now, kind=AlarmKind.DOORBELL)``), written by the event registry's entry
    for ``model``; ``now_ms`` is both the message's time and the envelope's ``t``.

    Raises ``KeyError`` for a class the registry does not produce.
    """
    registration = registration_of(model)
    frame = _FRAMES.get(registration.protocol, _unknown_protocol)
    return frame(lock, registration.wire(fields), fields, now_ms)


def _device_event(
    lock: Device, part: Mapping[str, Any], fields: Mapping[str, Any], now_ms: int
) -> PushMessage:
    body = {
        "bizCode": part["bizCode"],
        "bizData": dict(part["bizData"]),
        "devId": lock.device_id,
        "productKey": lock.product_key,
        "ts": now_ms,
        "uuid": lock.uuid,
    }
    return PushMessage(protocol=DEVICE_EVENT_PROTOCOL, body=body, t=now_ms)


def _status_report(
    lock: Device, part: Mapping[str, Any], fields: Mapping[str, Any], now_ms: int
) -> PushMessage:
    body = {
        "dataId": random_id(24),
        "devId": lock.device_id,
        "productKey": lock.product_key,
        "status": [{"code": code, "value": value, "t": now_ms} for code, value in part.items()],
    }
    return PushMessage(protocol=STATUS_REPORT_PROTOCOL, body=body, t=now_ms)


def _unknown_protocol(
    lock: Device, part: Mapping[str, Any], fields: Mapping[str, Any], now_ms: int
) -> PushMessage:
    # A message of a protocol lockcloud does not know is pushed as it is given, from no device in particular.
    return PushMessage(protocol=int(fields["protocol"]), body=dict(part), t=now_ms)


#: How each protocol frames an event's wire form into a message body.
_FRAMES: dict[int | None, Callable[[Device, Mapping[str, Any], Mapping[str, Any], int], PushMessage]] = {
    DEVICE_EVENT_PROTOCOL: _device_event,
    STATUS_REPORT_PROTOCOL: _status_report,
}


def device_event(lock: Device, biz_code: str, biz_data: Mapping[str, Any], now_ms: int) -> PushMessage:
    """A protocol 20 device event of ``lock`` (``now_ms`` is both its ``ts`` and the envelope's ``t``)."""
    return event_push(lock, DeviceEvent, now_ms, biz_code=biz_code, biz_data=biz_data)


def enrollment_push(
    lock: Device,
    now_ms: int,
    *,
    event: UnlockMethodEvent = UnlockMethodEvent.ENTRY,
    operate: int = 1,
    raised: bool,
    finish: bool,
    period: int,
    total_period: int | None = None,
) -> PushMessage:
    """A ``doorUnlockMethodStatus`` event: ``period`` presses to go, ``operate`` 1 enrolling or 2 cancelled."""
    return event_push(
        lock,
        EnrollmentProgress,
        now_ms,
        event=event,
        operate=operate,
        raised=raised,
        finish=finish,
        period=period,
        total_period=total_period,
    )


def status_report(lock: Device, status: Mapping[str, Any], now_ms: int) -> PushMessage:
    """A protocol 4 status report of ``lock``: each ``code -> value`` as one status item."""
    return event_push(lock, StatusReport, now_ms, status=status)

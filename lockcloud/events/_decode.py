"""Push message -> typed event: envelope, cipher chosen by ``em``, JSON body, model (PROTOCOL.md §6)."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs

from lockcloud._converter import from_epoch, structure
from lockcloud._errors import CryptoError, DecodeError
from lockcloud._wire import DEVICE_EVENT_PROTOCOL, ENROLLMENT_BIZ_CODE, STATUS_REPORT_PROTOCOL
from lockcloud.crypto import decrypt_message
from lockcloud.enums import EnrollmentOperation, UnlockMethodEvent
from lockcloud.events._models import (
    DeviceEvent,
    EnrollmentProgress,
    Event,
    StatusItem,
    StatusReport,
    UnknownEvent,
)

__all__ = ["decode_message"]


@attrs.frozen(kw_only=True)
class _EnrollmentData:
    event: UnlockMethodEvent
    operate: EnrollmentOperation | None = None
    raised: bool | None = None
    finish: bool | None = None
    period: int | None = None
    total_period: int | None = None


# bizData key -> _EnrollmentData field. Handing the converter field names directly skips its generic camelCase
# remapping, which is a third of the decoding time.
_ENROLLMENT_FIELDS = {
    "event": "event",
    "operate": "operate",
    "raised": "raised",
    "finish": "finish",
    "period": "period",
    "totalPeriod": "total_period",
    "total_period": "total_period",
}


def decode_message(payload: bytes, access_secret: str, properties: Mapping[str, str] | None = None) -> Event:
    """Decode one push message into its typed event.

    ``payload`` is the message body (the JSON envelope ``{data, protocol, pv, sign, t}``), ``properties`` the
    message properties; ``em`` among them picks the cipher (``aes_gcm``; ``aes_ecb`` or none: ECB), falling back
    to an ``em`` field in the envelope. Protocol 20 ``doorUnlockMethodStatus`` gives
    :class:`EnrollmentProgress`, other protocol-20 events :class:`DeviceEvent`, protocol 4
    :class:`StatusReport`, anything else :class:`UnknownEvent`.

    Raises :class:`~lockcloud.DecodeError`, carrying the payload and properties, for anything that cannot be
    decoded: not an envelope, not decryptable with this secret, not JSON, or a known message of the wrong shape.
    """
    return _decode(payload, access_secret, properties, None)


def _decode(
    payload: bytes, access_secret: str, properties: Mapping[str, str] | None, message_id: str | None
) -> Event:
    envelope = _envelope(payload, properties)
    em = properties.get("em") if properties else None
    if not em and isinstance(envelope.get("em"), str):
        em = envelope["em"]
    try:
        plaintext = decrypt_message(envelope["data"], access_secret, em)
    except CryptoError as exc:
        raise DecodeError(f"cannot decrypt the message data: {exc}", payload, properties) from exc
    try:
        body = json.loads(plaintext)
    except (ValueError, RecursionError):
        raise DecodeError("the decrypted data is not JSON", payload, properties) from None
    if not isinstance(body, dict):
        raise DecodeError(
            f"the decrypted data is a JSON {type(body).__name__}, not an object", payload, properties
        )
    try:
        return _build(envelope, body, message_id)
    except Exception as exc:
        # Whatever a hostile or future body trips over in structuring (wrong types, absurd timestamps), the
        # contract is one typed error that keeps the payload for the dead-letter sink.
        raise DecodeError(f"{_describe(body)}: {_short(exc)}", payload, properties) from exc


def _envelope(payload: bytes, properties: Mapping[str, str] | None) -> dict[str, Any]:
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise DecodeError(f"payload must be bytes, not {type(payload).__name__}", b"", properties)
    payload = bytes(payload)
    try:
        envelope = json.loads(payload)
    except (ValueError, RecursionError):
        raise DecodeError("the message is not a JSON envelope", payload, properties) from None
    if not isinstance(envelope, dict):
        raise DecodeError("the message is not a JSON object envelope", payload, properties)
    if not isinstance(envelope.get("data"), str):
        raise DecodeError("the envelope has no 'data' string", payload, properties)
    return envelope


def _build(envelope: Mapping[str, Any], body: dict[str, Any], message_id: str | None) -> Event:
    protocol = _protocol(envelope.get("protocol"))
    published_at = _optional_time(envelope.get("t"))
    if protocol == DEVICE_EVENT_PROTOCOL and isinstance(body.get("bizCode"), str):
        if body["bizCode"] == ENROLLMENT_BIZ_CODE:
            return _enrollment(protocol, published_at, body, message_id)
        return _device_event(protocol, published_at, body, message_id)
    if protocol == STATUS_REPORT_PROTOCOL and isinstance(body.get("status"), list):
        return _status_report(protocol, published_at, body, message_id)
    device_id = body.get("devId")
    return UnknownEvent(
        protocol=protocol,
        device_id=device_id if isinstance(device_id, str) else None,
        published_at=published_at,
        message_id=message_id,
        raw=body,
    )


def _enrollment(
    protocol: int, published_at: _dt.datetime | None, body: dict[str, Any], message_id: str | None
) -> EnrollmentProgress:
    biz_data = _biz_data(body)
    fields = {name: biz_data[key] for key, name in _ENROLLMENT_FIELDS.items() if key in biz_data}
    data = structure(fields, _EnrollmentData)
    timestamp = _optional_time(body.get("ts")) or published_at
    if timestamp is None:
        raise ValueError("neither 'ts' nor the envelope's 't' gives its time")
    return EnrollmentProgress(
        protocol=protocol,
        device_id=_device_id(body),
        published_at=published_at,
        message_id=message_id,
        raw=body,
        biz_data=biz_data,
        product_key=_optional_str(body.get("productKey")),
        uuid=_optional_str(body.get("uuid")),
        timestamp=timestamp,
        event=data.event,
        operate=data.operate,
        raised=data.raised,
        finish=data.finish,
        period=data.period,
        total_period=data.total_period,
    )


def _device_event(
    protocol: int, published_at: _dt.datetime | None, body: dict[str, Any], message_id: str | None
) -> DeviceEvent:
    return DeviceEvent(
        protocol=protocol,
        device_id=_device_id(body),
        published_at=published_at,
        message_id=message_id,
        raw=body,
        biz_code=body["bizCode"],
        biz_data=_biz_data(body),
        product_key=_optional_str(body.get("productKey")),
        timestamp=_optional_time(body.get("ts")),
        uuid=_optional_str(body.get("uuid")),
    )


def _status_report(
    protocol: int, published_at: _dt.datetime | None, body: dict[str, Any], message_id: str | None
) -> StatusReport:
    items = []
    for item in body["status"]:
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            raise ValueError("a status item is not an object with a 'code'")
        items.append(
            StatusItem(code=item["code"], value=item.get("value"), timestamp=_optional_time(item.get("t")))
        )
    data_id = body.get("dataId")
    return StatusReport(
        protocol=protocol,
        device_id=_device_id(body),
        published_at=published_at,
        message_id=message_id,
        raw=body,
        status=tuple(items),
        product_key=_optional_str(body.get("productKey")),
        data_id=None if data_id is None else str(data_id),
    )


def _protocol(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("'protocol' is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if value is None:
        return 0
    raise ValueError("'protocol' is not a number")


def _device_id(body: Mapping[str, Any]) -> str:
    device_id = body.get("devId")
    if not isinstance(device_id, str) or not device_id:
        raise ValueError("no 'devId'")
    return device_id


def _biz_data(body: Mapping[str, Any]) -> dict[str, Any]:
    biz_data = body.get("bizData", {})
    if not isinstance(biz_data, dict):
        raise ValueError("'bizData' is not an object")
    return biz_data


def _optional_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {type(value).__name__}")


def _optional_time(value: Any) -> _dt.datetime | None:
    if value is None or value == "":
        return None
    return from_epoch(value)


def _describe(body: Mapping[str, Any]) -> str:
    biz_code = body.get("bizCode")
    if isinstance(biz_code, str):
        return f"{biz_code[:64]} message of unexpected shape"
    return "message body of unexpected shape"


def _short(exc: Exception) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        text = "; ".join(cattrs.transform_error(exc, path="bizData"))
    else:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]

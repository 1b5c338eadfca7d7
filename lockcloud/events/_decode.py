"""Push message -> typed event: envelope, cipher chosen by ``em``, JSON body, model.

:class:`Decoder` keeps one :class:`~lockcloud.crypto.MessageCipher` per access secret (the one decrypt path of
push messages) and builds the public models straight from the JSON body, checking each field itself: no intermediate model, no generic converter.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping
from typing import Any

from lockcloud._core.converter import from_epoch, strict_bool
from lockcloud._core.errors import CryptoError, DecodeError
from lockcloud._core.wire import (
    DEVICE_EVENT_PROTOCOL,
    ENCRYPTION_PROPERTY,
    ENROLLMENT_BIZ_CODE,
    STATUS_REPORT_PROTOCOL,
)
from lockcloud.crypto import MessageCipher
from lockcloud.enums import EnrollmentOperation, UnlockMethodEvent
from lockcloud.events._models import (
    DeviceEvent,
    EnrollmentProgress,
    Event,
    StatusItem,
    StatusReport,
    UnknownEvent,
)
from lockcloud.events._registry import classify

__all__ = ["Decoder", "decode_message"]


_UTC = _dt.UTC


class Decoder:
    """Decodes the messages of one project (one access secret); reuse it, it keeps its cipher."""

    __slots__ = ("_access_secret", "_cipher")

    def __init__(self, access_secret: str) -> None:
        self._access_secret = access_secret
        self._cipher: MessageCipher | None = None

    def __repr__(self) -> str:
        return "Decoder(access_secret=<hidden>)"

    def decode(self, payload: bytes, properties: Mapping[str, str] | None, message_id: str | None) -> Event:
        """The event of one message; :class:`~lockcloud.DecodeError` (keeping payload and properties) if none."""
        envelope = _envelope(payload, properties)
        em = properties.get(ENCRYPTION_PROPERTY) if properties else None
        if not em and isinstance(envelope.get(ENCRYPTION_PROPERTY), str):
            em = envelope[ENCRYPTION_PROPERTY]
        try:
            plaintext = self._decrypt(envelope["data"], em)
        except CryptoError as exc:
            raise DecodeError(f"cannot decrypt the message data: {exc}", payload, properties) from exc
        try:
            body = _json(plaintext)
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

    def _decrypt(self, data: str, em: str | None) -> bytes:
        cipher = self._cipher
        if cipher is None:
            # Built on first use: a secret too short for the key is then a DecodeError that keeps the message.
            cipher = self._cipher = MessageCipher.for_secret(self._access_secret)
        return cipher.decrypt(data, em)


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
    return Decoder(access_secret).decode(payload, properties, None)


_decode_json = json.JSONDecoder().decode


def _json(data: bytes) -> Any:
    # UTF-8 text straight into the decoder: json.loads(bytes) first sniffs for UTF-16/32, which costs as much again
    # as decoding a short body. Anything not UTF-8 still gets that path.
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return json.loads(data)
    return _decode_json(text)


def _envelope(payload: bytes, properties: Mapping[str, str] | None) -> dict[str, Any]:
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise DecodeError(f"payload must be bytes, not {type(payload).__name__}", b"", properties)
    payload = bytes(payload)
    try:
        envelope = _json(payload)
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
    if "event" not in biz_data:
        raise _FieldError("required field missing @ bizData.event")
    total_period = biz_data.get("totalPeriod", biz_data.get("total_period"))
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
        event=_field(biz_data, "event", _unlock_method_event),
        operate=_optional_field(biz_data, "operate", _operation),
        raised=_flag(biz_data, "raised"),
        finish=_flag(biz_data, "finish"),
        period=_number(biz_data, "period"),
        total_period=_number_value("totalPeriod", total_period),
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
    # Lock reports (unlocks, alarms, door, battery) become their typed event; the registry says which.
    model, fields = classify(protocol, items)
    return model(
        **fields,
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
    if type(value) is int:
        # What Tuya sends (epoch milliseconds), without from_epoch's type checks; the same result.
        return _dt.datetime.fromtimestamp(value / 1000.0 if abs(value) >= 100_000_000_000 else value, tz=_UTC)
    if value is None or value == "":
        return None
    return from_epoch(value)


def _describe(body: Mapping[str, Any]) -> str:
    biz_code = body.get("bizCode")
    if isinstance(biz_code, str):
        return f"{biz_code[:64]} message of unexpected shape"
    return "message body of unexpected shape"


class _FieldError(ValueError):
    """A bizData field of the wrong shape; the message names it."""


def _field(biz_data: Mapping[str, Any], name: str, convert: Any) -> Any:
    return _checked(name, biz_data[name], convert)


def _optional_field(biz_data: Mapping[str, Any], name: str, convert: Any) -> Any:
    value = biz_data.get(name)
    return None if value is None else _checked(name, value, convert)


def _checked(name: str, value: Any, convert: Any) -> Any:
    try:
        return convert(value)
    except Exception as exc:
        raise _FieldError(
            f"invalid value for {type(value).__name__} @ bizData.{name}: {_short(exc)}"
        ) from exc


# The fast paths below take the values Tuya sends (JSON booleans, ints, known enum values) without a call into
# the generic checks; anything else goes through them, with the same result.
_EVENTS: dict[Any, UnlockMethodEvent] = dict(UnlockMethodEvent._value2member_map_)
_OPERATIONS: dict[Any, EnrollmentOperation] = dict(EnrollmentOperation._value2member_map_)


def _unlock_method_event(value: Any) -> UnlockMethodEvent:
    if type(value) is str:
        known = _EVENTS.get(value)
        if known is not None:
            return known
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return UnlockMethodEvent(value)


def _operation(value: Any) -> EnrollmentOperation:
    known = _OPERATIONS.get(value) if type(value) is int else None
    return known if known is not None else EnrollmentOperation(value)


def _flag(biz_data: Mapping[str, Any], name: str) -> bool | None:
    value = biz_data.get(name)
    if value is None or value is True or value is False:
        return value
    return _checked(name, value, strict_bool)  # type: ignore[no-any-return]


def _number(biz_data: Mapping[str, Any], name: str) -> int | None:
    return _number_value(name, biz_data.get(name))


def _number_value(name: str, value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    return _checked(name, value, _count)  # type: ignore[no-any-return]


def _count(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(f"expected an integer, got {type(value).__name__}")


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]

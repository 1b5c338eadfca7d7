"""Push message -> typed event: envelope, cipher chosen by ``em``, JSON body, model.

:class:`Decoder` keeps one :class:`~lockcloud.crypto.MessageCipher` per access secret (the one decrypt path of
push messages) and frames the JSON body by its protocol; the event registry says which typed event it is and reads
that event's own fields, each checked by hand (no intermediate model: this is the hot path of every stream).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from lockcloud._core.errors import CryptoError, DecodeError
from lockcloud._core.wire import DEVICE_EVENT_PROTOCOL, ENCRYPTION_PROPERTY, STATUS_REPORT_PROTOCOL
from lockcloud.crypto import MessageCipher
from lockcloud.events._fields import (
    biz_data,
    device_id,
    optional_str,
    optional_time,
    short,
)
from lockcloud.events._models import Event, StatusItem
from lockcloud.events._registry import REGISTRY, classify

__all__ = ["Decoder", "decode_message"]


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
            raise DecodeError(f"{_describe(body)}: {short(exc)}", payload, properties) from exc

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
    if type(payload) is not bytes:  # what every source hands over; anything else is checked, then copied
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
    published_at = optional_time(envelope.get("t"))
    framed = _FRAMES.get(protocol)
    event = None if framed is None else framed(protocol, published_at, body, message_id)
    if event is not None:
        return event
    # A protocol lockcloud does not know, or a body without what its protocol's messages have: kept whole.
    device_id = body.get("devId")
    return _UNKNOWN.model(
        protocol=protocol,
        device_id=device_id if isinstance(device_id, str) else None,
        published_at=published_at,
        message_id=message_id,
        raw=body,
    )


def _device_event(
    protocol: int, published_at: _dt.datetime | None, body: dict[str, Any], message_id: str | None
) -> Event | None:
    biz_code = body.get("bizCode")
    if not isinstance(biz_code, str):
        return None
    registration = REGISTRY.get((protocol, biz_code)) or _DEVICE_EVENTS
    data = body.get("bizData")
    if type(data) is not dict:
        data = biz_data(body)
    # The event's own fields first: a bizData of the wrong shape is named before a missing devId.
    own = registration.fields(data, body, published_at)
    # Strings as Tuya sends them are taken at once; anything else goes through its check.
    device, product_key, uuid = body.get("devId"), body.get("productKey"), body.get("uuid")
    if type(device) is not str or not device:
        device = device_id(body)
    if type(product_key) is not str:
        product_key = optional_str(product_key)
    if type(uuid) is not str:
        uuid = optional_str(uuid)
    model: Callable[..., Event] = registration.model
    return model(
        protocol=protocol,
        device_id=device,
        published_at=published_at,
        message_id=message_id,
        raw=body,
        biz_code=biz_code,
        biz_data=data,
        product_key=product_key,
        uuid=uuid,
        **own,
    )


def _status_report(
    protocol: int, published_at: _dt.datetime | None, body: dict[str, Any], message_id: str | None
) -> Event | None:
    status = body.get("status")
    if not isinstance(status, list):
        return None
    items = []
    for item in status:
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            raise ValueError("a status item is not an object with a 'code'")
        items.append(
            StatusItem(code=item["code"], value=item.get("value"), timestamp=optional_time(item.get("t")))
        )
    data_id = body.get("dataId")
    # Lock reports (unlocks, alarms, door, battery) become their typed event; the registry says which.
    model, fields = classify(protocol, items)
    build: Callable[..., Event] = model
    return build(
        **fields,
        protocol=protocol,
        device_id=device_id(body),
        published_at=published_at,
        message_id=message_id,
        raw=body,
        status=tuple(items),
        product_key=optional_str(body.get("productKey")),
        data_id=None if data_id is None else str(data_id),
    )


#: How each protocol's bodies are framed; the registry then says which event a framed message is.
_FRAMES: dict[int, Callable[[int, _dt.datetime | None, dict[str, Any], str | None], Event | None]] = {
    DEVICE_EVENT_PROTOCOL: _device_event,
    STATUS_REPORT_PROTOCOL: _status_report,
}

_UNKNOWN = REGISTRY[(None, None)]
_DEVICE_EVENTS = REGISTRY[(DEVICE_EVENT_PROTOCOL, None)]


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


def _describe(body: Mapping[str, Any]) -> str:
    biz_code = body.get("bizCode")
    if isinstance(biz_code, str):
        return f"{biz_code[:64]} message of unexpected shape"
    return "message body of unexpected shape"

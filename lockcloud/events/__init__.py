"""Tuya push messages as typed events, delivered at least once through async iterators.

* :func:`decode_message` turns one message into an event (:class:`EnrollmentProgress`, :class:`DeviceEvent`,
  :class:`StatusReport` or :class:`UnknownEvent`), or raises :class:`~lockcloud.DecodeError`.
* :class:`EventStream` (usually from ``LockCloud.events()``) consumes the project's Pulsar topic; its
  :meth:`~EventStream.subscribe` iterators let several consumers share it, each filtered by device or type.
* :func:`webhook_app` is an ASGI app feeding an ``EventStream.webhook(...)`` stream from HTTP POSTs.

``EventStream(transport="websocket")`` reads the same topic over Pulsar's WebSocket API (pure Python, no
pulsar-client). ``pulsar`` is imported only when a native stream opens a broker connection.
"""

from lockcloud.events._dead_letters import DeadLetterSink, DirectoryDeadLetters, MemoryDeadLetters
from lockcloud.events._decode import decode_message
from lockcloud.events._models import (
    DeadLetter,
    DeviceEvent,
    EnrollmentProgress,
    Event,
    StatusItem,
    StatusReport,
    StreamStats,
    UnknownEvent,
)
from lockcloud.events._stream import EventStream, Subscription
from lockcloud.events._webhook import WebhookApp, webhook_app

__all__ = [
    "DeadLetter",
    "DeadLetterSink",
    "DeviceEvent",
    "DirectoryDeadLetters",
    "EnrollmentProgress",
    "Event",
    "EventStream",
    "MemoryDeadLetters",
    "StatusItem",
    "StatusReport",
    "StreamStats",
    "Subscription",
    "UnknownEvent",
    "WebhookApp",
    "decode_message",
    "webhook_app",
]

"""Tuya push messages as typed events, delivered at least once through async iterators.

* :func:`decode_message` turns one message into an event (:class:`EnrollmentProgress`, :class:`DeviceEvent`,
  :class:`StatusReport` or :class:`UnknownEvent`), or raises :class:`~lockcloud.DecodeError`.
* :class:`EventStream` (usually from ``LockCloud.events()``) consumes the project's Pulsar topic; its
  :meth:`~EventStream.subscribe` iterators let several consumers share it, each filtered by device or type.
* :func:`webhook_app` is an ASGI app feeding an ``EventStream.webhook(...)`` stream from HTTP POSTs.
* :class:`RedisRelayForwarder` relays a listener's messages to a Redis stream that every web worker reads with
  ``EventStream.from_relay(...)`` (``lockcloud[redis]``; ``redis`` is imported on first use).

``pulsar`` is imported only when a stream opens a broker connection.
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
    "RedisRelayForwarder",
    "RelayStats",
    "StatusItem",
    "StatusReport",
    "StreamStats",
    "Subscription",
    "UnknownEvent",
    "WebhookApp",
    "decode_message",
    "webhook_app",
]


def __getattr__(name: str) -> object:
    # The relay needs the optional redis package: imported when first asked for.
    if name in ("RedisRelayForwarder", "RelayStats"):
        from lockcloud.events import _relay

        return getattr(_relay, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

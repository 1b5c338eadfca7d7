"""Tuya push messages as typed events, delivered at least once through async iterators.

* A :class:`Source` is where messages come from: :class:`PulsarSource` (Tuya's message service, what
  ``LockCloud.events()`` opens), :class:`WebSocketSource` (the same topic over Pulsar's WebSocket API,
  ``LockCloud.events(transport="websocket")``; pure Python), :class:`WebhookSource` (signed HTTP POSTs; senders
  sign with :func:`sign_webhook`), or :class:`RedisRelaySource` (what listeners relay to Redis with a
  :class:`RedisRelayForwarder`, for web workers; ``lockcloud[redis]``, ``redis`` is imported on first use).
* :class:`EventStream` delivers them: dedupe, decoding, dead letters, and fan-out to its own iterator and to
  :meth:`~EventStream.subscribe` iterators, each filtered by device or type, acknowledging each message once every
  recipient is done with it.
* :func:`decode_message` turns one message into an event (:class:`EnrollmentProgress`, :class:`DeviceEvent`,
  :class:`StatusReport` or :class:`UnknownEvent`), or raises :class:`~lockcloud.DecodeError`. Lock reports are
  typed by the :data:`REGISTRY`: :class:`LockUnlocked`, :class:`LockAlarm`, :class:`DoorStateChanged` and
  :class:`BatteryLevel` are status reports too, so ``stream.subscribe(LockAlarm)`` reads as it says.

``pulsar`` (the ``lockcloud[pulsar]`` extra) is imported only when a :class:`PulsarSource` opens; nothing else
needs it.
"""

from typing import TYPE_CHECKING

from lockcloud.events._dead_letters import (
    DeadLetterQuota,
    DeadLetterSink,
    DirectoryDeadLetters,
    MemoryDeadLetters,
)
from lockcloud.events._decode import Decoder, decode_message
from lockcloud.events._models import (
    BatteryLevel,
    DeadLetter,
    DeviceEvent,
    DoorStateChanged,
    EnrollmentProgress,
    Event,
    LockAlarm,
    LockUnlocked,
    StatusItem,
    StatusReport,
    StreamStats,
    UnknownEvent,
)
from lockcloud.events._options import EventsOptions, PushTransport, RelayForwarderOptions, RelaySettings
from lockcloud.events._pulsar import PlaintextPulsarWarning, PulsarOptions, PulsarSettings, PulsarSource
from lockcloud.events._registry import REGISTRY, Registration, registered_models
from lockcloud.events._source import Outcome, Source, SourceClosed, SourceMessage
from lockcloud.events._stream import EventStream, StreamOptions, Subscription
from lockcloud.events._subscription import SubscriptionOptions, SubscriptionSettings
from lockcloud.events._webhook import WebhookSource, generate_webhook_secret, sign_webhook
from lockcloud.events._websocket import WebSocketOptions, WebSocketSettings, WebSocketSource

if TYPE_CHECKING:
    from lockcloud.events._relay import RedisRelayForwarder as RedisRelayForwarder
    from lockcloud.events._relay import RedisRelaySource as RedisRelaySource
    from lockcloud.events._relay import RelayStats as RelayStats
    from lockcloud.events._relay import relay_key as relay_key

#: Served by the optional redis package, imported when first asked for (and left out of a star import).
_RELAY_NAMES = frozenset({"RedisRelayForwarder", "RedisRelaySource", "RelayStats", "relay_key"})

__all__ = [
    "REGISTRY",
    "BatteryLevel",
    "DeadLetter",
    "DeadLetterQuota",
    "DeadLetterSink",
    "Decoder",
    "DeviceEvent",
    "DirectoryDeadLetters",
    "DoorStateChanged",
    "EnrollmentProgress",
    "Event",
    "EventStream",
    "EventsOptions",
    "LockAlarm",
    "LockUnlocked",
    "MemoryDeadLetters",
    "Outcome",
    "PlaintextPulsarWarning",
    "PulsarOptions",
    "PulsarSettings",
    "PulsarSource",
    "PushTransport",
    "Registration",
    "RelayForwarderOptions",
    "RelaySettings",
    "Source",
    "SourceClosed",
    "SourceMessage",
    "StatusItem",
    "StatusReport",
    "StreamOptions",
    "StreamStats",
    "Subscription",
    "SubscriptionOptions",
    "SubscriptionSettings",
    "UnknownEvent",
    "WebSocketOptions",
    "WebSocketSettings",
    "WebSocketSource",
    "WebhookSource",
    "decode_message",
    "generate_webhook_secret",
    "registered_models",
    "sign_webhook",
]


def __getattr__(name: str) -> object:
    if name in _RELAY_NAMES:
        from lockcloud.events import _relay

        return getattr(_relay, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

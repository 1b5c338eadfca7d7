"""The keywords of ``LockCloud.events()`` and ``LockCloud.relay_forwarder()``, in typed dictionaries.

``LockCloud.events()`` takes the stream's options and one source's: the native Pulsar source's (the default), the
WebSocket source's (``transport="websocket"``), or with ``relay=`` the Redis relay's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from lockcloud._core.errors import ValidationError
from lockcloud.events._pulsar import PulsarOptions, PulsarSettings, PulsarSource
from lockcloud.events._source import SourceMessage
from lockcloud.events._stream import EventStream, StreamOptions
from lockcloud.events._subscription import keywords, pulsar_client_keywords
from lockcloud.events._websocket import WebSocketOptions, WebSocketSettings, WebSocketSource

if TYPE_CHECKING:
    from lockcloud.events._relay import RedisRelayForwarder

__all__ = [
    "EventsOptions",
    "PushTransport",
    "RelayForwarderOptions",
    "RelaySettings",
    "events_stream",
    "pulsar_stream",
    "relay_forwarder",
    "websocket_stream",
]

PushTransport = Literal["pulsar", "websocket"]


class RelaySettings(TypedDict, total=False):
    """The keywords of ``LockCloud.events()`` that read the Redis relay instead of the message service.

    ``relay`` is the Redis URL the listeners forward to (``lockcloud listen --relay``); ``relay_group`` and
    ``relay_start`` are :class:`~lockcloud.events.RedisRelaySource`'s ``group`` and ``start``.
    """

    relay: str
    relay_group: str | None
    relay_start: str


class EventsOptions(PulsarSettings, WebSocketSettings, RelaySettings, StreamOptions, total=False):
    """Every keyword ``LockCloud.events()`` takes (a misspelt one is a type error).

    ``transport`` picks the source: ``"pulsar"`` (the default; Pulsar's own protocol, needs ``lockcloud[pulsar]``)
    or ``"websocket"`` (Pulsar's WebSocket API, pure Python). Both take the keywords of
    :class:`~lockcloud.events.SubscriptionSettings`; those only :class:`WebSocketSettings` has belong to the
    WebSocket transport, and ``receive_window`` and ``operation_timeout`` to the native one (each raises
    :class:`~lockcloud.ValidationError` with the other); ``pulsar_log_level`` / ``pulsar_log_file`` set
    pulsar-client's log and are ignored over WebSocket, where pulsar-client is not used. With ``relay`` the stream
    reads Redis, and neither transport's keywords apply.
    """

    transport: PushTransport


class RelayForwarderOptions(PulsarSettings, total=False):
    """The keywords of ``LockCloud.relay_forwarder()``: the Pulsar source's, and the forwarder's own (see
    :class:`~lockcloud.events.RedisRelayForwarder`)."""

    key: str | None
    maxlen: int
    max_entry_bytes: int
    redis_timeout: float
    retry_delay: float
    max_retry_delay: float
    close_timeout: float
    on_relayed: Callable[[SourceMessage], None] | None


# Each keyword of a source, to the field of its options it sets (see lockcloud/events/_subscription.py).
_PULSAR_FIELDS = keywords(PulsarOptions)
_WEBSOCKET_FIELDS = keywords(WebSocketOptions)
_PULSAR_ONLY = frozenset(_PULSAR_FIELDS) - frozenset(_WEBSOCKET_FIELDS)
_WEBSOCKET_ONLY = frozenset(_WEBSOCKET_FIELDS) - frozenset(_PULSAR_FIELDS)
# pulsar-client's own settings: meaningless over WebSocket, where pulsar-client is not used, so ignored there.
_PULSAR_CLIENT = pulsar_client_keywords(PulsarOptions)
_RELAY_KEYS = frozenset(RelaySettings.__annotations__)


def events_stream(access_id: str, access_secret: str, options: EventsOptions) -> EventStream:
    """An :class:`EventStream` over the source the keywords name (``relay``, else ``transport``)."""
    settings = dict(options)
    if settings.get("relay") is not None:
        if "transport" in settings:
            raise ValidationError("transport= and relay= name two different sources: pass one of them")
        return _relay_stream(access_id, access_secret, settings)
    transport = settings.pop("transport", "pulsar")
    if transport == "websocket":
        return websocket_stream(access_id, access_secret, settings)  # type: ignore[arg-type]
    if transport != "pulsar":
        raise ValidationError(f"transport must be 'pulsar' or 'websocket', not {transport!r}")
    return pulsar_stream(access_id, access_secret, settings)  # type: ignore[arg-type]


def _refuse_relay_keys(name: str) -> None:
    if name in _RELAY_KEYS:
        raise ValidationError(f"{name} needs relay= (the Redis URL to read)")


def _pulsar_source(access_id: str, access_secret: str, pulsar: dict[str, Any]) -> PulsarSource:
    options = {_PULSAR_FIELDS[name]: value for name, value in pulsar.items()}
    return PulsarSource(PulsarOptions(access_id=access_id, access_secret=access_secret, **options))


def pulsar_stream(access_id: str, access_secret: str, options: EventsOptions) -> EventStream:
    """An :class:`EventStream` over a :class:`PulsarSource` on the project's topic, from the flat keywords."""
    pulsar: dict[str, Any] = {}
    stream: dict[str, Any] = {}
    for name, value in options.items():
        _refuse_relay_keys(name)
        if name in _WEBSOCKET_ONLY:
            raise ValidationError(f"{name} is an option of transport='websocket'")
        if name in _PULSAR_FIELDS:
            pulsar[name] = value
        else:
            stream[name] = value
    return EventStream(_pulsar_source(access_id, access_secret, pulsar), access_secret, **stream)


def websocket_stream(access_id: str, access_secret: str, options: EventsOptions) -> EventStream:
    """An :class:`EventStream` over a :class:`WebSocketSource` on the project's topic, from the flat keywords."""
    websocket: dict[str, Any] = {}
    stream: dict[str, Any] = {}
    for name, value in options.items():
        _refuse_relay_keys(name)
        if name in _PULSAR_CLIENT:
            continue
        if name in _PULSAR_ONLY:
            raise ValidationError(f"{name} is an option of the native transport (transport='pulsar')")
        if name in _WEBSOCKET_FIELDS:
            websocket[_WEBSOCKET_FIELDS[name]] = value
        else:
            stream[name] = value
    source = WebSocketSource(WebSocketOptions(access_id=access_id, access_secret=access_secret, **websocket))
    return EventStream(source, access_secret, **stream)


def _relay_stream(access_id: str, access_secret: str, options: dict[str, Any]) -> EventStream:
    from lockcloud.events._relay import RedisRelaySource

    relay: dict[str, Any] = {}
    stream: dict[str, Any] = {}
    for name, value in options.items():
        if name in _PULSAR_FIELDS or name in _WEBSOCKET_FIELDS:
            raise ValidationError(
                f"{name} is a push transport's option; a stream with relay= reads Redis instead"
            )
        if name in _RELAY_KEYS:
            relay[name] = value
        else:
            stream[name] = value
    source = RedisRelaySource(
        relay["relay"],
        access_id,
        access_secret=access_secret,
        group=relay.get("relay_group"),
        start=relay.get("relay_start", "$"),
    )
    return EventStream(source, access_secret, **stream)


def relay_forwarder(
    access_id: str, access_secret: str, relay_url: str, options: RelayForwarderOptions
) -> RedisRelayForwarder:
    """A :class:`~lockcloud.events.RedisRelayForwarder` of the project's Pulsar subscription, from flat keywords."""
    from lockcloud.events._relay import RedisRelayForwarder

    pulsar: dict[str, Any] = {}
    forwarder: dict[str, Any] = {}
    for name, value in options.items():
        (pulsar if name in _PULSAR_FIELDS else forwarder)[name] = value
    source = _pulsar_source(access_id, access_secret, pulsar)
    return RedisRelayForwarder(source, relay_url, access_id, access_secret=access_secret, **forwarder)

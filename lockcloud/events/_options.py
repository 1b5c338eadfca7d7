"""The keywords of ``LockCloud.events()``: both sources' and the stream's, in one typed dictionary."""

from __future__ import annotations

from typing import Any, Literal

from lockcloud._errors import ValidationError
from lockcloud.events._pulsar import PulsarOptions, PulsarSettings, PulsarSource
from lockcloud.events._stream import EventStream, StreamOptions
from lockcloud.events._websocket import WebSocketOptions, WebSocketSettings, WebSocketSource

__all__ = ["EventsOptions", "PushTransport", "events_stream", "pulsar_stream", "websocket_stream"]

PushTransport = Literal["pulsar", "websocket"]


class EventsOptions(PulsarSettings, WebSocketSettings, StreamOptions, total=False):
    """Every keyword ``LockCloud.events()`` takes (a misspelt one is a type error).

    ``transport`` picks the source: ``"pulsar"`` (the default; Pulsar's own protocol, needs ``lockcloud[pulsar]``)
    or ``"websocket"`` (Pulsar's WebSocket API, pure Python). The keywords of :class:`WebSocketSettings` belong to
    the WebSocket transport, ``receive_window`` and ``operation_timeout`` to the native one (each raises
    :class:`~lockcloud.ValidationError` with the other); ``pulsar_log_level`` / ``pulsar_log_file`` set
    pulsar-client's log and are ignored over WebSocket, where pulsar-client is not used.
    """

    transport: PushTransport


_PULSAR_KEYS = frozenset(PulsarSettings.__annotations__)
_WEBSOCKET_ONLY = frozenset(WebSocketSettings.__annotations__)
_PULSAR_ONLY = frozenset({"receive_window", "operation_timeout"})
_PULSAR_LOG = frozenset({"pulsar_log_level", "pulsar_log_file"})
_RENAMED = {"pulsar_log_level": "log_level", "pulsar_log_file": "log_file"}


def events_stream(access_id: str, access_secret: str, options: EventsOptions) -> EventStream:
    """An :class:`EventStream` over the source ``options["transport"]`` names, from the flat keywords."""
    settings = dict(options)
    transport = settings.pop("transport", "pulsar")
    if transport == "websocket":
        return websocket_stream(access_id, access_secret, settings)  # type: ignore[arg-type]
    if transport != "pulsar":
        raise ValidationError(f"transport must be 'pulsar' or 'websocket', not {transport!r}")
    return pulsar_stream(access_id, access_secret, settings)  # type: ignore[arg-type]


def pulsar_stream(access_id: str, access_secret: str, options: EventsOptions) -> EventStream:
    """An :class:`EventStream` over a :class:`PulsarSource` on the project's topic, from the flat keywords."""
    pulsar: dict[str, Any] = {}
    stream: dict[str, Any] = {}
    for name, value in options.items():
        if name in _WEBSOCKET_ONLY:
            raise ValidationError(f"{name} is an option of transport='websocket'")
        if name in _PULSAR_KEYS:
            pulsar[_RENAMED.get(name, name)] = value
        else:
            stream[name] = value
    source = PulsarSource(PulsarOptions(access_id=access_id, access_secret=access_secret, **pulsar))
    return EventStream(source, access_secret, **stream)


def websocket_stream(access_id: str, access_secret: str, options: EventsOptions) -> EventStream:
    """An :class:`EventStream` over a :class:`WebSocketSource` on the project's topic, from the flat keywords."""
    websocket: dict[str, Any] = {}
    stream: dict[str, Any] = {}
    for name, value in options.items():
        if name in _PULSAR_ONLY:
            raise ValidationError(f"{name} is an option of the native transport (transport='pulsar')")
        if name in _PULSAR_LOG:
            continue
        if name in _PULSAR_KEYS or name in _WEBSOCKET_ONLY:
            websocket[name] = value
        else:
            stream[name] = value
    source = WebSocketSource(WebSocketOptions(access_id=access_id, access_secret=access_secret, **websocket))
    return EventStream(source, access_secret, **stream)

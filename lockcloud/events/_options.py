"""The keywords of ``LockCloud.events()`` and ``LockCloud.relay_forwarder()``, in typed dictionaries.

``LockCloud.events()`` takes a Pulsar source's and its stream's options, or with ``relay=`` the Redis relay's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypedDict

from lockcloud._errors import ValidationError
from lockcloud.events._pulsar import PulsarOptions, PulsarSettings, PulsarSource
from lockcloud.events._source import SourceMessage
from lockcloud.events._stream import EventStream, StreamOptions

if TYPE_CHECKING:
    from lockcloud.events._relay import RedisRelayForwarder

__all__ = ["EventsOptions", "RelayForwarderOptions", "RelaySettings", "pulsar_stream", "relay_forwarder"]


class RelaySettings(TypedDict, total=False):
    """The keywords of ``LockCloud.events()`` that read the Redis relay instead of Pulsar.

    ``relay`` is the Redis URL the listeners forward to (``lockcloud listen --relay``); ``relay_group`` and
    ``relay_start`` are :class:`~lockcloud.events.RedisRelaySource`'s ``group`` and ``start``.
    """

    relay: str
    relay_group: str | None
    relay_start: str


class EventsOptions(PulsarSettings, RelaySettings, StreamOptions, total=False):
    """Every keyword ``LockCloud.events()`` takes (a misspelt one is a type error)."""


class RelayForwarderOptions(PulsarSettings, total=False):
    """The keywords of ``LockCloud.relay_forwarder()``: the Pulsar source's, and the forwarder's own (see
    :class:`~lockcloud.events.RedisRelayForwarder`)."""

    key: str | None
    maxlen: int
    redis_timeout: float
    retry_delay: float
    max_retry_delay: float
    close_timeout: float
    on_relayed: Callable[[SourceMessage], None] | None


_PULSAR_KEYS = frozenset(PulsarSettings.__annotations__)
_RELAY_KEYS = frozenset(RelaySettings.__annotations__)
_RENAMED = {"pulsar_log_level": "log_level", "pulsar_log_file": "log_file"}


def _pulsar_source(access_id: str, access_secret: str, pulsar: dict[str, Any]) -> PulsarSource:
    options = {_RENAMED.get(name, name): value for name, value in pulsar.items()}
    return PulsarSource(PulsarOptions(access_id=access_id, access_secret=access_secret, **options))


def pulsar_stream(access_id: str, access_secret: str, options: EventsOptions) -> EventStream:
    """An :class:`EventStream` over a :class:`PulsarSource` on the project's topic, from the flat keywords (or over
    a :class:`~lockcloud.events.RedisRelaySource` when ``relay`` is given)."""
    if options.get("relay") is not None:
        return _relay_stream(access_id, access_secret, options)
    pulsar: dict[str, Any] = {}
    stream: dict[str, Any] = {}
    for name, value in options.items():
        if name in _RELAY_KEYS:
            raise ValidationError(f"{name} needs relay= (the Redis URL to read)")
        if name in _PULSAR_KEYS:
            pulsar[name] = value
        else:
            stream[name] = value
    return EventStream(_pulsar_source(access_id, access_secret, pulsar), access_secret, **stream)


def _relay_stream(access_id: str, access_secret: str, options: EventsOptions) -> EventStream:
    from lockcloud.events._relay import RedisRelaySource

    relay: dict[str, Any] = {}
    stream: dict[str, Any] = {}
    for name, value in options.items():
        if name in _PULSAR_KEYS:
            raise ValidationError(f"{name} is a Pulsar option; a stream with relay= reads Redis, not Pulsar")
        if name in _RELAY_KEYS:
            relay[name] = value
        else:
            stream[name] = value
    source = RedisRelaySource(
        relay["relay"], access_id, group=relay.get("relay_group"), start=relay.get("relay_start", "$")
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
        (pulsar if name in _PULSAR_KEYS else forwarder)[name] = value
    source = _pulsar_source(access_id, access_secret, pulsar)
    return RedisRelayForwarder(source, relay_url, access_id, **forwarder)

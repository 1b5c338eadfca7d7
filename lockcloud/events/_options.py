"""The keywords of ``LockCloud.events()``: a Pulsar source's and its stream's, in one typed dictionary."""

from __future__ import annotations

from typing import Any

from lockcloud.events._pulsar import PulsarOptions, PulsarSettings, PulsarSource
from lockcloud.events._stream import EventStream, StreamOptions

__all__ = ["EventsOptions", "pulsar_stream"]


class EventsOptions(PulsarSettings, StreamOptions, total=False):
    """Every keyword ``LockCloud.events()`` takes (a misspelt one is a type error)."""


_PULSAR_KEYS = frozenset(PulsarSettings.__annotations__)
_RENAMED = {"pulsar_log_level": "log_level", "pulsar_log_file": "log_file"}


def pulsar_stream(access_id: str, access_secret: str, options: EventsOptions) -> EventStream:
    """An :class:`EventStream` over a :class:`PulsarSource` on the project's topic, from the flat keywords."""
    pulsar: dict[str, Any] = {}
    stream: dict[str, Any] = {}
    for name, value in options.items():
        if name in _PULSAR_KEYS:
            pulsar[_RENAMED.get(name, name)] = value
        else:
            stream[name] = value
    source = PulsarSource(PulsarOptions(access_id=access_id, access_secret=access_secret, **pulsar))
    return EventStream(source, access_secret, **stream)

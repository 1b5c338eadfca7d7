"""How lock data looks on screen and in ``--json`` documents."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.padding import Padding
from rich.table import Table

if TYPE_CHECKING:
    from lockcloud.events import DeviceEvent, EnrollmentProgress, Event, StatusReport
    from lockcloud.models import RemoteUnlockMethod, UnlockKey
    from lockcloud.resources.enrollment import EnrollmentResult

__all__ = [
    "describe_event",
    "event_document",
    "formatters",
    "key_row",
    "keys_table",
    "result_document",
    "switches_table",
]


def key_row(key: UnlockKey) -> dict[str, Any]:
    return {"unlock_no": key.unlock_no, "unlock_type": str(key.unlock_type.value), "hijack": key.hijack}


def keys_table(keys: Sequence[UnlockKey], *, indent: int = 4) -> Padding:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("key", justify="right")
    table.add_column("type")
    table.add_column("duress alarm")
    for key in keys:
        table.add_row(f"#{key.unlock_no}", str(key.unlock_type.value), "on" if key.hijack else "")
    if not keys:
        table.add_row("-", "(none)", "")
    # Not expanded: the padding would fill every row with spaces to the full width of the console (80 in a pipe).
    return Padding(table, (0, 0, 0, indent), expand=False)


def switches_table(methods: Sequence[RemoteUnlockMethod], *, indent: int = 2) -> Padding:
    from lockcloud.cli._errors import switch_name

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("switch")
    table.add_column("Tuya name")
    table.add_column("state")
    for method in methods:
        name = str(method.remote_unlock_type.value)
        table.add_row(switch_name(name), name, "on" if method.open else "off")
    if not methods:
        table.add_row("-", "(this lock lists no switches)", "")
    return Padding(table, (0, 0, 0, indent), expand=False)


def _enrollment(event: EnrollmentProgress) -> str:
    total = f" total={event.total_period}" if event.total_period is not None else ""
    operate = None if event.operate is None else int(event.operate)
    return (
        f"enrollment {event.event.value} operate={operate} raised={event.raised} "
        f"finish={event.finish} period={event.period}{total}"
    )


def _status(event: StatusReport) -> str:
    return "status " + ", ".join(f"{item.code}={item.value}" for item in event.status)


def _device_event(event: DeviceEvent) -> str:
    return f"event {event.biz_code} {dict(event.biz_data)}"


def _unknown(event: Event) -> str:
    return f"protocol {event.protocol} message"


@functools.cache
def formatters() -> Mapping[type[Event], Callable[[Any], str]]:
    """The line ``listen`` prints, for each event class of the registry (a test checks none is missing)."""
    from lockcloud.cli._history import LIVE_FORMATTERS
    from lockcloud.events import DeviceEvent, EnrollmentProgress, StatusReport, UnknownEvent

    return {
        EnrollmentProgress: _enrollment,
        DeviceEvent: _device_event,
        StatusReport: _status,
        UnknownEvent: _unknown,
        **LIVE_FORMATTERS,
    }


def describe_event(event: Event) -> str:
    table = formatters()
    # An event of a class the registry does not produce (a subclass of one of its own) reads as its nearest class.
    for cls in type(event).__mro__:
        formatter = table.get(cls)
        if formatter is not None:
            return formatter(event)
    return _unknown(event)


def event_document(event: Event) -> dict[str, Any]:
    return {
        "type": type(event).__name__,
        "protocol": event.protocol,
        "device_id": event.device_id,
        "message_id": event.message_id,
        "published_at": event.published_at.isoformat() if event.published_at else None,
        "body": dict(event.raw),
    }


def result_document(result: EnrollmentResult) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "device_id": result.device_id,
        "unlock_type": str(result.unlock_type.value),
        "total_period": result.total_period,
        "key": key_row(result.key) if result.key is not None else None,
        "reason": result.reason,
        "cancel_confirmed": result.cancel_confirmed,
    }

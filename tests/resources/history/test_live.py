"""Lock status reports as typed events: the registry, the decoder, the CLI's descriptions, and the live stream."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lockcloud import AlarmKind, BatteryState, DoorState, LockCloud, UnlockMethod, ValidationError
from lockcloud.cli._format import describe_event, formatters
from lockcloud.cli._history import LIVE_FORMATTERS
from lockcloud.enums import UnlockType
from lockcloud.events import (
    REGISTRY,
    BatteryLevel,
    DoorStateChanged,
    LockAlarm,
    LockUnlocked,
    StatusReport,
    decode_message,
    registered_models,
)
from lockcloud.sim import SimServer
from lockcloud.testing import PushBuilder

from support import ACCESS_SECRET

BUILD = PushBuilder(ACCESS_SECRET)


def _decode(status: dict[str, Any]) -> StatusReport:
    payload, properties = BUILD.encode(BUILD.status("lock-1", status))
    event = decode_message(payload, ACCESS_SECRET, properties)
    assert isinstance(event, StatusReport)
    return event


def test_every_registered_type_has_a_cli_description() -> None:
    missing = {model.__name__ for model in registered_models()} - {model.__name__ for model in formatters()}
    assert missing == set()
    lock_reports = {m for m in registered_models() if issubclass(m, StatusReport) and m is not StatusReport}
    assert lock_reports == {LockUnlocked, LockAlarm, DoorStateChanged, BatteryLevel}
    assert set(LIVE_FORMATTERS) == lock_reports


def test_the_registry_keys_by_protocol_and_code() -> None:
    assert REGISTRY[(4, "unlock_fingerprint")].model is LockUnlocked
    assert REGISTRY[(4, "hijack")].model is LockAlarm
    assert (20, "unlock_fingerprint") not in REGISTRY


@pytest.mark.parametrize(
    ("status", "model", "fields"),
    [
        ({"unlock_fingerprint": 3}, LockUnlocked, {"method": UnlockMethod.FINGERPRINT, "key_number": 3}),
        (
            {"unlock_temporary": 12},
            LockUnlocked,
            {"method": UnlockMethod.TEMPORARY_PASSWORD, "key_number": 12},
        ),
        ({"unlock_key": 1}, LockUnlocked, {"method": UnlockMethod.MECHANICAL_KEY, "duress": False}),
        (
            {"unlock_card": 2, "hijack": "unlock_card-02"},
            LockUnlocked,
            {"method": UnlockMethod.CARD, "key_number": 2, "duress": True},
        ),
        (
            {"hijack": "unlock_fingerprint-02"},
            LockAlarm,
            {"kind": AlarmKind.DURESS, "method": UnlockMethod.FINGERPRINT, "key_number": 2},
        ),
        ({"alarm_lock": "wrong_finger"}, LockAlarm, {"kind": AlarmKind.WRONG_FINGER, "method": None}),
        ({"doorbell": True}, LockAlarm, {"kind": AlarmKind.DOORBELL}),
        ({"closed_opened": "closed"}, DoorStateChanged, {"door": DoorState.CLOSED}),
        (
            {"residual_electricity": 15, "battery_state": "low"},
            BatteryLevel,
            {"percent": 15, "state": BatteryState.LOW},
        ),
        ({"battery_state": "medium"}, BatteryLevel, {"percent": None, "state": BatteryState.MEDIUM}),
    ],
)
def test_lock_reports_become_typed_events(
    status: dict[str, Any], model: type, fields: dict[str, Any]
) -> None:
    event = _decode(status)
    assert type(event) is model
    for name, value in fields.items():
        assert getattr(event, name) == value
    assert [item.code for item in event.status] == list(status)
    assert event.device_id == "lock-1"


def test_an_unknown_alarm_kind_stays_typed_with_its_raw_value() -> None:
    event = _decode({"alarm_lock": "lasers"})
    assert isinstance(event, LockAlarm)
    assert not event.kind.is_known
    assert event.kind.value == "lasers"


@pytest.mark.parametrize(
    "status",
    [
        {"switch": True},
        {"unlock_fingerprint": "three"},
        {"residual_electricity": 250},
        {"closed_opened": 1},
        {"alarm_lock": None},
        {"unlock_teleport": 3},
    ],
)
def test_other_and_malformed_reports_stay_plain_status_reports(status: dict[str, Any]) -> None:
    event = _decode(status)
    assert type(event) is StatusReport
    assert [(item.code, item.value) for item in event.status] == list(status.items())


def test_listen_describes_the_lock_events() -> None:
    assert describe_event(_decode({"unlock_fingerprint": 3})) == "unlocked by fingerprint #3"
    assert describe_event(_decode({"unlock_card": 2, "hijack": "unlock_card-02"})).endswith("DURESS")
    assert describe_event(_decode({"hijack": "unlock_fingerprint-02"})) == "ALARM duress (fingerprint #2)"
    assert describe_event(_decode({"alarm_lock": "lasers"})) == "ALARM lasers"
    assert describe_event(_decode({"closed_opened": "open"})) == "door open"
    assert describe_event(_decode({"residual_electricity": 15})) == "battery 15%"
    assert describe_event(_decode({"switch": True})) == "status switch=True"


async def test_the_simulated_lock_pushes_typed_events_on_the_stream(
    lockcloud_server: SimServer, lockcloud_client: LockCloud
) -> None:
    sim = lockcloud_server.simulator
    back = lockcloud_server.devices["back_door"]
    sim.lock(back).keys[3].hijack = True
    async with lockcloud_client.events(url=lockcloud_server.pulsar_url) as stream:
        unlocks = stream.subscribe(LockUnlocked, device_id=back)
        alerts = stream.subscribe((LockAlarm, BatteryLevel), device_id=back)
        doors = stream.subscribe(DoorStateChanged, device_id=back)
        sim.unlock_at_door(back, UnlockType.FINGERPRINT, 1)
        sim.unlock_at_door(back, UnlockType.CARD, 3)
        sim.drain_battery(back, 8)
        sim.close_door(back)
        await sim.drain_pushes()
        first, second = await _take(unlocks, 2)
        duress, battery, state, low = await _take(alerts, 4)
        opened, _, closed = await _take(doors, 3)
    assert (first.method, first.key_number, first.duress) == (UnlockMethod.FINGERPRINT, 1, False)
    assert (second.method, second.key_number) == (UnlockMethod.CARD, 3)
    assert isinstance(duress, LockAlarm)
    assert duress.is_duress
    assert (duress.method, duress.key_number) == (UnlockMethod.CARD, 3)
    assert isinstance(battery, BatteryLevel)
    assert battery.percent == 8
    assert isinstance(state, BatteryLevel)
    assert state.state is BatteryState.LOW
    assert isinstance(low, LockAlarm)
    assert low.kind is AlarmKind.LOW_BATTERY
    assert (opened.door, closed.door) == (DoorState.OPEN, DoorState.CLOSED)
    # The same happenings are in the lock's history.
    records = await lockcloud_client.history.records(back).collect()
    assert [record.alarm or record.method for record in records] == [
        AlarmKind.LOW_BATTERY,
        AlarmKind.DURESS,
        UnlockMethod.CARD,
        UnlockMethod.FINGERPRINT,
    ]


async def _take(subscription: Any, count: int) -> list[Any]:
    events = []
    for _ in range(count):
        event = await asyncio.wait_for(anext(subscription), 20)
        subscription.ack(event)
        events.append(event)
    return events


def test_the_push_builder_builds_registered_lock_reports() -> None:
    payload, properties = _encoded(BUILD.lock_report("lock-1", LockUnlocked, "unlock_card", 3))
    event = decode_message(payload, ACCESS_SECRET, properties)
    assert isinstance(event, LockUnlocked)
    assert (event.method, event.key_number) == (UnlockMethod.CARD, 3)
    with pytest.raises(ValidationError, match="not a code of DoorStateChanged"):
        BUILD.lock_report("lock-1", DoorStateChanged, "unlock_card", 3)


def _encoded(message: Any) -> tuple[bytes, dict[str, str]]:
    payload, properties = BUILD.encode(message)
    return payload, properties

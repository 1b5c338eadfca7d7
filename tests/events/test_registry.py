"""The event registry is the one list of push types: the decoder, the CLI, the simulator and ``PushBuilder`` all
cover every entry of it, and every event class the decoder can return is in it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import attrs
import pytest

from lockcloud import AlarmKind, DecodeError, UnlockMethod, ValidationError
from lockcloud._core.wire import DEVICE_EVENT_PROTOCOL
from lockcloud.cli._format import describe_event, formatters
from lockcloud.enums import UnlockMethodEvent
from lockcloud.events import (
    REGISTRY,
    DeviceEvent,
    EnrollmentProgress,
    Event,
    LockAlarm,
    Registration,
    StatusReport,
    UnknownEvent,
    decode_message,
    registered_models,
)
from lockcloud.events._registry import biz_data_wire, structured_fields
from lockcloud.sim._push import encode_push, event_push
from lockcloud.testing import PushBuilder

SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
BUILD = PushBuilder(SECRET, product_key="pk1", clock=lambda: 1_700_000_000_000)

ENTRIES = [pytest.param(r, id=f"{r.protocol}-{r.code}-{r.model.__name__}") for r in REGISTRY.values()]


@attrs.frozen
class _Lock:
    device_id: str = "sim-lock"
    product_key: str = "simpk"
    uuid: str = "sim-uuid"


def _decoded(payload: bytes, properties: dict[str, str]) -> Event:
    return decode_message(payload, SECRET, properties)


def _own(registration: Registration, event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in registration.example}


@pytest.mark.parametrize("registration", ENTRIES)
def test_every_entry_is_built_by_push_builder_and_decoded_back(registration: Registration) -> None:
    message = BUILD.event(registration.model, "lock-1", **registration.example)
    event = _decoded(*BUILD.encode(message))
    assert type(event) is registration.model
    # Read back, the event's own fields write the same wire form as the fields it was built from.
    assert registration.wire(_own(registration, event)) == registration.wire(registration.example)
    assert event.protocol == message.protocol


@pytest.mark.parametrize("registration", ENTRIES)
def test_every_entry_is_reached_by_its_own_code(registration: Registration) -> None:
    wire = registration.wire(registration.example)
    if registration.code is None:
        assert registration.code not in wire
    elif registration.protocol == DEVICE_EVENT_PROTOCOL:
        assert wire["bizCode"] == registration.code
    else:
        assert next(iter(wire)) == registration.code


@pytest.mark.parametrize("registration", ENTRIES)
def test_the_simulator_pushes_every_entry_the_same_way(registration: Registration) -> None:
    message = event_push(_Lock(), registration.model, 1_700_000_000_000, **registration.example)
    event = _decoded(*encode_push(message, SECRET))
    assert type(event) is registration.model
    assert registration.wire(_own(registration, event)) == registration.wire(registration.example)


@pytest.mark.parametrize("model", sorted(registered_models(), key=lambda m: m.__name__))
def test_every_registered_type_has_its_own_cli_formatter(model: type[Event]) -> None:
    assert model in formatters()
    example = next(r for r in REGISTRY.values() if r.model is model).example
    event = _decoded(*BUILD.encode(BUILD.event(model, "lock-1", **example)))
    line = describe_event(event)
    assert line == formatters()[model](event)
    assert line


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_every_event_class_of_lockcloud_is_registered() -> None:
    # A new event class the decoder could return must have its entry (and so a builder and a formatter).
    ours = {cls for cls in _subclasses(Event) if cls.__module__.startswith("lockcloud.")}
    assert ours - registered_models() == set()
    assert registered_models() <= ours


_BODIES: list[tuple[int, Any]] = [
    (20, {"bizCode": "online", "bizData": {"time": 1}, "devId": "d", "ts": 1_700_000_000_000}),
    (20, {"bizCode": "offline", "devId": "d"}),
    (20, {"bizCode": "somethingNew", "bizData": {"x": [1]}, "devId": "d"}),
    (20, {"devId": "d", "bizData": {}}),
    (4, {"devId": "d", "status": []}),
    (4, {"devId": "d", "status": [{"code": "unlock_card", "value": "x"}]}),
    (4, {"devId": "d"}),
    (7, {"devId": "d", "anything": True}),
    (0, {}),
]


@pytest.mark.parametrize(("protocol", "body"), _BODIES)
def test_whatever_decodes_is_a_registered_type_and_nothing_is_dropped(protocol: int, body: Any) -> None:
    event = _decoded(*BUILD.envelope(body, protocol=protocol))
    assert type(event) in registered_models()
    assert event.raw == body


def test_unknown_biz_codes_stay_device_events_and_unknown_protocols_unknown_events() -> None:
    online = _decoded(*BUILD.envelope(_BODIES[0][1], protocol=20))
    assert type(online) is DeviceEvent
    assert isinstance(online, DeviceEvent)
    assert (online.biz_code, dict(online.biz_data)) == ("online", {"time": 1})
    assert type(_decoded(*BUILD.envelope({"devId": "d"}, protocol=7))) is UnknownEvent
    assert type(_decoded(*BUILD.envelope({"devId": "d", "status": []}, protocol=4))) is StatusReport


@pytest.mark.parametrize(
    "body",
    [
        {"bizCode": "doorUnlockMethodStatus", "bizData": {"event": 5}, "devId": "d", "ts": 1},
        {"bizCode": "online", "bizData": [], "devId": "d"},
        {"bizCode": "online", "bizData": {}},
    ],
)
def test_a_malformed_registered_body_is_a_decode_error_that_keeps_the_payload(body: Any) -> None:
    payload, properties = BUILD.envelope(body, protocol=20)
    with pytest.raises(DecodeError) as caught:
        _decoded(payload, properties)
    assert caught.value.payload == payload


def test_push_builder_refuses_a_class_the_registry_does_not_produce() -> None:
    @attrs.frozen(kw_only=True)
    class Unregistered(DeviceEvent):
        pass

    with pytest.raises(ValidationError, match="'Unregistered' is no registered event type"):
        BUILD.event(Unregistered, "lock-1", biz_code="x")


def test_registry_entries_are_keyed_by_their_own_protocol_and_code() -> None:
    for key, registration in REGISTRY.items():
        assert key == (registration.protocol, registration.code)
    json.dumps([list(key) for key in REGISTRY])  # plain keys: what docs and tools can list


_ENROLLMENT_DATA = [
    {
        "event": "unlockMethodEntry",
        "operate": 1,
        "raised": True,
        "finish": False,
        "period": 3,
        "totalPeriod": 5,
    },
    {"event": "unlockMethodDelete", "operate": 2, "raised": False, "finish": True, "period": 0},
    {"event": "unlockMethodEntry", "period": "2", "total_period": "4", "raised": "true"},
    {"event": "somethingNew", "operate": 7},
    {"totalPeriod": 5, "event": "unlockMethodEntry"},
]


@pytest.mark.parametrize("data", _ENROLLMENT_DATA)
def test_the_hand_written_enrollment_reader_agrees_with_the_shared_converter(data: dict[str, Any]) -> None:
    # The hot reader is hand-written for speed; the converter's reading of the same bizData is the reference.
    entry = REGISTRY[(DEVICE_EVENT_PROTOCOL, "doorUnlockMethodStatus")]
    body = {"bizCode": "doorUnlockMethodStatus", "bizData": data, "devId": "d", "ts": 1_700_000_000_000}
    assert dict(entry.fields(data, body, None)) == dict(
        structured_fields(EnrollmentProgress)(data, body, None)
    )


def test_a_device_event_read_by_the_shared_converter_round_trips_through_its_wire() -> None:
    @attrs.frozen(kw_only=True)
    class DoorbellRang(DeviceEvent):
        at: dt.datetime
        volume: int | None = None
        tune: UnlockMethodEvent | None = None

    read, wire = structured_fields(DoorbellRang), biz_data_wire("doorbellRang")
    at = dt.datetime(2026, 12, 8, 9, 30, tzinfo=dt.UTC)
    part = wire({"at": at, "volume": 3, "tune": UnlockMethodEvent.ENTRY})
    assert part == {
        "bizCode": "doorbellRang",
        "bizData": {"at": 1_796_722_200_000, "volume": 3, "tune": "unlockMethodEntry"},
    }
    fields = read(part["bizData"], {"ts": 1_700_000_000_000}, None)
    assert fields == {
        "at": at,
        "volume": 3,
        "tune": UnlockMethodEvent.ENTRY,
        "timestamp": dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC),
    }
    with pytest.raises(ValueError, match=r"required field missing @ bizData\.at"):
        read({"volume": 3}, {}, None)
    with pytest.raises(ValueError, match=r"@ bizData\.volume"):
        read({"at": 1, "volume": "loud"}, {}, None)


@pytest.mark.parametrize(
    ("model", "fields", "message"),
    [
        (LockAlarm, {}, "LockAlarm needs the field 'kind'"),
        (LockAlarm, {"knid": AlarmKind.DOORBELL}, "LockAlarm has no field 'knid'"),
        (
            LockAlarm,
            {"kind": AlarmKind.DURESS, "method": UnlockMethod.CARD, "key_number": "two"},
            "cannot build LockAlarm",
        ),
    ],
)
def test_push_builder_names_a_missing_or_unknown_field(
    model: type[Event], fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        BUILD.event(model, "lock-1", **fields)

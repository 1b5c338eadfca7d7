"""The event registry is the one list of push types: the decoder, the CLI, the simulator and ``PushBuilder`` all
cover every entry of it, and every event class the decoder can return is in it."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from lockcloud import DecodeError, ValidationError
from lockcloud._core.wire import DEVICE_EVENT_PROTOCOL
from lockcloud.cli._format import describe_event, formatters
from lockcloud.events import (
    REGISTRY,
    DeviceEvent,
    Event,
    Registration,
    StatusReport,
    UnknownEvent,
    decode_message,
    registered_models,
)
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
    line = describe_event(_decoded(*BUILD.encode(BUILD.event(model, "lock-1", **example))))
    assert line == formatters()[model](_decoded(*BUILD.encode(BUILD.event(model, "lock-1", **example))))
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

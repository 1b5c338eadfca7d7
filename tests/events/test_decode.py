"""decode_message: envelope -> cipher by ``em`` -> JSON -> typed event; anything else is a DecodeError."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockcloud import DecodeError
from lockcloud.crypto import encrypt_message
from lockcloud.enums import EnrollmentOperation, UnlockMethodEvent
from lockcloud.events import (
    DeviceEvent,
    EnrollmentProgress,
    Event,
    StatusReport,
    UnknownEvent,
    decode_message,
    registered_models,
)


@pytest.mark.parametrize("em", ["aes_gcm", "aes_ecb", None])
def test_enrollment_progress_in_both_ciphers(push: Any, em: str | None) -> None:
    body = push.enrollment_body(3, totalPeriod=5)
    payload, properties = push.build.envelope(body, em=em)
    event = decode_message(payload, push.SECRET, properties)

    assert isinstance(event, EnrollmentProgress)
    assert event.device_id == "lock-1"
    assert event.event is UnlockMethodEvent.ENTRY
    assert event.operate is EnrollmentOperation.START
    assert event.raised is True
    assert event.finish is False
    assert event.period == 3
    assert event.total_period == 5
    assert event.uuid == "uuid-lock-1"
    assert event.product_key == "pk1"
    assert event.biz_code == "doorUnlockMethodStatus"
    assert event.timestamp == dt.datetime(2023, 11, 14, 22, 13, 20, 3000, tzinfo=dt.UTC)
    assert event.timestamp.tzinfo is dt.UTC
    assert event.published_at == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)
    assert event.protocol == 20
    assert event.raw == body


def test_total_period_is_none_when_the_message_lacks_it(push: Any) -> None:
    event = decode_message(push.enrollment(2), push.SECRET, {"em": "aes_gcm"})
    assert isinstance(event, EnrollmentProgress)
    assert event.total_period is None


def test_cancel_and_delete_values(push: Any) -> None:
    body = push.enrollment_body(0, operate=2, event="unlockMethodDelete", finish=True, raised=False)
    event = decode_message(push.envelope(body), push.SECRET, {"em": "aes_gcm"})
    assert isinstance(event, EnrollmentProgress)
    assert event.operate is EnrollmentOperation.CANCEL
    assert event.event is UnlockMethodEvent.DELETE
    assert event.finish is True


def test_unknown_enum_values_and_keys_flow_through(push: Any) -> None:
    body = push.enrollment_body(1, operate=7, event="unlockMethodFreeze", brandNew={"x": 1})
    body["someNewKey"] = "v"
    event = decode_message(push.envelope(body), push.SECRET, {"em": "aes_gcm"})
    assert isinstance(event, EnrollmentProgress)
    assert not event.event.is_known
    assert event.event == "unlockMethodFreeze"
    assert not event.operate.is_known
    assert event.operate == 7
    assert event.biz_data["brandNew"] == {"x": 1}
    assert event.raw["someNewKey"] == "v"


@pytest.mark.parametrize("pad", range(0, 33))
def test_ecb_unpads_every_plaintext_length(push: Any, pad: int) -> None:
    # The official SDK strips padding wrongly and breaks most lengths; every length must decode here.
    body = push.enrollment_body(1, note="x" * pad)
    event = decode_message(push.envelope(body, em="aes_ecb"), push.SECRET, {"em": "aes_ecb"})
    assert isinstance(event, EnrollmentProgress)
    assert event.biz_data["note"] == "x" * pad


def test_em_from_the_envelope_when_no_property(push: Any) -> None:
    document = json.loads(push.enrollment(1, em="aes_gcm"))
    document["em"] = "aes_gcm"
    event = decode_message(json.dumps(document).encode(), push.SECRET)
    assert isinstance(event, EnrollmentProgress)


def test_other_biz_code_is_a_generic_device_event(push: Any) -> None:
    body = {"bizCode": "online", "bizData": {"time": 1}, "devId": "d9", "ts": push.T0, "uuid": 42}
    event = decode_message(push.envelope(body), push.SECRET, {"em": "aes_gcm"})
    assert type(event) is DeviceEvent
    assert event.biz_code == "online"
    assert event.biz_data == {"time": 1}
    assert event.device_id == "d9"
    assert event.uuid == "42"


def test_protocol_4_is_a_status_report(push: Any) -> None:
    body = {
        "dataId": "abc",
        "devId": "lock-2",
        "productKey": "pk",
        "status": [
            {"code": "unlock_fingerprint", "value": 3, "t": push.T0},
            {"code": "battery", "value": 80},
        ],
    }
    event = decode_message(push.envelope(body, protocol=4), push.SECRET, {"em": "aes_gcm"})
    assert isinstance(event, StatusReport)
    assert event.device_id == "lock-2"
    assert [(item.code, item.value) for item in event.status] == [("unlock_fingerprint", 3), ("battery", 80)]
    assert event.status[0].timestamp == dt.datetime.fromtimestamp(push.T0 / 1000, dt.UTC)
    assert event.status[1].timestamp is None
    assert event.data_id == "abc"


@pytest.mark.parametrize(
    ("protocol", "body"),
    [(99, {"devId": "d", "anything": [1, 2]}), (20, {"devId": "d", "noBizCode": True}), (4, {"devId": "d"})],
)
def test_unknown_protocols_become_a_generic_event_with_the_raw_dict(
    push: Any, protocol: int, body: dict[str, Any]
) -> None:
    event = decode_message(push.envelope(body, protocol=protocol), push.SECRET, {"em": "aes_gcm"})
    assert type(event) is UnknownEvent
    assert event.raw == body
    assert event.protocol == protocol
    assert event.device_id == "d"


def _poison(push: Any) -> dict[str, tuple[bytes, dict[str, str]]]:
    good = push.enrollment(1)
    document = json.loads(good)
    return {
        "not json": (b"\xff\x00 not json", {"em": "aes_gcm"}),
        "json list": (b"[1, 2]", {}),
        "no data": (json.dumps({"protocol": 20}).encode(), {}),
        "bad base64": (json.dumps({**document, "data": "%%%not base64%%%"}).encode(), {"em": "aes_gcm"}),
        "wrong key gcm": (
            push.envelope(push.enrollment_body(1), secret=push.OTHER_SECRET),
            {"em": "aes_gcm"},
        ),
        "wrong key ecb": (
            push.envelope(push.enrollment_body(1), em="aes_ecb", secret=push.OTHER_SECRET),
            {"em": "aes_ecb"},
        ),
        "tampered tag": (push.build.tampered(good), {"em": "aes_gcm"}),
        "gcm read as ecb": (good, {}),
        "unknown em": (good, {"em": "rot13"}),
        "plaintext not json": (push.envelope(b"{not json"), {"em": "aes_gcm"}),
        "plaintext a list": (push.envelope([1, 2, 3]), {"em": "aes_gcm"}),
        "enrollment missing fields": (
            push.envelope(
                {"bizCode": "doorUnlockMethodStatus", "bizData": {"period": 3}, "devId": "d", "ts": 1}
            ),
            {"em": "aes_gcm"},
        ),
        "enrollment without device": (
            push.envelope({k: v for k, v in push.enrollment_body(1).items() if k != "devId"}),
            {"em": "aes_gcm"},
        ),
        "absurd timestamp": (push.envelope({**push.enrollment_body(1), "ts": 10**30}), {"em": "aes_gcm"}),
    }


@pytest.mark.parametrize(
    "case",
    [
        "not json",
        "json list",
        "no data",
        "bad base64",
        "wrong key gcm",
        "wrong key ecb",
        "tampered tag",
        "gcm read as ecb",
        "unknown em",
        "plaintext not json",
        "plaintext a list",
        "enrollment missing fields",
        "enrollment without device",
        "absurd timestamp",
    ],
)
def test_undecodable_payloads_raise_decode_error_with_the_payload(push: Any, case: str) -> None:
    payload, props = _poison(push)[case]
    with pytest.raises(DecodeError) as caught:
        decode_message(payload, push.SECRET, props)
    assert caught.value.payload == payload
    assert caught.value.properties == props
    assert caught.value.reason
    for text in (str(caught.value), repr(caught.value), caught.value.reason):
        assert push.SECRET not in text
        assert push.SECRET[8:24] not in text


def test_enrollment_shape_errors_name_the_fields(push: Any) -> None:
    payload, props = _poison(push)["enrollment missing fields"]
    with pytest.raises(DecodeError, match=r"required field missing @ bizData\.event"):
        decode_message(payload, push.SECRET, props)


def test_a_total_period_pushed_alone_decodes(push: Any) -> None:
    """The document: totalPeriod "will be pushed separately and only once"."""
    body = {
        "bizCode": "doorUnlockMethodStatus",
        "bizData": {"event": "unlockMethodEntry", "totalPeriod": 4},
        "devId": "d",
        "ts": 1_700_000_000_000,
    }
    event = decode_message(push.envelope(body), push.SECRET, {"em": "aes_gcm"})
    assert isinstance(event, EnrollmentProgress)
    assert event.total_period == 4
    assert (event.operate, event.raised, event.finish, event.period) == (None, None, None, None)


# -- fuzzing: only DecodeError may escape --------------------------------------------------------------------

_json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_json = st.recursive(
    _json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
_properties = st.dictionaries(st.sampled_from(["em", "x"]), st.sampled_from(["aes_gcm", "aes_ecb", "", "zz"]))
_fuzz = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_ENROLLMENT_KEYS = ["event", "operate", "raised", "finish", "period", "totalPeriod"]
_biz_data = st.dictionaries(st.sampled_from(_ENROLLMENT_KEYS), _json_leaf | _json, max_size=6)
_body = st.fixed_dictionaries(
    {},
    optional={
        "bizCode": st.sampled_from(["doorUnlockMethodStatus", "online", ""]) | _json,
        "bizData": _biz_data | _json,
        "devId": st.text(max_size=8) | _json,
        "ts": st.integers() | st.floats(allow_nan=False) | st.text(max_size=15) | _json,
        "uuid": _json,
        "productKey": _json,
        "status": st.lists(st.dictionaries(st.sampled_from(["code", "value", "t"]), _json), max_size=3)
        | _json,
        "dataId": _json,
    },
)


def _decodes_or_raises_decode_error(payload: bytes, secret: str, props: dict[str, str]) -> None:
    outcome: Event | DecodeError
    try:
        outcome = decode_message(payload, secret, props)
    except DecodeError as exc:
        outcome = exc
    if isinstance(outcome, DecodeError):
        assert outcome.payload == payload
    else:
        # Whatever the decoder returns is a class of the event registry (and so has a builder and a formatter).
        assert type(outcome) in registered_models()


@_fuzz
@given(payload=st.binary(max_size=300), props=_properties)
def test_fuzz_arbitrary_bytes(push: Any, payload: bytes, props: dict[str, str]) -> None:
    _decodes_or_raises_decode_error(payload, push.SECRET, props)


@_fuzz
@given(
    document=st.dictionaries(st.sampled_from(["data", "protocol", "t", "em", "pv"]), _json), props=_properties
)
def test_fuzz_envelopes(push: Any, document: dict[str, Any], props: dict[str, str]) -> None:
    _decodes_or_raises_decode_error(json.dumps(document).encode(), push.SECRET, props)


@_fuzz
@given(
    body=_body | _json,
    protocol=st.sampled_from([20, 4, 0, -1]) | _json,
    t=st.integers() | _json,
    em=st.sampled_from(["aes_gcm", "aes_ecb"]),
)
def test_fuzz_well_encrypted_bodies(push: Any, body: Any, protocol: Any, t: Any, em: str) -> None:
    data = encrypt_message(json.dumps(body).encode(), push.SECRET, em)
    payload = json.dumps({"data": data, "protocol": protocol, "t": t}).encode()
    _decodes_or_raises_decode_error(payload, push.SECRET, {"em": em})


def test_events_unstructure_to_plain_data_without_their_claim(push: Any) -> None:
    from lockcloud._core.converter import structure, unstructure

    event = decode_message(push.enrollment(2), push.SECRET, {"em": "aes_gcm"})
    plain = unstructure(event)
    json.dumps(plain)
    assert "claim" not in plain
    assert "_claim" not in plain
    assert structure(plain, EnrollmentProgress) == event

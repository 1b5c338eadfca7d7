"""Enums in both spellings and open to new values; models hide keys; validation messages."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from lockcloud._core import validation as check
from lockcloud._core.converter import structure
from lockcloud._core.errors import UnexpectedResponseError, ValidationError
from lockcloud.enums import (
    AlbumEventType,
    EnrollmentOperation,
    MediaFileType,
    PasswordType,
    RemoteUnlockType,
    RevokeReason,
    SpecialAttribute,
    StoragePlan,
    UnlockMethodEvent,
    UnlockType,
    UserType,
)
from lockcloud.models import AlbumEntry, MediaFile, PasswordTicket, decode_result

SPELLINGS = [
    (UnlockType.FINGERPRINT, "fingerprint", "unlock_fingerprint"),
    (UnlockType.PASSWORD, "password", "unlock_password"),
    (UnlockType.CARD, "card", "unlock_card"),
    (UnlockType.FACE, "face", "unlock_face"),
    (UnlockType.REMOTE_CONTROL, "remoteControl", "unlock_telecontrol_kit"),
    (UnlockType.HAND, "unlock_hand", "unlock_hand"),
    (UnlockType.FINGER_VEIN, "unlock_finger_vein", "unlock_finger_vein"),
]


@pytest.mark.parametrize(("member", "plain", "dp_code"), SPELLINGS)
def test_unlock_type_maps_both_spellings(member: UnlockType, plain: str, dp_code: str) -> None:
    assert UnlockType(plain) is member
    assert UnlockType(dp_code) is member
    assert member.plain == plain
    assert member.dp_code == dp_code
    assert member.is_known
    assert structure(dp_code, UnlockType) is member


def test_unknown_unlock_type_passes_through_both_spellings() -> None:
    iris = UnlockType("unlock_iris")
    assert not iris.is_known
    assert iris.plain == iris.dp_code == "unlock_iris"


@pytest.mark.parametrize(
    ("enum_cls", "values"),
    [
        (UserType, [1, 2]),
        (RevokeReason, [1, 2]),
        (MediaFileType, [1, 2]),
        (SpecialAttribute, [1, 2]),
        (EnrollmentOperation, [1, 2]),
        (RemoteUnlockType, ["remoteUnlockWithoutPwd", "remoteUnlockWithPwd"]),
        (PasswordType, ["ticket"]),
        (UnlockMethodEvent, ["unlockMethodEntry", "unlockMethodDelete"]),
        (
            StoragePlan,
            ["doorlock_cloud_storage_7day", "doorlock_cloud_storage_30day", "cloud_free_storage_3day"],
        ),
    ],
)
def test_documented_values_are_known_and_new_ones_kept(enum_cls: type[enum.Enum], values: list[Any]) -> None:
    assert sorted(m.value for m in enum_cls) == sorted(values)
    new = 99 if isinstance(values[0], int) else "somethingNew"
    member: Any = enum_cls(new)
    assert not member.is_known
    assert member.value == new


def test_models_hide_keys_in_repr() -> None:
    ticket = PasswordTicket(ticket_id="t", ticket_key="SECRET-TICKET", expire_time=1)
    media = MediaFile(file_url="https://h/x", file_key="SECRET-FILE")
    entry = AlbumEntry(event_type=AlbumEventType.REMOTE_UNLOCK, file_key="SF", media_key="SM")
    assert "SECRET-TICKET" not in repr(ticket)
    assert "SECRET-FILE" not in repr(media)
    assert "SF" not in repr(entry)
    assert "SM" not in repr(entry)


@pytest.mark.parametrize(
    ("file_url", "file_path", "expected"),
    [
        ("https://bucket.test", "/a.jpg", "https://bucket.test/a.jpg"),
        ("https://bucket.test/", "a.jpg", "https://bucket.test/a.jpg"),
        ("https://bucket.test/dir/a.jpg", "/dir/a.jpg", "https://bucket.test/dir/a.jpg"),
        ("https://bucket.test/a.jpg", None, "https://bucket.test/a.jpg"),
    ],
)
def test_media_download_url(file_url: str, file_path: str | None, expected: str) -> None:
    assert MediaFile(file_url=file_url, file_key="k", file_path=file_path).download_url == expected


def test_decode_result_names_fields_not_values() -> None:
    with pytest.raises(UnexpectedResponseError) as info:
        decode_result(
            {"ticket_key": "HIDDEN", "expire_time": "soon"}, PasswordTicket, method="POST", path="/p"
        )
    message = str(info.value)
    assert "ticket_id" in message
    assert "expire_time" in message
    assert "HIDDEN" not in message
    assert "soon" not in message
    assert b"HIDDEN" not in info.value.body
    assert info.value.__cause__ is None


@pytest.mark.parametrize("value", ["dev-1", "vdevo16232264458****", "6c362ac3c53fbd6f3ewqfa", "a.b"])
def test_device_id_accepts_real_ids(value: str) -> None:
    assert check.device_id(value) == value


def test_validation_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="device_id"):
        check.device_id("a/b")


@pytest.mark.parametrize("pin", ["12345a", "1234567", "00000", " 123456"])
def test_pin_messages_never_echo_the_pin(pin: str) -> None:
    with pytest.raises(ValidationError) as info:
        check.open_door_pin(pin)
    assert pin.strip() not in str(info.value)


def test_pin_of_any_length_when_unconstrained() -> None:
    assert check.pin("0123456789") == "0123456789"


def test_user_type_message_lists_choices() -> None:
    with pytest.raises(ValidationError, match="HOME_USER"):
        check.user_type(5)

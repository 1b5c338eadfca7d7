"""Every unlocking-method endpoint on the wire: method, path, query, body, decoding, validation, retry safety."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from lockcloud import (
    InvalidParameterError,
    OutcomeUnknownError,
    UnexpectedResponseError,
    ValidationError,
)
from lockcloud._client import LockCloud
from lockcloud.crypto import decrypt_password, encrypt_ticket_key
from lockcloud.enums import SpecialAttribute, UnlockType, UserType
from lockcloud.models import UnlockKey

DEVICE = "vdevo12454656abc"


# -- 1. assigned keys ----------------------------------------------------------------------------------------------


async def test_list_assigned_sends_path_and_plain_unlock_type(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    route = api.get(f"/v1.0/devices/{DEVICE}/door-lock/user-types/2/users/u-7/assigned-keys").respond(
        json=wire.ok(
            {
                "unlock_keys": [
                    {"unlock_no": 30, "unlock_type": "card", "hijack": True},
                    {"unlock_no": 31, "unlock_type": "fingerprint", "hijack": False},
                ]
            }
        )
    )
    keys = await cloud.unlock_methods.list_assigned(
        DEVICE, "u-7", UserType.NON_HOME_USER, unlock_type="unlock_card"
    )
    assert route.call_count == 1
    assert wire.sent_query(route) == {"unlock_type": "card"}
    assert route.calls.last.request.content == b""
    assert keys == [
        UnlockKey(unlock_no=30, unlock_type=UnlockType.CARD, hijack=True),
        UnlockKey(unlock_no=31, unlock_type=UnlockType.FINGERPRINT, hijack=False),
    ]


async def test_list_assigned_without_filter_sends_no_query(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    route = api.get(f"/v1.0/devices/{DEVICE}/door-lock/user-types/1/users/u-7/assigned-keys").respond(
        json=wire.ok({"unlock_keys": []})
    )
    assert await cloud.unlock_methods.list_assigned(DEVICE, "u-7", 1) == []
    assert route.calls.last.request.url.query == b""


@pytest.mark.parametrize(
    "result",
    [
        {"unlockKeys": [{"unlockNo": 5, "unlockType": "remoteControl", "hijack": False}]},
        [{"unlock_no": 5, "unlock_type": "unlock_telecontrol_kit"}],
    ],
    ids=["camelCase", "bare-list"],
)
async def test_list_assigned_other_shapes(
    cloud: LockCloud, api: respx.MockRouter, wire: Any, result: Any
) -> None:
    api.get(f"/v1.0/devices/{DEVICE}/door-lock/user-types/2/users/u/assigned-keys").respond(
        json=wire.ok(result)
    )
    [key] = await cloud.unlock_methods.list_assigned(DEVICE, "u", 2)
    assert key.unlock_no == 5
    assert key.unlock_type is UnlockType.REMOTE_CONTROL


async def test_list_assigned_keeps_unknown_unlock_types(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.get(f"/v1.0/devices/{DEVICE}/door-lock/user-types/2/users/u/assigned-keys").respond(
        json=wire.ok({"unlock_keys": [{"unlock_no": 9, "unlock_type": "iris", "extra": 1}]})
    )
    [key] = await cloud.unlock_methods.list_assigned(DEVICE, "u", 2)
    assert key.unlock_type == "iris"
    assert not key.unlock_type.is_known


async def test_list_assigned_malformed_result(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    api.get(f"/v1.0/devices/{DEVICE}/door-lock/user-types/2/users/u/assigned-keys").respond(
        json=wire.ok({"unlock_keys": [{"unlock_type": "card"}]})
    )
    with pytest.raises(UnexpectedResponseError, match="unlock_no"):
        await cloud.unlock_methods.list_assigned(DEVICE, "u", 2)


async def test_list_assigned_null_result(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    api.get(f"/v1.0/devices/{DEVICE}/door-lock/user-types/2/users/u/assigned-keys").respond(
        json=wire.ok(None)
    )
    assert await cloud.unlock_methods.list_assigned(DEVICE, "u", 2) == []


# -- 2. unassigned keys --------------------------------------------------------------------------------------------


async def test_list_unassigned(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.get(f"/v1.0/devices/{DEVICE}/door-lock/unassigned-keys").respond(
        json=wire.ok({"unlock_keys": [{"unlock_no": 2, "unlock_type": "card"}]})
    )
    keys = await cloud.unlock_methods.list_unassigned(DEVICE, unlock_type=UnlockType.CARD)
    assert wire.sent_query(route) == {"unlock_type": "card"}
    assert keys == [UnlockKey(unlock_no=2, unlock_type=UnlockType.CARD, hijack=None)]


async def test_list_unassigned_remote_control_spelling(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    route = api.get(f"/v1.0/devices/{DEVICE}/door-lock/unassigned-keys").respond(
        json=wire.ok({"unlock_keys": []})
    )
    await cloud.unlock_methods.list_unassigned(DEVICE, unlock_type="unlock_telecontrol_kit")
    assert wire.sent_query(route) == {"unlock_type": "remoteControl"}


# -- 3. sync -------------------------------------------------------------------------------------------------------


async def test_sync_is_post_with_comma_joined_dp_codes(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    route = api.post(f"/v1.0/smart-lock/devices/{DEVICE}/opmodes/actions/sync").respond(json=wire.ok(True))
    ok = await cloud.unlock_methods.sync(
        DEVICE, [UnlockType.FINGERPRINT, "card", "unlock_hand", "fingerprint"]
    )
    assert ok is True
    assert route.calls.last.request.method == "POST"
    assert wire.sent_query(route) == {"codes": "unlock_fingerprint,unlock_card,unlock_hand"}
    assert route.calls.last.request.content == b""


async def test_sync_all(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.post(f"/v1.0/smart-lock/devices/{DEVICE}/opmodes/actions/sync").respond(json=wire.ok(False))
    assert await cloud.unlock_methods.sync(DEVICE) is False
    assert route.calls.last.request.url.query == b""


async def test_sync_single_code_string(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.post(f"/v1.0/smart-lock/devices/{DEVICE}/opmodes/actions/sync").respond(json=wire.ok(True))
    await cloud.unlock_methods.sync(DEVICE, "unlock_face")
    assert wire.sent_query(route) == {"codes": "unlock_face"}


async def test_sync_is_replayed_after_a_timeout(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.post(f"/v1.0/smart-lock/devices/{DEVICE}/opmodes/actions/sync")
    route.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(200, json=wire.ok(True))]
    assert await cloud.unlock_methods.sync(DEVICE) is True
    assert route.call_count == 2


# -- 4. enroll -----------------------------------------------------------------------------------------------------


async def test_enroll_body(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.put(f"/v1.0/devices/{DEVICE}/door-lock/actions/entry").respond(json=wire.ok(True))
    assert (
        await cloud.unlock_methods.enroll(DEVICE, "000xxxwsn", UserType.NON_HOME_USER, "unlock_card") is True
    )
    assert wire.sent_json(route) == {"user_id": "000xxxwsn", "user_type": 2, "unlock_type": "card"}
    assert route.calls.last.request.url.query == b""


async def test_enroll_remote_control_plain_spelling(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    route = api.put(f"/v1.0/devices/{DEVICE}/door-lock/actions/entry").respond(json=wire.ok(True))
    await cloud.unlock_methods.enroll(DEVICE, "u", 1, UnlockType.REMOTE_CONTROL)
    assert wire.sent_json(route)["unlock_type"] == "remoteControl"


async def test_enroll_password_with_pin_uses_a_fresh_ticket(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    key = b"fedcba9876543210"
    ticket = api.post(f"/v1.0/smart-lock/devices/{DEVICE}/password-ticket").respond(
        json=wire.ok(
            {
                "ticket_id": "T-1",
                "ticket_key": encrypt_ticket_key(key, wire.ACCESS_SECRET),
                "expire_time": 300,
            }
        )
    )
    entry = api.put(f"/v1.0/devices/{DEVICE}/door-lock/actions/entry").respond(json=wire.ok(True))
    await cloud.unlock_methods.enroll(DEVICE, "u", 2, "password", pin="8642")
    assert ticket.call_count == 1
    body = wire.sent_json(entry)
    assert body["password_type"] == "ticket"
    assert body["ticket_id"] == "T-1"
    assert body["unlock_type"] == "password"
    assert decrypt_password(body["password"], key) == "8642"
    assert "8642" not in entry.calls.last.request.content.decode()


async def test_enroll_is_never_replayed(cloud: LockCloud, api: respx.MockRouter) -> None:
    route = api.put(f"/v1.0/devices/{DEVICE}/door-lock/actions/entry").mock(
        side_effect=httpx.ReadTimeout("lost")
    )
    with pytest.raises(OutcomeUnknownError):
        await cloud.unlock_methods.enroll(DEVICE, "u", 2, "card")
    assert route.call_count == 1


async def test_enroll_api_error(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    api.put(f"/v1.0/devices/{DEVICE}/door-lock/actions/entry").respond(
        json=wire.failure(1109, "param illegal")
    )
    with pytest.raises(InvalidParameterError) as info:
        await cloud.unlock_methods.enroll(DEVICE, "u", 2, "card")
    assert info.value.code == 1109


# -- 5. delete -----------------------------------------------------------------------------------------------------


async def test_delete(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.delete(
        f"/v1.0/devices/{DEVICE}/door-lock/user-types/2/users/xxxx/unlock-types/fingerprint/keys/30"
    ).respond(json=wire.ok(True))
    assert await cloud.unlock_methods.delete(DEVICE, "xxxx", 2, "unlock_fingerprint", 30) is True
    assert route.calls.last.request.content == b""
    assert route.calls.last.request.url.query == b""


async def test_delete_is_replayed(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.delete(f"/v1.0/devices/{DEVICE}/door-lock/user-types/2/users/x/unlock-types/card/keys/1")
    route.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(200, json=wire.ok(True))]
    assert await cloud.unlock_methods.delete(DEVICE, "x", 2, "card", 1) is True
    assert route.call_count == 2


# -- 6. cancel enrollment ------------------------------------------------------------------------------------------


async def test_cancel_enrollment(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.put(f"/v1.0/devices/{DEVICE}/door-lock/unlock-types/card/actions/cancel").respond(
        json=wire.ok(True)
    )
    assert await cloud.unlock_methods.cancel_enrollment(DEVICE, "unlock_card") is True
    assert route.calls.last.request.content == b""


async def test_cancel_enrollment_is_replayed(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.put(f"/v1.0/devices/{DEVICE}/door-lock/unlock-types/face/actions/cancel")
    route.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(200, json=wire.ok(True))]
    assert await cloud.unlock_methods.cancel_enrollment(DEVICE, UnlockType.FACE) is True
    assert route.call_count == 2


# -- 7. rename -----------------------------------------------------------------------------------------------------


async def test_rename_sends_dp_code(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.put(f"/v1.0/devices/{DEVICE}/door-lock/opmodes/2").respond(json=wire.ok(True))
    assert await cloud.unlock_methods.rename(DEVICE, 2, "remoteControl", "Garage fob") is True
    assert wire.sent_json(route) == {"dp_code": "unlock_telecontrol_kit", "unlock_name": "Garage fob"}


# -- 8./9. duress alarm --------------------------------------------------------------------------------------------


async def test_set_duress_alarm(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.put(f"/v1.0/devices/{DEVICE}/door-lock/unlock-types/card/keys/130/hijack").respond(
        json=wire.ok(True)
    )
    assert await cloud.unlock_methods.set_duress_alarm(DEVICE, UnlockType.CARD, 130) is True
    assert route.calls.last.request.content == b""


async def test_remove_duress_alarm_uses_dp_code(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.delete(
        f"/v1.0/smart-lock/devices/{DEVICE}/unlock-types/unlock_fingerprint/keys/1/hijack"
    ).respond(json=wire.ok(True))
    assert await cloud.unlock_methods.remove_duress_alarm(DEVICE, "fingerprint", 1) is True
    assert route.call_count == 1


# -- 10. special attribute -----------------------------------------------------------------------------------------


async def test_set_special_attribute(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.post(f"/v1.0/smart-lock/devices/{DEVICE}/opmodes/1234/attribute/2/opmode-attr").respond(
        json=wire.ok(True)
    )
    assert await cloud.unlock_methods.set_special_attribute(
        DEVICE, 1234, SpecialAttribute.PHOTO_CAPTURE, True
    )
    assert wire.sent_json(route) == {"enabled": True}


async def test_set_special_attribute_value_from_the_sample(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    # The document's sample request uses attribute 4, outside its own table.
    route = api.post(f"/v1.0/smart-lock/devices/{DEVICE}/opmodes/1234/attribute/4/opmode-attr").respond(
        json=wire.ok(True)
    )
    await cloud.unlock_methods.set_special_attribute(DEVICE, 1234, 4, False)
    assert wire.sent_json(route) == {"enabled": False}


# -- validation before anything is sent ----------------------------------------------------------------------------

BAD_PATH_PARTS = ["", "a/b", "a?b", "a#b", "a b", "a\tb", "..", "a..b", ".", "a%2Fb", "a\nb", 7, None]


def _unlock_method_calls(bad: Any) -> list[Callable[[LockCloud], Awaitable[Any]]]:
    return [
        lambda c: c.unlock_methods.list_assigned(bad, "u", 2),
        lambda c: c.unlock_methods.list_unassigned(bad),
        lambda c: c.unlock_methods.sync(bad),
        lambda c: c.unlock_methods.enroll(bad, "u", 2, "card"),
        lambda c: c.unlock_methods.delete(bad, "u", 2, "card", 1),
        lambda c: c.unlock_methods.cancel_enrollment(bad, "card"),
        lambda c: c.unlock_methods.rename(bad, 1, "card", "n"),
        lambda c: c.unlock_methods.set_duress_alarm(bad, "card", 1),
        lambda c: c.unlock_methods.remove_duress_alarm(bad, "card", 1),
        lambda c: c.unlock_methods.set_special_attribute(bad, 1, 1, True),
    ]


@pytest.mark.parametrize("bad", BAD_PATH_PARTS, ids=repr)
async def test_bad_device_id_is_rejected_before_sending(
    cloud: LockCloud, api: respx.MockRouter, bad: Any
) -> None:
    for call in _unlock_method_calls(bad):
        with pytest.raises(ValidationError, match="device_id"):
            await call(cloud)
    assert api.calls.call_count == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.unlock_methods.list_assigned("d", "u/x", 2),
        lambda c: c.unlock_methods.list_assigned("d", "u", 3),
        lambda c: c.unlock_methods.list_assigned("d", "u", True),
        lambda c: c.unlock_methods.list_assigned("d", "u", "2"),
        lambda c: c.unlock_methods.list_assigned("d", "u", 2, unlock_type="card?x=1"),
        lambda c: c.unlock_methods.list_unassigned("d", unlock_type=""),
        lambda c: c.unlock_methods.sync("d", []),
        lambda c: c.unlock_methods.sync("d", ["unlock card"]),
        lambda c: c.unlock_methods.enroll("d", "", 2, "card"),
        lambda c: c.unlock_methods.enroll("d", "u", 0, "card"),
        lambda c: c.unlock_methods.enroll("d", "u", 2, "../card"),
        lambda c: c.unlock_methods.enroll("d", "u", 2, "card", pin="1234"),
        lambda c: c.unlock_methods.enroll("d", "u", 2, "password", pin="12a4"),
        lambda c: c.unlock_methods.enroll("d", "u", 2, "password", pin=""),
        lambda c: c.unlock_methods.delete("d", "u", 2, "card", -1),
        lambda c: c.unlock_methods.delete("d", "u", 2, "card", "1"),
        lambda c: c.unlock_methods.delete("d", "u", 2, "card", True),
        lambda c: c.unlock_methods.cancel_enrollment("d", "ca/rd"),
        lambda c: c.unlock_methods.rename("d", 1, "card", "   "),
        lambda c: c.unlock_methods.rename("d", 1, "card", 5),
        lambda c: c.unlock_methods.rename("d", 1.5, "card", "n"),
        lambda c: c.unlock_methods.set_duress_alarm("d", "card", None),
        lambda c: c.unlock_methods.remove_duress_alarm("d", "card#", 1),
        lambda c: c.unlock_methods.set_special_attribute("d", 1, 0, True),
        lambda c: c.unlock_methods.set_special_attribute("d", 1, "1", True),
        lambda c: c.unlock_methods.set_special_attribute("d", 1, 1, "false"),
        lambda c: c.unlock_methods.set_special_attribute("d", -3, 1, True),
        lambda c: c.unlock_methods.set_special_attribute("d", 1, 10**40, True),
        lambda c: c.unlock_methods.set_special_attribute("d", 1, 2**31, True),
    ],
)
async def test_bad_arguments_are_rejected_before_sending(
    cloud: LockCloud, api: respx.MockRouter, call: Callable[[LockCloud], Awaitable[Any]]
) -> None:
    with pytest.raises(ValidationError):
        await call(cloud)
    assert api.calls.call_count == 0


async def test_pin_error_message_does_not_echo_the_pin(cloud: LockCloud, api: respx.MockRouter) -> None:
    with pytest.raises(ValidationError) as info:
        await cloud.unlock_methods.enroll("d", "u", 2, "password", pin="98765x")
    assert "98765" not in str(info.value)
    assert api.calls.call_count == 0

"""Every remote-unlock endpoint and flow on the wire, with retry safety and the switched-off diagnosis."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from lockcloud import (
    APIError,
    CryptoError,
    DeviceOfflineError,
    InvalidParameterError,
    OutcomeUnknownError,
    RemoteUnlockDisabledError,
    UnexpectedResponseError,
    ValidationError,
)
from lockcloud._client import LockCloud
from lockcloud.crypto import decrypt_password, encrypt_ticket_key
from lockcloud.enums import RemoteUnlockType, RevokeReason
from lockcloud.models import PasswordTicket, RemoteUnlockMethod

DEVICE = "vdevo153459260090544"
TICKET_PATH = f"/v1.0/smart-lock/devices/{DEVICE}/password-ticket"
OPEN_DOOR_PATH = f"/v1.0/devices/{DEVICE}/door-lock/open-door"
FREE_V10_PATH = f"/v1.0/devices/{DEVICE}/door-lock/password-free/open-door"
FREE_V11_PATH = f"/v1.1/devices/{DEVICE}/door-lock/password-free/open-door"
OPERATE_PATH = f"/v1.0/smart-lock/devices/{DEVICE}/password-free/door-operate"
SWITCHES_PATH = f"/v1.0/devices/{DEVICE}/door-lock/remote-unlocks"

# Tuya's password-ticket document: with its secret this ticket key hides "0123456789abcdef",
# and PIN 123456 encrypts to DOC_PIN_CIPHERTEXT.
DOC_TICKET_KEY = "E8EACE19C6075C139FE8452771A6CF7F9173247C8D56147E406EBA159F6E577A"
DOC_PIN_CIPHERTEXT = "0FCF43FCEBC5AC8B66C48F5CB7C25B02"
DOC_SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"  # the client's secret in conftest


def ticket_result(ticket_id: str, key: bytes | None = None, secret: str | None = None) -> dict[str, Any]:
    """A ticket; by default the documented one, whose key is 0123456789abcdef under the client's secret."""
    ticket_key = DOC_TICKET_KEY if key is None else encrypt_ticket_key(key, secret or DOC_SECRET)
    return {"ticket_id": ticket_id, "ticket_key": ticket_key, "expire_time": 300}


def switches(wire: Any, *, with_pwd: bool, without_pwd: bool) -> Any:
    return wire.ok(
        [
            {"remote_unlock_type": "remoteUnlockWithPwd", "open": with_pwd},
            {"remote_unlock_type": "remoteUnlockWithoutPwd", "open": without_pwd},
        ]
    )


# -- 11./12. switches ----------------------------------------------------------------------------------------------


async def test_list_methods_accepts_the_documented_object(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    route = api.get(SWITCHES_PATH).respond(
        json=wire.ok({"remote_unlock_type": "remoteUnlockWithPwd", "open": True})
    )
    methods = await cloud.remote_unlock.list_methods(DEVICE)
    assert methods == [RemoteUnlockMethod(remote_unlock_type=RemoteUnlockType.WITH_PASSWORD, open=True)]
    assert route.calls.last.request.url.query == b""


async def test_list_methods_accepts_a_list(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    api.get(SWITCHES_PATH).respond(json=switches(wire, with_pwd=False, without_pwd=True))
    methods = await cloud.remote_unlock.list_methods(DEVICE)
    assert [(m.remote_unlock_type, m.open) for m in methods] == [
        (RemoteUnlockType.WITH_PASSWORD, False),
        (RemoteUnlockType.WITHOUT_PASSWORD, True),
    ]


async def test_list_methods_camel_case_and_unknown_type(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.get(SWITCHES_PATH).respond(
        json=wire.ok([{"remoteUnlockType": "remoteUnlockWithFace", "open": False}])
    )
    [method] = await cloud.remote_unlock.list_methods(DEVICE)
    assert method.remote_unlock_type == "remoteUnlockWithFace"
    assert not method.remote_unlock_type.is_known


async def test_list_methods_is_replayed_after_timeout(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    route = api.get(SWITCHES_PATH)
    route.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(200, json=wire.ok([]))]
    assert await cloud.remote_unlock.list_methods(DEVICE) == []
    assert route.call_count == 2


async def test_set_method_enabled(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.post(f"/v1.0/devices/{DEVICE}/door-lock/remote-unlock/config").respond(json=wire.ok(True))
    assert await cloud.remote_unlock.set_method_enabled(DEVICE, "remoteUnlockWithPwd", True) is True
    assert wire.sent_json(route) == {"remote_unlock_type": "remoteUnlockWithPwd", "open": True}


async def test_set_method_enabled_is_replayed_as_a_switch_set(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    route = api.post(f"/v1.0/devices/{DEVICE}/door-lock/remote-unlock/config")
    route.side_effect = [httpx.ReadTimeout("slow"), httpx.Response(200, json=wire.ok(True))]
    await cloud.remote_unlock.set_method_enabled(DEVICE, RemoteUnlockType.WITHOUT_PASSWORD, False)
    assert route.call_count == 2
    assert wire.sent_json(route) == {"remote_unlock_type": "remoteUnlockWithoutPwd", "open": False}


# -- 18. ticket ----------------------------------------------------------------------------------------------------


async def test_get_password_ticket_decodes_the_sample(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    route = api.post(TICKET_PATH).respond(
        json=wire.ok(
            {
                "expire_time": 360,
                "ticket_id": "9wxxoLM",
                "ticket_key": "901CC35A67DA3429C38E9622xxxxx3EAE1CE333462356D257FD1D3E5C",
            }
        )
    )
    ticket = await cloud.remote_unlock.get_password_ticket(DEVICE)
    assert ticket.ticket_id == "9wxxoLM"
    assert ticket.expire_time == 360
    assert "901CC35A" not in repr(ticket)
    assert route.calls.last.request.content == b""


async def test_ticket_is_not_replayed(cloud: LockCloud, api: respx.MockRouter) -> None:
    route = api.post(TICKET_PATH).mock(side_effect=httpx.ReadTimeout("lost"))
    with pytest.raises(OutcomeUnknownError):
        await cloud.remote_unlock.get_password_ticket(DEVICE)
    assert route.call_count == 1


async def test_malformed_ticket_error_hides_the_key(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok({"ticket_key": "SECRETKEYHEX", "expire_time": 3}))
    with pytest.raises(UnexpectedResponseError, match="ticket_id") as info:
        await cloud.remote_unlock.get_password_ticket(DEVICE)
    assert b"SECRETKEYHEX" not in info.value.body
    assert "SECRETKEYHEX" not in str(info.value)


# -- 13. open door with a PIN --------------------------------------------------------------------------------------


async def test_open_door_flow_matches_the_protocol_vector(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    ticket = api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-1")))
    opened = api.post(OPEN_DOOR_PATH).respond(json=wire.ok(True))
    assert await cloud.remote_unlock.open_door(DEVICE, pin="123456") is True
    assert ticket.call_count == 1
    assert wire.sent_json(opened) == {
        "password": DOC_PIN_CIPHERTEXT,
        "password_type": "ticket",
        "ticket_id": "tk-1",
    }
    assert b"123456" not in opened.calls.last.request.content


async def test_open_door_uses_a_new_ticket_every_time(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    key_a, key_b = b"AAAAAAAAAAAAAAAA", b"BBBBBBBBBBBBBBBB"
    api.post(TICKET_PATH).mock(
        side_effect=[
            httpx.Response(200, json=wire.ok(ticket_result("tk-a", key_a, wire.ACCESS_SECRET))),
            httpx.Response(200, json=wire.ok(ticket_result("tk-b", key_b, wire.ACCESS_SECRET))),
        ]
    )
    opened = api.post(OPEN_DOOR_PATH).respond(json=wire.ok(True))
    await cloud.remote_unlock.open_door(DEVICE, pin="111111")
    await cloud.remote_unlock.open_door(DEVICE, pin="222222")
    body_a, body_b = (json.loads(call.request.content) for call in opened.calls)
    assert (body_a["ticket_id"], body_b["ticket_id"]) == ("tk-a", "tk-b")
    assert decrypt_password(body_a["password"], key_a) == "111111"
    assert decrypt_password(body_b["password"], key_b) == "222222"


async def test_open_door_timeout_is_not_replayed(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    ticket = api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-1")))
    opened = api.post(OPEN_DOOR_PATH).mock(side_effect=httpx.ReadTimeout("sent, no answer"))
    with pytest.raises(OutcomeUnknownError):
        await cloud.remote_unlock.open_door(DEVICE, pin="123456")
    assert opened.call_count == 1
    assert ticket.call_count == 1


async def test_open_door_http_500_without_envelope_is_outcome_unknown(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-1")))
    opened = api.post(OPEN_DOOR_PATH).respond(502, text="bad gateway")
    with pytest.raises(OutcomeUnknownError):
        await cloud.remote_unlock.open_door(DEVICE, pin="123456")
    assert opened.call_count == 1


async def test_open_door_busy_code_is_not_replayed(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-1")))
    api.get(SWITCHES_PATH).respond(json=switches(wire, with_pwd=True, without_pwd=True))
    opened = api.post(OPEN_DOOR_PATH).respond(json=wire.failure(1111, "system busy"))
    # Busy may be said after the lock acted: the outcome is unknown, and the unlock is not replayed.
    with pytest.raises(OutcomeUnknownError) as info:
        await cloud.remote_unlock.open_door(DEVICE, pin="123456")
    assert isinstance(info.value.__cause__, APIError)
    assert info.value.__cause__.code == 1111
    assert opened.call_count == 1


async def test_open_door_wrong_secret_is_a_crypto_error_and_nothing_is_opened(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-1", b"0123456789abcdef", "Z" * 32)))
    opened = api.post(OPEN_DOOR_PATH).respond(json=wire.ok(True))
    with pytest.raises(CryptoError):
        await cloud.remote_unlock.open_door(DEVICE, pin="123456")
    assert opened.call_count == 0


async def test_open_door_switched_off(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-1")))
    api.post(OPEN_DOOR_PATH).respond(json=wire.failure(2008, "command or value not support"))
    switches_route = api.get(SWITCHES_PATH).respond(json=switches(wire, with_pwd=False, without_pwd=True))
    with pytest.raises(RemoteUnlockDisabledError) as info:
        await cloud.remote_unlock.open_door(DEVICE, pin="123456")
    assert info.value.switch == "remoteUnlockWithPwd"
    assert info.value.device_id == DEVICE
    assert "remoteUnlockWithPwd" in str(info.value)
    assert isinstance(info.value.cause, APIError)
    assert info.value.cause.code == 2008
    assert info.value.__cause__ is info.value.cause
    assert switches_route.call_count == 1


async def test_open_door_refused_with_switch_on_keeps_tuyas_error(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-1")))
    api.post(OPEN_DOOR_PATH).respond(json=wire.failure(1109, "param illegal"))
    api.get(SWITCHES_PATH).respond(json=switches(wire, with_pwd=True, without_pwd=False))
    with pytest.raises(InvalidParameterError):
        await cloud.remote_unlock.open_door(DEVICE, pin="123456")


async def test_open_door_refused_and_switches_unreadable(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-1")))
    api.post(OPEN_DOOR_PATH).respond(json=wire.failure(1109, "param illegal"))
    api.get(SWITCHES_PATH).respond(json=wire.failure(2004, "lock type not supported"))
    with pytest.raises(InvalidParameterError):
        await cloud.remote_unlock.open_door(DEVICE, pin="123456")


async def test_open_door_offline_does_not_look_at_switches(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-1")))
    api.post(OPEN_DOOR_PATH).respond(json=wire.failure(2001, "device offline"))
    switches_route = api.get(SWITCHES_PATH).respond(json=switches(wire, with_pwd=False, without_pwd=False))
    with pytest.raises(DeviceOfflineError):
        await cloud.remote_unlock.open_door(DEVICE, pin="123456")
    assert switches_route.call_count == 0


async def test_open_door_with_ticket_raw(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.post(OPEN_DOOR_PATH).respond(json=wire.ok(True))
    await cloud.remote_unlock.open_door_with_ticket(
        DEVICE, ticket_id="t", password="0FCF43FCEBC5AC8B66C48F5CB7C25B02"
    )
    assert wire.sent_json(route) == {
        "password": "0FCF43FCEBC5AC8B66C48F5CB7C25B02",
        "password_type": "ticket",
        "ticket_id": "t",
    }


# -- 14./15. password-free -----------------------------------------------------------------------------------------


async def test_open_door_without_password_v10(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-9")))
    route = api.post(FREE_V10_PATH).respond(json=wire.ok(True))
    v11 = api.post(FREE_V11_PATH).respond(json=wire.ok(True))
    assert await cloud.remote_unlock.open_door_without_password(DEVICE) is True
    assert wire.sent_json(route) == {"ticket_id": "tk-9"}
    assert v11.call_count == 0


async def test_open_door_without_password_v11_with_channel(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-9")))
    route = api.post(FREE_V11_PATH).respond(json=wire.ok(True))
    assert await cloud.remote_unlock.open_door_without_password(DEVICE, channel_id=2) is True
    assert wire.sent_json(route) == {"ticket_id": "tk-9", "channel_id": 2}


@pytest.mark.parametrize("path", [FREE_V10_PATH, FREE_V11_PATH])
async def test_password_free_timeout_is_not_replayed(
    cloud: LockCloud, api: respx.MockRouter, wire: Any, path: str
) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-9")))
    route = api.post(path).mock(side_effect=httpx.WriteTimeout("gone"))
    channel = 1 if path.startswith("/v1.1") else None
    with pytest.raises(OutcomeUnknownError):
        await cloud.remote_unlock.open_door_without_password(DEVICE, channel_id=channel)
    assert route.call_count == 1


async def test_password_free_connect_error_is_retried_with_the_same_ticket(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    # A connection that never opened carried nothing: the transport may send the one ticket again.
    ticket = api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-9")))
    route = api.post(FREE_V10_PATH)
    route.side_effect = [httpx.ConnectError("refused"), httpx.Response(200, json=wire.ok(True))]
    assert await cloud.remote_unlock.open_door_without_password(DEVICE) is True
    assert route.call_count == 2
    assert ticket.call_count == 1


async def test_password_free_switched_off(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("tk-9")))
    api.post(FREE_V10_PATH).respond(json=wire.failure(2008, "not supported"))
    api.get(SWITCHES_PATH).respond(json=switches(wire, with_pwd=True, without_pwd=False))
    with pytest.raises(RemoteUnlockDisabledError) as info:
        await cloud.remote_unlock.open_door_without_password(DEVICE)
    assert info.value.switch == "remoteUnlockWithoutPwd"


# -- 16. revoke ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "wire_type"), [(RevokeReason.REJECT, 1), (2, 2)])
async def test_revoke(
    cloud: LockCloud, api: respx.MockRouter, wire: Any, reason: Any, wire_type: int
) -> None:
    route = api.put(f"/v1.0/devices/{DEVICE}/door-lock/password-free/open-door/cancel").respond(
        json=wire.ok(True)
    )
    assert await cloud.remote_unlock.revoke(DEVICE, reason) is True
    assert wire.sent_json(route) == {"type": wire_type}


async def test_revoke_is_not_replayed(cloud: LockCloud, api: respx.MockRouter) -> None:
    route = api.put(f"/v1.0/devices/{DEVICE}/door-lock/password-free/open-door/cancel").mock(
        side_effect=httpx.ReadTimeout("lost")
    )
    with pytest.raises(OutcomeUnknownError):
        await cloud.remote_unlock.revoke(DEVICE, RevokeReason.CANCEL)
    assert route.call_count == 1


# -- 17. door-operate ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flow", ["unlock", "lock"])
async def test_door_operate_flows(cloud: LockCloud, api: respx.MockRouter, wire: Any, flow: str) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("6k8vsH")))
    route = api.post(OPERATE_PATH).respond(json=wire.ok(True))
    assert await getattr(cloud.remote_unlock, flow)(DEVICE) is True
    assert wire.sent_json(route) == {"ticket_id": "6k8vsH", "open": flow == "unlock"}


async def test_door_operate_is_not_replayed(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("t")))
    route = api.post(OPERATE_PATH).mock(side_effect=httpx.ReadTimeout("lost"))
    with pytest.raises(OutcomeUnknownError):
        await cloud.remote_unlock.operate_door(DEVICE, open=True)
    assert route.call_count == 1


async def test_door_operate_open_switched_off(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("t")))
    api.post(OPERATE_PATH).respond(json=wire.failure(2008, "not supported"))
    api.get(SWITCHES_PATH).respond(json=switches(wire, with_pwd=True, without_pwd=False))
    with pytest.raises(RemoteUnlockDisabledError, match="remoteUnlockWithoutPwd"):
        await cloud.remote_unlock.unlock(DEVICE)


async def test_door_operate_close_refused_keeps_tuyas_error(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.post(TICKET_PATH).respond(json=wire.ok(ticket_result("t")))
    api.post(OPERATE_PATH).respond(json=wire.failure(2008, "not supported"))
    switches_route = api.get(SWITCHES_PATH).respond(json=switches(wire, with_pwd=True, without_pwd=False))
    with pytest.raises(APIError) as info:
        await cloud.remote_unlock.lock(DEVICE)
    assert not isinstance(info.value, RemoteUnlockDisabledError)
    assert switches_route.call_count == 0


async def test_door_operate_raw(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.post(OPERATE_PATH).respond(json=wire.ok(False))
    assert await cloud.remote_unlock.door_operate(DEVICE, ticket_id="x", open=False) is False
    assert wire.sent_json(route) == {"ticket_id": "x", "open": False}


# -- validation ----------------------------------------------------------------------------------------------------

BAD_DEVICE_IDS = ["", "a/b", "a?b", "a#b", "a b", "..", "x..y", "%41", None, 12]


def _remote_calls(bad: Any) -> list[Callable[[LockCloud], Awaitable[Any]]]:
    return [
        lambda c: c.remote_unlock.list_methods(bad),
        lambda c: c.remote_unlock.set_method_enabled(bad, "remoteUnlockWithPwd", True),
        lambda c: c.remote_unlock.get_password_ticket(bad),
        lambda c: c.remote_unlock.open_door_with_ticket(bad, ticket_id="t", password="p"),
        lambda c: c.remote_unlock.open_door_password_free(bad, ticket_id="t"),
        lambda c: c.remote_unlock.door_operate(bad, ticket_id="t", open=True),
        lambda c: c.remote_unlock.revoke(bad, 1),
        lambda c: c.remote_unlock.open_door(bad, pin="123456"),
        lambda c: c.remote_unlock.open_door_without_password(bad),
        lambda c: c.remote_unlock.unlock(bad),
        lambda c: c.remote_unlock.lock(bad),
        lambda c: c.remote_unlock.latest_media(bad),
        lambda c: c.remote_unlock.albums(bad),
    ]


@pytest.mark.parametrize("bad", BAD_DEVICE_IDS, ids=repr)
async def test_bad_device_id_rejected_before_sending(
    cloud: LockCloud, api: respx.MockRouter, bad: Any
) -> None:
    for call in _remote_calls(bad):
        with pytest.raises(ValidationError, match="device_id"):
            await call(cloud)
    assert api.calls.call_count == 0


@pytest.mark.parametrize(
    "pin",
    ["12345", "1234567", "12a456", "", " 12345", "\uff11\uff12\uff13\uff14\uff15\uff16", 123456, None],
    ids=repr,
)
async def test_open_door_pin_rejected_before_any_call(
    cloud: LockCloud, api: respx.MockRouter, pin: Any
) -> None:
    with pytest.raises(ValidationError) as info:
        await cloud.remote_unlock.open_door(DEVICE, pin=pin)
    if isinstance(pin, str) and pin:
        assert pin not in str(info.value)
    assert api.calls.call_count == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.remote_unlock.set_method_enabled(DEVICE, "remoteUnlockWithEyes", True),
        lambda c: c.remote_unlock.set_method_enabled(DEVICE, "remoteUnlockWithPwd", 1),
        lambda c: c.remote_unlock.open_door_without_password(DEVICE, channel_id=-1),
        lambda c: c.remote_unlock.open_door_without_password(DEVICE, channel_id="1"),
        lambda c: c.remote_unlock.open_door_without_password(DEVICE, channel_id=True),
        lambda c: c.remote_unlock.open_door_password_free(DEVICE, ticket_id=""),
        lambda c: c.remote_unlock.open_door_with_ticket(DEVICE, ticket_id="t", password=""),
        lambda c: c.remote_unlock.operate_door(DEVICE, open="yes"),
        lambda c: c.remote_unlock.door_operate(DEVICE, ticket_id="t", open=None),
        lambda c: c.remote_unlock.revoke(DEVICE, 3),
        lambda c: c.remote_unlock.revoke(DEVICE, "1"),
        lambda c: c.remote_unlock.latest_media(DEVICE, 3),
        lambda c: c.remote_unlock.latest_media(DEVICE, 0),
    ],
)
async def test_bad_arguments_rejected_before_sending(
    cloud: LockCloud, api: respx.MockRouter, call: Callable[[LockCloud], Awaitable[Any]]
) -> None:
    with pytest.raises(ValidationError):
        await call(cloud)
    assert api.calls.call_count == 0


def test_ticket_repr_hides_key() -> None:
    ticket = PasswordTicket(ticket_id="t", ticket_key=encrypt_ticket_key(b"k" * 16, "s" * 32), expire_time=1)
    assert ticket.ticket_key not in repr(ticket)

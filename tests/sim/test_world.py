"""The simulated world's rules, driven directly and through the library in-process."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from lockcloud import (
    APIError,
    DeviceNotFoundError,
    DeviceOfflineError,
    InvalidParameterError,
    NotFoundError,
    RemoteUnlockDisabledError,
    UnsupportedError,
    ValidationError,
)
from lockcloud._client import LockCloud
from lockcloud._core.wire import ACCESS_CODE_ENDPOINTS, ENDPOINTS, HISTORY_ENDPOINTS
from lockcloud.crypto import decrypt_media, decrypt_message, decrypt_ticket_key, encrypt_password
from lockcloud.enums import AlbumEventType, RemoteUnlockType, UnlockType, UserType
from lockcloud.events import EnrollmentProgress, StatusReport, decode_message
from lockcloud.sim import DEMO_PIN, LockKind, Simulator
from lockcloud.sim._call import Call
from lockcloud.sim._model import APPLICABILITY
from lockcloud.sim._push import encode_push
from lockcloud.sim._routes import ROUTES
from lockcloud.sim._snapshot import PNG_SIGNATURE
from lockcloud.sim._world import World

# -- applicability ----------------------------------------------------------------------------------------------

_PATH_PARAMS = {
    "user_type": "1",
    "user_id": "u-home",
    "unlock_type": "fingerprint",
    "unlock_no": "1",
    "unlock_sn": "1",
    "opmode_id": "1",
    "attribute": "1",
}
_BODIES: dict[str, dict[str, Any]] = {
    "enroll": {"user_id": "u-home", "user_type": 1, "unlock_type": "fingerprint"},
    "rename_key": {"dp_code": "unlock_fingerprint", "unlock_name": "x"},
    "set_special_attribute": {"enabled": True},
    "set_remote_unlock": {"remote_unlock_type": "remoteUnlockWithPwd", "open": True},
    "open_door": {"password": "00", "password_type": "ticket", "ticket_id": "t"},
    "open_door_password_free": {"ticket_id": "t"},
    "open_door_channel": {"ticket_id": "t", "channel_id": 1},
    "revoke_remote_unlock": {"type": 1},
    "door_operate": {"ticket_id": "t", "open": True},
}
# History, members and status serve every lock kind; their endpoints are tested in tests/resources/history.
_BUSINESS_ACTIONS = sorted(
    {e.action for e in (*ENDPOINTS, *ACCESS_CODE_ENDPOINTS)} - {"token", "refresh_token"}
)


def _call(world: World, action: str, device_id: str) -> Any:
    route = next(route for route in ROUTES if route.action == action)
    params = dict(_PATH_PARAMS, device_id=device_id)
    if action == "remove_duress_alarm":
        params["unlock_type"] = "unlock_fingerprint"
    query = {"file_type": "1"} if action == "latest_media" else {}
    call = Call(action, route.method, route.template, params, query, _BODIES.get(action, {}), "http://sim")
    return world.execute(call)


def _world_with_every_kind() -> World:
    world = World("id", "s" * 32)
    world.add_user("u-home", UserType.HOME_USER)
    for kind in LockKind:
        world.add_lock(kind, kind.value)
        world.add_key(kind.value, UnlockType.FINGERPRINT, user_id="u-home")
    return world


def test_every_endpoint_has_an_applicability_rule() -> None:
    assert set(_BUSINESS_ACTIONS) == set(APPLICABILITY)
    assert len({(route.method, route.template) for route in ROUTES}) == len(ROUTES)
    # The 20 lock endpoints, one of them served at two paths, and the two token calls; then access codes' and history's.
    assert len(ROUTES) == 23 + len(ACCESS_CODE_ENDPOINTS) + len(HISTORY_ENDPOINTS)


@pytest.mark.parametrize("action", _BUSINESS_ACTIONS)
@pytest.mark.parametrize("kind", list(LockKind))
def test_lock_kinds_outside_the_documents_lists_get_2004(action: str, kind: LockKind) -> None:
    world = _world_with_every_kind()
    try:
        _call(world, action, kind.value)
        code = None
    except APIError as error:
        code = error.code
    if kind in APPLICABILITY[action].kinds:
        assert code != 2004
    else:
        assert code == 2004


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("list_assigned_keys", LockKind.VIDEO),
        ("enroll", LockKind.KEEPALIVE_WIFI),
        ("enroll", LockKind.VIDEO),
        ("delete_key", LockKind.KEEPALIVE_WIFI),
    ],
)
def test_home_user_only_calls_refuse_other_users_with_2003(action: str, kind: LockKind) -> None:
    world = _world_with_every_kind()
    world.add_user("u-guest", UserType.NON_HOME_USER)
    route = next(route for route in ROUTES if route.action == action)
    params = dict(_PATH_PARAMS, device_id=kind.value, user_type="2", user_id="u-guest")
    body = dict(_BODIES.get(action, {}), user_type=2, user_id="u-guest") if action == "enroll" else {}
    with pytest.raises(UnsupportedError) as raised:
        world.execute(Call(action, route.method, route.template, params, {}, body, "http://sim"))
    assert raised.value.code == 2003


def test_sync_needs_a_gateway_on_bluetooth_locks() -> None:
    world = World("id", "s" * 32)
    world.add_lock(LockKind.BLUETOOTH, "ble", gateway=False)
    with pytest.raises(UnsupportedError) as raised:
        _call(world, "sync_keys", "ble")
    assert raised.value.code == 2003


# -- keys -------------------------------------------------------------------------------------------------------


async def test_keys_of_users_and_unassigned_keys(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    keys = await cloud.unlock_methods.list_assigned(front, "sim-alice", UserType.HOME_USER)
    assert [(k.unlock_no, k.unlock_type) for k in keys] == [
        (1, UnlockType.PASSWORD),
        (2, UnlockType.FINGERPRINT),
    ]
    only = await cloud.unlock_methods.list_assigned(front, "sim-alice", 1, unlock_type="fingerprint")
    assert [k.unlock_no for k in only] == [2]
    unassigned = await cloud.unlock_methods.list_unassigned(front)
    assert [(k.unlock_no, k.unlock_type) for k in unassigned] == [(3, UnlockType.CARD)]
    with pytest.raises(NotFoundError):
        await cloud.unlock_methods.list_assigned(front, "nobody", 1)
    with pytest.raises(InvalidParameterError):
        await cloud.unlock_methods.list_assigned(front, "sim-alice", 2)  # Alice is a home user


async def test_unknown_device_is_2010(cloud: LockCloud) -> None:
    with pytest.raises(DeviceNotFoundError):
        await cloud.unlock_methods.list_unassigned("no-such-lock")


async def test_sync_reveals_keys_the_cloud_did_not_know(cloud: LockCloud, sim: Simulator) -> None:
    garage = sim.devices["garage"]

    def card_synced() -> bool:
        return sim.lock(garage).keys[2].synced

    assert card_synced() is False
    assert await cloud.unlock_methods.sync(garage, ["fingerprint"]) is True
    assert card_synced() is False  # only fingerprints were asked for
    assert await cloud.unlock_methods.sync(garage, ["card", "fingerprint"]) is True
    assert card_synced() is True
    assert sim.executed("sync_keys")[-1].detail["synced"] == [2]


async def test_the_wrong_spelling_of_an_unlock_type_is_1109(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    with pytest.raises(InvalidParameterError) as raised:
        await cloud.request("PUT", f"/v1.0/devices/{front}/door-lock/unlock-types/unlock_card/keys/3/hijack")
    assert raised.value.code == 1109
    with pytest.raises(InvalidParameterError):
        await cloud.request("DELETE", f"/v1.0/smart-lock/devices/{front}/unlock-types/card/keys/3/hijack")


async def test_duress_alarm_on_and_off(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    assert await cloud.unlock_methods.set_duress_alarm(front, UnlockType.FINGERPRINT, 2) is True
    keys = await cloud.unlock_methods.list_assigned(front, "sim-alice", 1, unlock_type="fingerprint")
    assert keys[0].hijack is True
    assert await cloud.unlock_methods.remove_duress_alarm(front, UnlockType.FINGERPRINT, 2) is True
    assert sim.lock(front).keys[2].hijack is False
    with pytest.raises(NotFoundError):
        await cloud.unlock_methods.set_duress_alarm(front, UnlockType.CARD, 2)  # key 2 is a fingerprint
    sim.add_key(front, UnlockType.FACE, user_id="sim-alice", unlock_no=9)
    with pytest.raises(UnsupportedError) as raised:
        await cloud.unlock_methods.set_duress_alarm(front, UnlockType.FACE, 9)
    assert raised.value.code == 2008


async def test_rename_and_special_attributes(cloud: LockCloud, sim: Simulator) -> None:
    office, back = sim.devices["office"], sim.devices["back_door"]
    assert await cloud.unlock_methods.rename(office, 1, UnlockType.CARD, "Front desk badge") is True
    assert sim.lock(office).keys[1].name == "Front desk badge"
    with pytest.raises(NotFoundError):
        await cloud.unlock_methods.rename(office, 1, UnlockType.FINGERPRINT, "wrong type")
    assert await cloud.unlock_methods.set_special_attribute(back, 1, 2, True) is True
    assert sim.lock(back).keys[1].attributes == {2: True}
    with pytest.raises(InvalidParameterError) as raised:
        await cloud.unlock_methods.set_special_attribute(back, 1, 4, True)
    assert raised.value.code == 1101


async def test_delete_key_pushes_an_unlock_method_delete_event(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    assert await cloud.unlock_methods.delete(front, "sim-alice", 1, UnlockType.FINGERPRINT, 2) is True
    assert 2 not in sim.lock(front).keys
    assert sim.pushes[-1].biz_data["event"] == "unlockMethodDelete"
    with pytest.raises(NotFoundError):
        await cloud.unlock_methods.delete(front, "sim-alice", 1, UnlockType.FINGERPRINT, 2)


async def test_an_offline_lock_refuses_commands_but_answers_reads(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    sim.set_online(front, False)
    with pytest.raises(DeviceOfflineError):
        await cloud.unlock_methods.enroll(front, "sim-alice", 1, UnlockType.FINGERPRINT)
    with pytest.raises(DeviceOfflineError):
        await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
    assert len(await cloud.unlock_methods.list_unassigned(front)) == 1
    assert sim.lock(front).enrollment is None


# -- enrollment -------------------------------------------------------------------------------------------------


async def test_enrollment_pushes_raised_total_then_counts_down_to_the_new_key(
    cloud: LockCloud, sim: Simulator
) -> None:
    front = sim.devices["front_door"]
    assert await cloud.unlock_methods.enroll(front, "sim-alice", 1, UnlockType.FINGERPRINT) is True
    data = [dict(push.biz_data) for push in sim.pushes]
    assert data == [
        {"event": "unlockMethodEntry", "operate": 1, "raised": True, "finish": False, "period": 5},
        {
            "event": "unlockMethodEntry",
            "operate": 1,
            "raised": True,
            "finish": False,
            "period": 5,
            "totalPeriod": 5,
        },
    ]
    await sim.press_finger(front, 4)
    assert [push.biz_data["period"] for push in sim.pushes[2:]] == [4, 3, 2, 1]
    assert not any(push.biz_data["finish"] for push in sim.pushes)
    assert sum("totalPeriod" in push.biz_data for push in sim.pushes) == 1
    assert sim.lock(front).keys.keys() == {1, 2, 3}
    await sim.press_finger(front)
    assert sim.pushes[-1].biz_data == {
        "event": "unlockMethodEntry",
        "operate": 1,
        "raised": True,
        "finish": True,
        "period": 0,
    }
    keys = await cloud.unlock_methods.list_assigned(front, "sim-alice", 1, unlock_type="fingerprint")
    assert [key.unlock_no for key in keys] == [2, 4]
    assert sim.lock(front).enrollment is None
    with pytest.raises(ValidationError):
        await sim.press_finger(front)
    assert {push.device_id for push in sim.pushes} == {front}
    assert all(push.biz_code == "doorUnlockMethodStatus" for push in sim.pushes)


async def test_cancel_ends_the_enrollment_with_operate_2(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    await cloud.unlock_methods.enroll(front, "sim-alice", 1, UnlockType.FINGERPRINT)
    await sim.press_finger(front, 2)
    assert await cloud.unlock_methods.cancel_enrollment(front, UnlockType.FINGERPRINT) is True
    assert sim.pushes[-1].biz_data == {
        "event": "unlockMethodEntry",
        "operate": 2,
        "raised": False,
        "finish": False,
        "period": 3,
    }
    assert sim.lock(front).enrollment is None
    assert 4 not in sim.lock(front).keys
    # Nothing left to cancel: the call succeeds and pushes nothing.
    count = len(sim.pushes)
    assert await cloud.unlock_methods.cancel_enrollment(front, UnlockType.FINGERPRINT) is True
    assert len(sim.pushes) == count


async def test_a_second_entry_abandons_the_first(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    await cloud.unlock_methods.enroll(front, "sim-alice", 1, UnlockType.FINGERPRINT)
    await cloud.unlock_methods.enroll(front, "sim-alice", 1, UnlockType.CARD)
    operates = [push.biz_data["operate"] for push in sim.pushes]
    assert operates == [1, 1, 2, 1, 1]
    await sim.press_finger(front)
    assert sim.lock(front).keys[4].unlock_type is UnlockType.CARD


async def test_bluetooth_password_enrollment_takes_the_encrypted_pin(
    cloud: LockCloud, sim: Simulator
) -> None:
    shed = sim.devices["shed"]
    sim.add_user("sim-carol", UserType.HOME_USER)
    assert await cloud.unlock_methods.enroll(shed, "sim-carol", 1, UnlockType.PASSWORD, pin="135790") is True
    new_key = sim.lock(shed).keys_of("sim-carol")[0]
    assert new_key.pin == "135790"
    assert sim.pushes[-1].biz_data["finish"] is True
    assert sim.lock(shed).enrollment is None


async def test_press_counts_are_configurable() -> None:
    sim = Simulator(presses={"fingerprint": 2})
    async with sim.client() as cloud:
        await cloud.unlock_methods.enroll(sim.devices["back_door"], "sim-alice", 1, "fingerprint")
    assert sim.pushes[1].biz_data["totalPeriod"] == 2
    with pytest.raises(ValidationError):
        Simulator(presses={"card": 0})


async def test_automatic_presses_finish_the_enrollment() -> None:
    sim = Simulator(press_interval=0.001)
    async with sim.client() as cloud:
        front = sim.devices["front_door"]
        await cloud.unlock_methods.enroll(front, "sim-alice", 1, UnlockType.CARD)
        while sim.lock(front).enrollment is not None:
            await sim.drain_pushes()
            await asyncio.sleep(0.01)
    assert sim.pushes[-1].biz_data["finish"] is True
    await sim.aclose()


# -- remote unlock ----------------------------------------------------------------------------------------------


async def test_open_door_with_the_right_pin(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    assert sim.lock(front).door_open is False
    assert await cloud.remote_unlock.open_door(front, pin=DEMO_PIN) is True
    assert sim.lock(front).door_open is True
    # The door's report, then the remote unlock's (unlock_app).
    status, unlocked = sim.pushes[-2:]
    assert unlocked.body["status"][0]["code"] == "unlock_app"
    assert status.protocol == 4
    assert status.body["status"][0]["code"] == "closed_opened"
    assert status.body["status"][0]["value"] == "open"


async def test_open_door_with_a_wrong_pin_is_refused(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    assert await cloud.remote_unlock.open_door(front, pin="000000") is False
    assert sim.lock(front).door_open is False


async def test_a_pin_encrypted_with_another_key_is_1109(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    ticket = await cloud.remote_unlock.get_password_ticket(front)
    password = encrypt_password(DEMO_PIN, b"fedcba9876543210")
    with pytest.raises(InvalidParameterError) as raised:
        await cloud.remote_unlock.open_door_with_ticket(front, ticket_id=ticket.ticket_id, password=password)
    assert raised.value.code == 1109
    assert sim.lock(front).door_open is False


async def test_tickets_are_single_use_bound_to_their_lock_and_expire(
    cloud: LockCloud, sim: Simulator
) -> None:
    front, back = sim.devices["front_door"], sim.devices["back_door"]
    ticket = await cloud.remote_unlock.get_password_ticket(front)
    assert ticket.expire_time == 300
    key = decrypt_ticket_key(ticket.ticket_key, sim.access_secret)
    password = encrypt_password(DEMO_PIN, key)
    assert await cloud.remote_unlock.open_door_with_ticket(
        front, ticket_id=ticket.ticket_id, password=password
    )
    with pytest.raises(InvalidParameterError, match="already used"):
        await cloud.remote_unlock.open_door_with_ticket(front, ticket_id=ticket.ticket_id, password=password)
    sim.set_remote_unlock(back, RemoteUnlockType.WITHOUT_PASSWORD, True)
    other = await cloud.remote_unlock.get_password_ticket(front)
    with pytest.raises(InvalidParameterError, match="unknown ticket"):
        await cloud.remote_unlock.door_operate(back, ticket_id=other.ticket_id, open=True)
    stale = await cloud.remote_unlock.get_password_ticket(back)
    sim.advance(301)
    with pytest.raises(InvalidParameterError, match="expired"):
        await cloud.remote_unlock.door_operate(back, ticket_id=stale.ticket_id, open=True)
    assert sim.lock(back).door_open is False


async def test_the_ticket_is_also_served_at_the_door_lock_path(cloud: LockCloud, sim: Simulator) -> None:
    result = await cloud.request("POST", f"/v1.0/devices/{sim.devices['office']}/door-lock/password-ticket")
    assert set(result) == {"ticket_id", "ticket_key", "expire_time"}


async def test_switches_gate_remote_unlock(cloud: LockCloud, sim: Simulator) -> None:
    front = sim.devices["front_door"]
    methods = {m.remote_unlock_type: m.open for m in await cloud.remote_unlock.list_methods(front)}
    assert methods == {RemoteUnlockType.WITHOUT_PASSWORD: False, RemoteUnlockType.WITH_PASSWORD: True}
    with pytest.raises(RemoteUnlockDisabledError) as raised:
        await cloud.remote_unlock.open_door_without_password(front)
    assert raised.value.switch == "remoteUnlockWithoutPwd"
    assert (
        await cloud.remote_unlock.set_method_enabled(front, RemoteUnlockType.WITHOUT_PASSWORD, True) is True
    )
    assert await cloud.remote_unlock.open_door_without_password(front) is True
    await cloud.remote_unlock.set_method_enabled(front, RemoteUnlockType.WITH_PASSWORD, False)
    with pytest.raises(RemoteUnlockDisabledError):
        await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)


async def test_door_operate_opens_and_closes(cloud: LockCloud, sim: Simulator) -> None:
    back = sim.devices["back_door"]
    sim.set_remote_unlock(back, RemoteUnlockType.WITHOUT_PASSWORD, True)
    assert await cloud.remote_unlock.unlock(back) is True
    assert sim.lock(back).door_open is True
    assert await cloud.remote_unlock.lock(back) is True
    assert sim.lock(back).door_open is False
    assert [push.body["status"][0]["value"] for push in sim.pushes if push.protocol == 4] == [
        "open",
        0,
        "closed",
    ]


async def test_access_control_channels(cloud: LockCloud, sim: Simulator) -> None:
    office = sim.devices["office"]
    assert await cloud.remote_unlock.open_door_without_password(office, channel_id=2) is True
    assert sim.lock(office).opened_channels == [2]
    with pytest.raises(InvalidParameterError) as raised:
        await cloud.remote_unlock.open_door_without_password(office, channel_id=7)
    assert raised.value.code == 1101


async def test_revoke_clears_a_pending_request(cloud: LockCloud, sim: Simulator) -> None:
    back = sim.devices["back_door"]
    assert sim.lock(back).pending_remote_request is True
    assert await cloud.remote_unlock.revoke(back, 1) is True
    assert sim.lock(back).pending_remote_request is False
    assert sim.executed("revoke_remote_unlock")[-1].detail == {"type": 1, "revoked": True}


async def test_a_doorbell_ring_is_a_pending_request_with_the_visitors_photo(
    cloud: LockCloud, sim: Simulator
) -> None:
    back = sim.devices["back_door"]
    assert await cloud.remote_unlock.revoke(back, 2) is True  # the request the seed left pending
    assert sim.lock(back).pending_remote_request is False
    photo = sim.ring_doorbell(back)
    assert sim.lock(back).pending_remote_request is True
    assert photo.event_type == 1
    assert sim.lock(back).media[-1] is photo
    assert await cloud.remote_unlock.revoke(back, 1) is True
    assert sim.executed("revoke_remote_unlock")[-1].detail == {"type": 1, "revoked": True}


# -- media ------------------------------------------------------------------------------------------------------


async def test_latest_media_is_a_real_encrypted_container(cloud: LockCloud, sim: Simulator) -> None:
    back = sim.devices["back_door"]
    visitor = await cloud.remote_unlock.latest_media(back, 1)
    assert visitor is not None
    assert visitor.file_path is not None
    assert not visitor.file_url.endswith(visitor.file_path)  # the bucket root, like Tuya's sample
    photo = await cloud.remote_unlock.download_media(visitor)
    assert photo.startswith(PNG_SIGNATURE)
    async with sim.http_client() as http:
        blob = (await http.get(visitor.download_url)).content
    assert blob[:4] == b"\x01\x00\x00\x00"
    assert (len(blob) - 64) % 16 == 0
    assert decrypt_media(blob, visitor.file_key) == photo
    alert = await cloud.remote_unlock.latest_media(back, 2)
    assert alert is not None
    assert alert.file_path != visitor.file_path
    assert await cloud.remote_unlock.latest_media(sim.devices["shed"], 2) is None


async def test_camera_locks_photograph_remote_unlocks(cloud: LockCloud, sim: Simulator) -> None:
    back = sim.devices["back_door"]
    sim.set_remote_unlock(back, RemoteUnlockType.WITHOUT_PASSWORD, True)
    before = await cloud.remote_unlock.latest_media(back, 1)
    await cloud.remote_unlock.unlock(back)
    after = await cloud.remote_unlock.latest_media(back, 1)
    assert before is not None
    assert after is not None
    assert after.file_path != before.file_path


async def test_album_lists_typed_entries_newest_first(cloud: LockCloud, sim: Simulator) -> None:
    porch = sim.devices["porch"]
    sim.capture(porch, 19, video=b"fake video bytes")
    album = await cloud.remote_unlock.albums(porch)
    types = [entry.event_type for entry in album.entries]
    assert types[0] is AlbumEventType.DURESS_ALARM
    assert set(types) == {
        AlbumEventType.DURESS_ALARM,
        AlbumEventType.DOORBELL_REQUEST,
        AlbumEventType.UNLOCK_WITH_FINGERPRINT,
        AlbumEventType.LOITERING,
    }
    assert album.event_types == sorted(album.event_types)
    newest = album.entries[0]
    assert newest.media_path is not None
    assert newest.media_key is not None
    assert (
        await cloud.remote_unlock.download_media((newest.media_path, newest.media_key)) == b"fake video bytes"
    )
    photo = await cloud.remote_unlock.download_media(album.entries[-1])
    assert photo.startswith(PNG_SIGNATURE)


async def test_album_in_camel_case() -> None:
    sim = Simulator(album_keys="camel")
    async with sim.client() as cloud:
        album = await cloud.remote_unlock.albums(sim.devices["porch"])
        raw = await cloud.request("GET", f"/v1.0/smart-lock/devices/{sim.devices['porch']}/albums-media")
    assert "albumList" in raw
    assert "eventType" in raw["albumList"][0]
    assert len(album.entries) == 3


async def test_missing_media_objects_are_404(sim: Simulator) -> None:
    async with sim.http_client() as http:
        assert (await http.get("/media/nothing.png")).status_code == 404


# -- push encoding ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("em", ["aes_gcm", "aes_ecb"])
async def test_pushes_decode_with_the_event_decoder(cloud: LockCloud, sim: Simulator, em: Any) -> None:
    front = sim.devices["front_door"]
    await cloud.unlock_methods.enroll(front, "sim-alice", 1, UnlockType.FINGERPRINT)
    await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
    decoded = []
    for push in sim.pushes:
        payload, properties = encode_push(push, sim.access_secret, em)
        assert properties == {"em": em}
        envelope = json.loads(payload)
        assert set(envelope) == {"data", "protocol", "pv", "sign", "t"}
        assert json.loads(decrypt_message(envelope["data"], sim.access_secret, em)) == push.body
        decoded.append(decode_message(payload, sim.access_secret, properties))
    progress = [event for event in decoded if isinstance(event, EnrollmentProgress)]
    assert [event.total_period for event in progress] == [None, 5]
    assert isinstance(decoded[-1], StatusReport)

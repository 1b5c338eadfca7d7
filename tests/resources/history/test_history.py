"""History, status and members against the simulator served over loopback (and a few hostile pages by hand)."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import httpx
import pytest

from lockcloud import (
    AlarmKind,
    BatteryState,
    DoorState,
    LockCloud,
    MemberRole,
    RecordType,
    UnlockMethod,
    ValidationError,
)
from lockcloud.enums import RemoteUnlockType, UnlockType
from lockcloud.sim import SimServer

BASE = 1_790_000_000  # epoch seconds, some time in 2026


def _backfill(server: SimServer, device: str, count: int) -> None:
    """``count`` fingerprint and card unlocks, one a minute from BASE, written without pushes."""
    sim = server.simulator
    for index in range(count):
        kind, number = (UnlockType.FINGERPRINT, 1) if index % 2 == 0 else (UnlockType.CARD, 3)
        sim.unlock_at_door(device, kind, number, at=BASE + 60 * index)


def _paths(server: SimServer, fragment: str) -> list[str]:
    return [record.path for record in server.simulator.requests if fragment in record.path]


async def test_records_page_by_themselves_newest_first(
    lockcloud_server: SimServer, lockcloud_client: LockCloud
) -> None:
    back = lockcloud_server.devices["back_door"]
    _backfill(lockcloud_server, back, 25)
    pages = lockcloud_client.history.records(back, page_size=10)
    records = [record async for record in pages]
    assert len(records) == 25
    assert pages.stats.pages == 3
    assert pages.stats.unreadable == 0
    assert len(_paths(lockcloud_server, "/door-lock/records")) == 3
    times = [record.at for record in records]
    assert times == sorted(times, reverse=True)
    newest, oldest = records[0], records[-1]
    assert oldest.at == _dt.datetime.fromtimestamp(BASE, _dt.UTC)
    assert (oldest.method, oldest.key_number, oldest.member_id) == (UnlockMethod.FINGERPRINT, 1, "sim-alice")
    assert (newest.method, newest.key_number, newest.member_id) == (UnlockMethod.FINGERPRINT, 1, "sim-alice")
    assert records[1].method is UnlockMethod.CARD
    assert records[1].member_name == "Bob"
    assert all(record.record_type is RecordType.UNLOCK for record in records)


async def test_kinds_and_time_range_narrow_the_records(
    lockcloud_server: SimServer, lockcloud_client: LockCloud
) -> None:
    sim = lockcloud_server.simulator
    back = lockcloud_server.devices["back_door"]
    _backfill(lockcloud_server, back, 10)
    sim.raise_alarm(back, "wrong_finger", at=BASE + 30)
    sim.raise_alarm(back, "pry", at=BASE + 90)
    history = lockcloud_client.history
    cards = await history.records(back, kinds=[UnlockMethod.CARD]).collect()
    assert {record.method for record in cards} == {UnlockMethod.CARD}
    assert len(cards) == 5
    tamper = await history.records(back, kinds=[AlarmKind.TAMPER]).collect()
    assert [(record.record_type, record.alarm) for record in tamper] == [(RecordType.ALARM, AlarmKind.TAMPER)]
    every_alarm = await history.records(back, kinds="alarm_lock").collect()
    assert {record.alarm for record in every_alarm} == {AlarmKind.TAMPER, AlarmKind.WRONG_FINGER}
    window = await history.records(
        back,
        since=_dt.datetime.fromtimestamp(BASE + 60, _dt.UTC),
        until=BASE + 180,
        kinds=["unlock_fingerprint", "unlock_card"],
    ).collect()
    assert [record.at.timestamp() for record in window if record.at] == [BASE + 180, BASE + 120, BASE + 60]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"since": BASE + 10, "until": BASE}, "ends before it starts"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"kinds": ["unlock_teleport"]}, "unknown history kind"),
        ({"kinds": [AlarmKind("made_up")]}, "unknown history kind"),
        ({"kinds": []}, "at least one"),
        ({"since": _dt.datetime(2026, 1, 1)}, "timezone-aware"),
        ({"since": float("nan")}, "since"),
    ],
)
async def test_bad_arguments_are_refused_before_sending(
    lockcloud_server: SimServer, lockcloud_client: LockCloud, options: dict[str, Any], message: str
) -> None:
    back = lockcloud_server.devices["back_door"]
    before = len(lockcloud_server.simulator.requests)
    with pytest.raises(ValidationError, match=message):
        lockcloud_client.history.records(back, **options)
    assert len(lockcloud_server.simulator.requests) == before


async def test_alarm_kinds_must_be_alarms(lockcloud_client: LockCloud) -> None:
    with pytest.raises(ValidationError, match="not alarms"):
        lockcloud_client.history.alarms("dev1", kinds=[UnlockMethod.FINGERPRINT])
    with pytest.raises(ValidationError, match="device_id"):
        lockcloud_client.history.open_logs("../etc")


async def test_unknown_methods_stay_typed_with_their_raw_value(
    lockcloud_server: SimServer, lockcloud_client: LockCloud
) -> None:
    sim = lockcloud_server.simulator
    back = lockcloud_server.devices["back_door"]
    sim.unlock_with_code(back, "unlock_temporary", 7, at=BASE)
    sim.unlock_with_code(back, "unlock_key", 1, at=BASE + 1)
    sim.raise_alarm(back, "lasers", at=BASE + 2)
    records = await lockcloud_client.history.records(back).collect()
    temporary, key = records[-1], records[-2]
    assert (temporary.method, temporary.key_number) == (UnlockMethod.TEMPORARY_PASSWORD, 7)
    assert key.method is UnlockMethod.MECHANICAL_KEY
    # An alarm value lockcloud does not know: still an alarm record, its kind unknown but kept.
    (odd,) = [record for record in records if record.alarm is not None]
    assert odd.alarm is not None
    assert not odd.alarm.is_known
    assert odd.alarm.value == "lasers"


async def test_duress_unlock_shows_in_records_and_alarm_logs(
    lockcloud_server: SimServer, lockcloud_client: LockCloud
) -> None:
    sim = lockcloud_server.simulator
    back = lockcloud_server.devices["back_door"]
    sim.lock(back).keys[1].hijack = True
    sim.unlock_at_door(back, UnlockType.FINGERPRINT, 1, at=BASE)
    sim.raise_alarm(back, "doorbell", at=BASE + 5)
    records = await lockcloud_client.history.records(back, kinds=[AlarmKind.DURESS]).collect()
    (duress,) = records
    assert duress.is_duress
    assert (duress.method, duress.key_number, duress.member_id) == (UnlockMethod.FINGERPRINT, 1, "sim-alice")
    alarms = await lockcloud_client.history.alarms(
        back, kinds=[AlarmKind.DURESS, AlarmKind.DOORBELL]
    ).collect()
    assert [record.alarm for record in alarms] == [AlarmKind.DOORBELL, AlarmKind.DURESS]
    assert alarms[1].key_number == 1
    # Time bounds apply to alarm logs too (the endpoint takes none; they are applied to what it returns).
    late = await lockcloud_client.history.alarms(back, kinds=["hijack", "doorbell"], since=BASE + 1).collect()
    assert [record.alarm for record in late] == [AlarmKind.DOORBELL]


async def test_legacy_open_logs(lockcloud_server: SimServer, lockcloud_client: LockCloud) -> None:
    back = lockcloud_server.devices["back_door"]
    _backfill(lockcloud_server, back, 7)
    pages = lockcloud_client.history.open_logs(back, since=BASE, page_size=3)
    logs = await pages.collect()
    assert pages.stats.pages == 3
    assert [log.method for log in logs[:2]] == [UnlockMethod.FINGERPRINT, UnlockMethod.CARD]
    assert logs[0].member_name == "Alice"


async def test_a_remote_unlock_is_recorded_with_its_photo(
    lockcloud_server: SimServer, lockcloud_client: LockCloud
) -> None:
    sim = lockcloud_server.simulator
    back = lockcloud_server.devices["back_door"]
    sim.set_remote_unlock(back, RemoteUnlockType.WITHOUT_PASSWORD, True)
    assert await lockcloud_client.remote_unlock.unlock(back) is True
    (record,) = await lockcloud_client.history.records(back).collect()
    assert record.method is UnlockMethod.APP
    (photo,) = record.media
    assert (await lockcloud_client.remote_unlock.download_media(photo)).startswith(b"\x89PNG")


async def test_status_snapshot(lockcloud_server: SimServer, lockcloud_client: LockCloud) -> None:
    sim = lockcloud_server.simulator
    back = lockcloud_server.devices["back_door"]
    status = await lockcloud_client.status.get(back)
    assert (status.battery_percent, status.battery_state, status.door) == (
        100,
        BatteryState.HIGH,
        DoorState.CLOSED,
    )
    assert status.bolt_locked is True
    assert status.last_alarm is None
    sim.unlock_at_door(back, UnlockType.FINGERPRINT)
    sim.drain_battery(back, 9)
    status = await lockcloud_client.status.get(back)
    assert (status.battery_percent, status.battery_state, status.door) == (
        9,
        BatteryState.LOW,
        DoorState.OPEN,
    )
    assert (status.bolt_locked, status.last_alarm) == (False, AlarmKind.LOW_BATTERY)
    only = await lockcloud_client.status.get(back, codes=["residual_electricity"])
    assert only.properties == {"residual_electricity": 9}
    assert only.door is None
    with pytest.raises(ValidationError):
        await lockcloud_client.status.get(back, codes=[])


async def test_members_add_edit_give_a_key_and_list(
    lockcloud_server: SimServer, lockcloud_client: LockCloud
) -> None:
    back = lockcloud_server.devices["back_door"]
    members = lockcloud_client.members
    carol = await members.add(back, "Carol")
    dave = await members.add(back, "Dave", contact="dave@example.test")
    assert await members.edit(back, carol, nick_name="Caroline") is True
    assert await members.give_key(back, carol, UnlockType.CARD, 3) is True
    pages = members.list(back, page_size=1)
    listed = await pages.collect()
    assert pages.stats.pages == 2
    by_id = {member.user_id: member for member in listed}
    assert by_id[carol].nick_name == "Caroline"
    assert by_id[carol].role is MemberRole.MEMBER
    assert [(key.method, key.key_number) for key in by_id[carol].keys] == [(UnlockMethod.CARD, 3)]
    assert by_id[dave].keys == ()
    # The record of that card now names its new holder.
    lockcloud_server.simulator.unlock_at_door(back, UnlockType.CARD, 3, at=BASE)
    (record,) = await lockcloud_client.history.records(back, kinds=[UnlockMethod.CARD]).collect()
    assert (record.member_id, record.member_name) == (carol, "Caroline")
    with pytest.raises(ValidationError):
        await members.edit(back, carol)
    with pytest.raises(ValidationError):
        await members.give_key(back, carol, UnlockType.CARD, -1)


# -- hostile pages ----------------------------------------------------------------------------------------------


def _answer(pages: list[dict[str, Any]]) -> httpx.MockTransport:
    served = iter(pages)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1.0/token":
            result: Any = {"access_token": "a", "refresh_token": "r", "expire_time": 7200, "uid": "u"}
        else:
            result = next(served)
        body = {"success": True, "t": 1, "result": result, "tid": "x"}
        return httpx.Response(200, content=json.dumps(body).encode())

    return httpx.MockTransport(handler)


async def test_a_malformed_record_never_ends_the_iteration() -> None:
    good = {"record_id": "1", "gmt_create": BASE * 1000, "dps": [{"dp_code": "unlock_card", "value": 2}]}
    first = {
        "has_more": True,
        "records": [
            42,
            {"record_id": "2", "gmt_create": "yesterday", "dps": []},
            {"record_id": "3", "gmt_create": BASE * 1000, "dps": [{"dp_code": "unlock_card", "value": "x"}]},
            good,
        ],
    }
    second = {
        "has_more": False,
        "records": [{"record_id": "4", "gmt_create": BASE * 1000, "dps": "oops"}, good],
    }
    async with (
        httpx.AsyncClient(transport=_answer([first, second])) as http,
        LockCloud("id", "s" * 32, base_url="https://api.test", http_client=http) as cloud,
    ):
        pages = cloud.history.records("dev1")
        records = [record async for record in pages]
    assert [record.record_type for record in records] == [
        RecordType.UNKNOWN,
        RecordType.UNKNOWN,
        RecordType.UNKNOWN,
        RecordType.UNLOCK,
        RecordType.UNKNOWN,
        RecordType.UNLOCK,
    ]
    assert (pages.stats.pages, pages.stats.records, pages.stats.unreadable) == (2, 6, 4)
    assert records[0].raw == {"item": 42}
    assert records[1].problem is not None
    assert "gmt_create" in records[1].problem
    assert records[2].raw["record_id"] == "3"


async def test_a_server_that_always_says_more_stops_at_an_empty_page() -> None:
    item = {"gmt_create": BASE, "status": {"code": "doorbell", "value": True}}
    pages_served = [{"has_more": True, "records": [item]}, {"has_more": True, "records": []}]
    async with (
        httpx.AsyncClient(transport=_answer(pages_served)) as http,
        LockCloud("id", "s" * 32, base_url="https://api.test", http_client=http) as cloud,
    ):
        pages = cloud.history.alarms("dev1", kinds=[AlarmKind.DOORBELL])
        records = await pages.collect()
    # alarm-logs name their time update_time: this item lacks it, so it is unreadable, kept and counted.
    assert [record.record_type for record in records] == [RecordType.UNKNOWN]
    assert pages.stats.pages == 2


def test_an_offline_lock_keeps_its_records_and_pushes_nothing() -> None:
    from lockcloud.sim import Simulator

    sim = Simulator()
    back = sim.devices["back_door"]
    sim.set_online(back, False)
    before, written = len(sim.pushes), len(sim.lock(back).log.records)
    sim.unlock_at_door(back, UnlockType.FINGERPRINT, 1)
    sim.raise_alarm(back, "wrong_finger")
    sim.drain_battery(back, 5)
    sim.open_door_by_hand(back)
    assert len(sim.pushes) == before
    codes = [record.code for record in sim.lock(back).log.records[written:]]
    assert codes == [
        "unlock_fingerprint",
        "closed_opened",
        "alarm_lock",
        "residual_electricity",
        "battery_state",
        "alarm_lock",
        "closed_opened",
    ]
    sim.set_online(back, True)
    sim.close_door(back)
    assert len(sim.pushes) == before + 1


def test_photos_carry_the_album_event_type_of_what_happened() -> None:
    from lockcloud.sim import Simulator

    sim = Simulator()
    back = sim.devices["back_door"]
    lock = sim.lock(back)
    assert lock.kind.has_camera
    sim.unlock_at_door(back, UnlockType.FINGERPRINT, 1)
    sim.raise_alarm(back, "wrong_password")
    sim.raise_alarm(back, "doorbell")
    sim.raise_alarm(back, "a_new_alarm")
    assert [media.event_type for media in lock.media[-4:]] == [8, 3, 1, 25]
    assert lock.pending_remote_request

"""``cloud.access_codes`` against the simulator in-process: every call, delivery to await, states per radio, safety
(creating is never replayed, reads retry) and secrets kept out of reprs, logs and messages."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import AsyncIterator

import pytest

from lockcloud import (
    AccessCodeDeliveryError,
    AccessCodeDeliveryTimeoutError,
    AccessCodeState,
    AlarmKind,
    DeliveryStatus,
    DoorState,
    LockCloud,
    LockRadio,
    OfflineCodeKind,
    OutcomeUnknownError,
    Schedule,
    UnlockMethod,
    UnsupportedError,
)
from lockcloud.models import TemporaryCode, code_state
from lockcloud.sim import Simulator
from lockcloud.testing import FaultInjector, assert_executed

from support import FAST_RETRY

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
ZIGBEE_PIN = "482913"
WIFI_PIN = "4829137"
POLL = 0.01


def _window(hours_before: float = 1, hours_after: float = 48) -> dict[str, dt.datetime]:
    now = dt.datetime.now(PARIS)
    return {
        "valid_from": now - dt.timedelta(hours=hours_before),
        "valid_until": now + dt.timedelta(hours=hours_after),
    }


@pytest.fixture
def sim(lockcloud_sim: Simulator) -> Simulator:
    lockcloud_sim.world.access_codes.delivery_delay = 0.05
    return lockcloud_sim


@pytest.fixture
async def cloud(sim: Simulator) -> AsyncIterator[LockCloud]:
    async with sim.client(retry=FAST_RETRY) as client:
        yield client


async def test_a_zigbee_code_is_delivered_late_and_then_opens_the_door(
    sim: Simulator, cloud: LockCloud
) -> None:
    front = sim.devices["front_door"]
    delivery = await cloud.access_codes.create(
        front, name="Booking 17", pin=ZIGBEE_PIN, radio=LockRadio.ZIGBEE, **_window()
    )
    first = await delivery.status()
    assert first.state is AccessCodeState.PENDING_DELIVERY
    assert first.delivery_status is DeliveryStatus.IN_PROGRESS
    # Not delivered yet: the keypad refuses the code.
    assert await sim.type_code(front, ZIGBEE_PIN) is False
    code = await delivery.delivered(timeout=10, poll_interval=POLL)
    assert code.state is AccessCodeState.ACTIVE
    assert code.delivery_status is DeliveryStatus.SUCCEEDED
    assert code.name == "Booking 17"
    assert await sim.type_code(front, ZIGBEE_PIN) is True
    report = sim.pushes[-1]
    assert report.protocol == 4
    assert {item["code"]: item["value"] for item in report.body["status"]}["unlock_temporary"] == code.id


async def test_a_guest_at_the_keypad_is_in_the_history(sim: Simulator, cloud: LockCloud) -> None:
    back = sim.devices["back_door"]
    delivery = await cloud.access_codes.create(back, name="Cleaner", pin=WIFI_PIN, radio="wifi", **_window())
    code = await delivery.delivered(timeout=5, poll_interval=POLL)
    assert await sim.type_code(back, WIFI_PIN) is True
    for _ in range(3):
        assert await sim.type_code(back, "0000000") is False
    records = [record async for record in cloud.history.records(back)]
    newest_first = [(record.method, record.alarm, record.key_number) for record in records[:2]]
    assert newest_first == [
        (None, AlarmKind.WRONG_PASSWORD, None),
        (UnlockMethod.TEMPORARY_PASSWORD, None, code.id),
    ]
    assert records[1].unlock_name == "Cleaner"
    status = await cloud.status.get(back)
    assert (status.door, status.bolt_locked, status.last_alarm) == (
        DoorState.OPEN,
        False,
        AlarmKind.WRONG_PASSWORD,
    )


async def test_wifi_and_bluetooth_codes_are_active_at_once(sim: Simulator, cloud: LockCloud) -> None:
    back, shed = sim.devices["back_door"], sim.devices["shed"]
    wifi = await cloud.access_codes.create(back, name="Cleaner", pin=WIFI_PIN, radio="wifi", **_window())
    ble = await cloud.access_codes.create(
        shed, name="Gardener", pin=ZIGBEE_PIN, radio="bluetooth", **_window()
    )
    assert (await wifi.delivered(timeout=5, poll_interval=POLL)).state is AccessCodeState.ACTIVE
    assert (await ble.delivered(timeout=5, poll_interval=POLL)).state is AccessCodeState.ACTIVE
    # A Wi-Fi lock takes 7 digits: the simulator decrypted the sealed PIN and checks it.
    assert await sim.type_code(back, WIFI_PIN) is True


async def test_a_refusal_is_a_typed_delivery_error(
    sim: Simulator, cloud: LockCloud, lockcloud_faults: FaultInjector
) -> None:
    front = sim.devices["front_door"]
    with lockcloud_faults.code_delivery_fails(DeliveryStatus.OVERLAPPING):
        delivery = await cloud.access_codes.create(
            front, name="Late guest", pin=ZIGBEE_PIN, radio="zigbee", **_window()
        )
    with pytest.raises(AccessCodeDeliveryError) as raised:
        await delivery.delivered(timeout=10, poll_interval=POLL)
    assert raised.value.reason is DeliveryStatus.OVERLAPPING
    assert raised.value.password_id == delivery.password_id
    assert "overlapping" in str(raised.value)
    assert ZIGBEE_PIN not in str(raised.value)
    code = await delivery.status()
    assert code.state is AccessCodeState.FAILED
    assert await sim.type_code(front, ZIGBEE_PIN) is False


async def test_a_full_lock_and_a_duplicate_pin_are_refused(sim: Simulator, cloud: LockCloud) -> None:
    front = sim.devices["front_door"]
    first = await cloud.access_codes.create(front, name="A", pin=ZIGBEE_PIN, radio="zigbee", **_window())
    await first.delivered(timeout=10, poll_interval=POLL)
    again = await cloud.access_codes.create(front, name="B", pin=ZIGBEE_PIN, radio="zigbee", **_window())
    with pytest.raises(AccessCodeDeliveryError) as duplicate:
        await again.delivered(timeout=10, poll_interval=POLL)
    assert duplicate.value.reason is DeliveryStatus.ALREADY_EXISTS
    sim.world.access_codes.capacity = 1
    full = await cloud.access_codes.create(front, name="C", pin="111222", radio="zigbee", **_window())
    with pytest.raises(AccessCodeDeliveryError) as capacity:
        await full.delivered(timeout=10, poll_interval=POLL)
    assert capacity.value.reason is DeliveryStatus.CAPACITY_REACHED


async def test_an_offline_zigbee_lock_runs_into_the_deadline(
    sim: Simulator, cloud: LockCloud, lockcloud_faults: FaultInjector
) -> None:
    front = sim.devices["front_door"]
    with lockcloud_faults.offline(front):
        delivery = await cloud.access_codes.create(
            front, name="Far", pin=ZIGBEE_PIN, radio="zigbee", **_window()
        )
        with pytest.raises(AccessCodeDeliveryTimeoutError) as raised:
            await delivery.delivered(timeout=0.2, poll_interval=POLL)
    assert isinstance(raised.value, TimeoutError)
    assert raised.value.password_id == delivery.password_id
    # Back online, the lock takes it.
    assert (await delivery.delivered(timeout=10, poll_interval=POLL)).state is AccessCodeState.ACTIVE


async def test_windows_single_use_and_schedules_are_enforced(sim: Simulator, cloud: LockCloud) -> None:
    back = sim.devices["back_door"]
    start = dt.datetime(2030, 5, 3, 15, 0, tzinfo=PARIS)  # a Friday
    end = dt.datetime(2030, 5, 12, 11, 0, tzinfo=PARIS)
    weekdays = Schedule.weekly({"mon", "tue", "wed", "thu", "fri"}, "09:00", "17:00")
    office = await cloud.access_codes.create(
        back,
        name="Office",
        pin="1234567",
        radio="wifi",
        valid_from=start,
        valid_until=end,
        schedules=[weekdays],
    )
    once = await cloud.access_codes.create(
        back, name="Once", pin="7654321", radio="wifi", valid_from=start, valid_until=end, single_use=True
    )
    await office.delivered(timeout=5, poll_interval=POLL)
    await once.delivered(timeout=5, poll_interval=POLL)

    def at(day: int, hour: int, minute: int = 0) -> float:
        return dt.datetime(2030, 5, day, hour, minute, tzinfo=PARIS).timestamp()

    assert await sim.type_code(back, "1234567", at=at(3, 14, 59)) is False  # before the window
    assert await sim.type_code(back, "1234567", at=at(3, 16, 59)) is True  # Friday, inside the hours
    assert await sim.type_code(back, "1234567", at=at(3, 17, 0)) is False  # Friday, hours over
    assert await sim.type_code(back, "1234567", at=at(4, 10)) is False  # Saturday
    assert await sim.type_code(back, "1234567", at=at(6, 9)) is True  # Monday 09:00
    assert await sim.type_code(back, "1234567", at=at(12, 12)) is False  # after valid_until
    assert await sim.type_code(back, "7654321", at=at(4, 10)) is True
    assert await sim.type_code(back, "7654321", at=at(4, 11)) is False  # used up
    listed = {code.name: code for code in await cloud.access_codes.list(back, radio="wifi")}
    assert listed["Office"].schedules == [weekdays]
    assert listed["Office"].time_zone == "Europe/Paris"


async def test_repeated_wrong_codes_raise_the_alarm(sim: Simulator, cloud: LockCloud) -> None:
    back = sim.devices["back_door"]
    before = len(sim.pushes)
    for _ in range(3):
        assert await sim.type_code(back, "0000000") is False
    alarms = [
        item for push in sim.pushes[before:] for item in push.body["status"] if item["code"] == "alarm_lock"
    ]
    assert [item["value"] for item in alarms] == ["wrong_password"]


async def test_freeze_modify_delete_clear_and_sync(sim: Simulator, cloud: LockCloud) -> None:
    front = sim.devices["front_door"]
    codes = cloud.access_codes
    delivery = await codes.create(
        front, name="Guest", pin=ZIGBEE_PIN, radio="zigbee", phone="+33-600000000", **_window()
    )
    await delivery.delivered(timeout=10, poll_interval=POLL)
    number = delivery.password_id
    assert await codes.freeze(front, number) is True
    assert (await codes.get(front, number)).state is AccessCodeState.FROZEN
    assert await sim.type_code(front, ZIGBEE_PIN) is False
    assert await codes.unfreeze(front, number) is True
    assert (await codes.get(front, number)).state is AccessCodeState.ACTIVE
    changed = await codes.modify(
        front, number, name="Guest (late)", pin="135790", radio="zigbee", **_window()
    )
    assert (await changed.delivered(timeout=10, poll_interval=POLL)).name == "Guest (late)"
    assert await sim.type_code(front, ZIGBEE_PIN) is False
    assert await sim.type_code(front, "135790") is True
    assert await codes.sync(front) is True
    assert [code.id for code in await codes.list(front, valid=True)] == [number]
    assert await codes.delete(front, number) is True
    assert await codes.list(front, valid=True) == []
    second = await codes.create(front, name="Other", pin="246801", radio="zigbee", **_window())
    third = await codes.create(front, name="Third", pin="246802", radio="zigbee", **_window())
    assert await codes.clear(front) is True
    assert [code.id for code in await codes.list(front, valid=True)] == []
    assert {code.id for code in await codes.list(front, valid=False)} >= {
        second.password_id,
        third.password_id,
    }


async def test_freezing_is_zigbee_only_in_the_simulator(sim: Simulator, cloud: LockCloud) -> None:
    back = sim.devices["back_door"]
    delivery = await cloud.access_codes.create(back, name="Guest", pin=WIFI_PIN, radio="wifi", **_window())
    with pytest.raises(UnsupportedError):
        await cloud.access_codes.freeze(back, delivery.password_id)


async def test_creating_is_never_replayed(sim: Simulator, cloud: LockCloud) -> None:
    front = sim.devices["front_door"]
    sim.lose_next_response(action="create_temp_password")
    with pytest.raises(OutcomeUnknownError):
        await cloud.access_codes.create(front, name="Guest", pin=ZIGBEE_PIN, radio="zigbee", **_window())
    assert_executed(sim, "create_temp_password", 1)
    sim.lose_next_response(action="offline_password")
    with pytest.raises(OutcomeUnknownError):
        await cloud.access_codes.offline_once(front)
    assert_executed(sim, "offline_password", 1)


async def test_reads_and_deletes_retry(sim: Simulator, cloud: LockCloud) -> None:
    front = sim.devices["front_door"]
    delivery = await cloud.access_codes.create(
        front, name="Guest", pin=ZIGBEE_PIN, radio="zigbee", **_window()
    )
    sim.lose_next_response(action="get_temp_password")
    assert (await delivery.status()).id == delivery.password_id
    assert_executed(sim, "get_temp_password", 2)
    sim.lose_next_response(action="list_temp_passwords")
    assert len(await cloud.access_codes.list(front)) == 1
    sim.lose_next_response(action="freeze_temp_password")
    await delivery.delivered(timeout=10, poll_interval=POLL)
    assert await cloud.access_codes.freeze(front, delivery.password_id) is True
    assert_executed(sim, "freeze_temp_password", 2)


async def test_offline_codes_are_whole_hours_and_secret(
    sim: Simulator, cloud: LockCloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    back = sim.devices["back_door"]
    hour = dt.datetime.now(PARIS).replace(minute=0, second=0, microsecond=0)
    exact = await cloud.access_codes.create_offline(
        back, valid_from=hour, valid_until=hour + dt.timedelta(hours=3)
    )
    assert exact.kind is OfflineCodeKind.MULTIPLE
    assert (exact.valid_from, exact.valid_until) == (hour, hour + dt.timedelta(hours=3))
    widened = await cloud.access_codes.create_offline(
        back,
        valid_from=hour + dt.timedelta(minutes=20),
        valid_until=hour + dt.timedelta(hours=2, minutes=10),
        round_to_hour=True,
        name="Plumber",
    )
    # Widened, never narrowed: the guest keeps every minute asked for.
    assert (widened.valid_from, widened.valid_until) == (hour, hour + dt.timedelta(hours=3))
    once = await cloud.access_codes.offline_once(back)
    dynamic = await cloud.access_codes.dynamic(back)
    for secret in (exact, widened, once, dynamic):
        assert secret.code.isdigit()
        assert secret.code not in repr(secret)
        assert secret.code not in str(secret)
        assert secret.code not in caplog.text
    assert await sim.type_code(back, exact.code) is True
    assert await sim.type_code(back, once.code) is True
    assert await sim.type_code(back, once.code) is False
    assert await sim.type_code(back, dynamic.code) is True
    clear_one = await cloud.access_codes.offline_clear_code(back, exact.password_id)  # type: ignore[arg-type]
    assert clear_one.kind is OfflineCodeKind.CLEAR_ONE
    assert await sim.type_code(back, clear_one.code) is False  # a clear code opens nothing ...
    assert await sim.type_code(back, exact.code) is False  # ... and the cleared code no longer works
    clear_all = await cloud.access_codes.offline_clear_all_code(back)
    assert await sim.type_code(back, clear_all.code) is False
    assert await sim.type_code(back, widened.code) is False


async def test_pins_and_phones_stay_out_of_logs(
    sim: Simulator, cloud: LockCloud, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    front = sim.devices["front_door"]
    delivery = await cloud.access_codes.create(
        front, name="Guest", pin="909192", radio="zigbee", phone="+33-611223344", **_window()
    )
    code = await delivery.delivered(timeout=10, poll_interval=POLL)
    assert "909192" not in caplog.text
    assert "611223344" not in caplog.text
    assert "611223344" not in repr(code)
    assert code.phone == "+33-611223344"


@pytest.mark.parametrize(
    ("radio", "phase", "delivery", "expected"),
    [
        (None, 1, 1, AccessCodeState.PENDING_DELIVERY),
        (None, 3, 2, AccessCodeState.FROZEN),  # a delivery_status means Zigbee: 3 is frozen
        (None, 3, None, AccessCodeState.DELETING),  # without one, Wi-Fi/Bluetooth: 3 is "to be deleted"
        (None, 4, 2, AccessCodeState.DELETED),
        (None, 5, 3, AccessCodeState.FAILED),
        (LockRadio.WIFI, 0, None, AccessCodeState.DELETED),
        (LockRadio.WIFI, 7, None, AccessCodeState("phase-7")),
        (LockRadio.BLUETOOTH, 7, None, AccessCodeState.FAILED),
        (LockRadio.ZIGBEE, 9, None, AccessCodeState("phase-9")),
    ],
)
def test_each_radio_phase_maps_to_one_state(
    radio: LockRadio | None, phase: int, delivery: int | None, expected: AccessCodeState
) -> None:
    code = TemporaryCode(
        id=1, phase=phase, delivery_status=None if delivery is None else DeliveryStatus(delivery)
    )
    state = code_state(code, radio, 0.0)
    assert state == expected
    assert state.is_known is expected.is_known


def test_an_active_code_past_its_window_is_expired() -> None:
    ended = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    code = TemporaryCode(id=1, phase=2, invalid_time=ended, delivery_status=DeliveryStatus.SUCCEEDED)
    assert code_state(code, None, ended.timestamp() - 1) is AccessCodeState.ACTIVE
    assert code_state(code, None, ended.timestamp()) is AccessCodeState.EXPIRED


async def test_the_deadline_holds_while_a_read_hangs(
    sim: Simulator, cloud: LockCloud, lockcloud_faults: FaultInjector
) -> None:
    front = sim.devices["front_door"]
    delivery = await cloud.access_codes.create(
        front, name="Slow", pin=ZIGBEE_PIN, radio="zigbee", **_window()
    )
    with lockcloud_faults.latency(30), pytest.raises(AccessCodeDeliveryTimeoutError) as raised:
        await delivery.delivered(timeout=0.2, poll_interval=POLL)
    assert raised.value.timeout == 0.2

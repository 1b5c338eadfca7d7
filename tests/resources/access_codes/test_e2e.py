"""Guest access codes end to end over loopback: the simulator served by uvicorn, its status reports through a
pulsar-lite broker to the library's event stream; and one code created by the official SDK's raw signed call."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import logging
import time
from typing import Any

import pytest
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad, unpad

from lockcloud import AccessCodeState, DeliveryStatus, Schedule
from lockcloud._core.wire import ACCESS_CODE_ENDPOINTS
from lockcloud.events import StatusReport
from lockcloud.sim import SimServer

from support import FAST_RETRY

POLL = 0.02


@pytest.fixture
def server(lockcloud_server: SimServer) -> SimServer:
    lockcloud_server.simulator.world.access_codes.delivery_delay = 0.1
    return lockcloud_server


def _window() -> dict[str, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return {"valid_from": now - dt.timedelta(hours=1), "valid_until": now + dt.timedelta(days=2)}


async def test_every_access_code_call_over_loopback(server: SimServer) -> None:
    sim = server.simulator
    front, back = server.devices["front_door"], server.devices["back_door"]
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    async with server.client(retry=FAST_RETRY) as cloud:
        codes = cloud.access_codes
        delivery = await codes.create(
            front,
            name="Weekdays",
            pin="482913",
            radio="zigbee",
            schedules=[Schedule.weekly({"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, 0, 1439)],
            time_zone="Europe/Paris",
            phone="+33-600000000",
            related_devices=["sim-bt-accessory"],
            **_window(),
        )
        code = await delivery.delivered(timeout=10, poll_interval=POLL)
        assert code.delivery_status is DeliveryStatus.SUCCEEDED
        number = code.id
        assert [c.id for c in await codes.list(front, valid=True)] == [number]
        assert await codes.freeze(front, number) is True
        assert (await codes.get(front, number)).state is AccessCodeState.FROZEN
        assert await codes.unfreeze(front, number) is True
        await (
            await codes.modify(front, number, name="Renamed", pin="135790", radio="zigbee", **_window())
        ).delivered(timeout=10, poll_interval=POLL)
        assert await codes.sync(front) is True
        assert await codes.delete(front, number) is True
        assert await codes.clear(front) is True
        unnamed = await codes.create(front, pin="975310", radio="zigbee", **_window())
        assert (await unnamed.delivered(timeout=10, poll_interval=POLL)).name == ""
        offline = await codes.create_offline(back, valid_from=hour, valid_until=hour + dt.timedelta(hours=2))
        await codes.offline_once(back)
        await codes.offline_clear_code(back, offline.password_id or 0)
        await codes.offline_clear_all_code(back)
        assert (await codes.dynamic(back)).code.isdigit()
    executed = {record.action for record in sim.actions}
    assert {endpoint.action for endpoint in ACCESS_CODE_ENDPOINTS} <= executed
    assert all(record.code is None for record in sim.requests)


async def test_a_guest_typing_the_code_is_a_status_report_on_the_stream(server: SimServer) -> None:
    sim = server.simulator
    front = server.devices["front_door"]
    async with server.client(retry=FAST_RETRY) as cloud, cloud.events(url=server.pulsar_url) as stream:
        reports = stream.subscribe(StatusReport, device_id=front)
        delivery = await cloud.access_codes.create(
            front, name="Guest", pin="246810", radio="zigbee", **_window()
        )
        code = await delivery.delivered(timeout=10, poll_interval=POLL)
        assert await sim.type_code(front, "246810") is True
        opened = await anext(reports)
        reports.ack(opened)
        for _ in range(3):
            assert await sim.type_code(front, "000000") is False
        alarm = await anext(reports)
        reports.ack(alarm)
    assert {(item.code, item.value) for item in opened.status} == {
        ("unlock_temporary", code.id),
        ("closed_opened", "open"),
    }
    assert [(item.code, item.value) for item in alarm.status] == [("alarm_lock", "wrong_password")]


def _hand_sealed(ticket_key_hex: str, access_secret: str, pin: str) -> str:
    """The ticket scheme written out from the page, without lockcloud: AES-256-ECB under the access secret opens
    the ticket key, AES-128-ECB under that key seals the PIN (PKCS7), upper-case hex."""
    key = unpad(AES.new(access_secret.encode(), AES.MODE_ECB).decrypt(bytes.fromhex(ticket_key_hex)), 16)
    return AES.new(key, AES.MODE_ECB).encrypt(pad(pin.encode(), 16)).hex().upper()


@pytest.mark.skipif(
    importlib.util.find_spec("tuya_connector") is None, reason="tuya-connector-python is not installed"
)
async def test_the_official_sdk_creates_a_code_with_a_hand_sealed_pin(
    server: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tuya_connector import TuyaOpenAPI

    # The official SDK logs whole answers, ticket keys included: not something to keep in a test's log.
    monkeypatch.setattr(logging.getLogger("tuya iot"), "disabled", True)

    sim = server.simulator
    back = server.devices["back_door"]
    now = int(time.time())

    def official() -> tuple[dict[str, Any], dict[str, Any]]:
        api = TuyaOpenAPI(server.base_url, server.access_id, server.access_secret)
        assert api.connect()["success"]
        return create(api, "765432"), create(api, "7654321")

    def create(api: Any, pin: str) -> dict[str, Any]:
        ticket = api.post(f"/v1.0/devices/{back}/door-lock/password-ticket")
        assert ticket["success"], ticket
        body = {
            "name": "From the official SDK",
            "password": _hand_sealed(ticket["result"]["ticket_key"], server.access_secret, pin),
            "password_type": "ticket",
            "ticket_id": ticket["result"]["ticket_id"],
            "effective_time": now - 60,
            "invalid_time": now + 3600,
            "type": 0,
        }
        created: dict[str, Any] = api.post(f"/v1.0/devices/{back}/door-lock/temp-password", body)
        return created

    too_short, created = await asyncio.to_thread(official)
    # A Wi-Fi lock takes 7 digits: the simulator opened the sealed PIN and counted them.
    assert (too_short["success"], too_short["code"]) == (False, 1109)
    assert created["success"], created
    async with server.client(retry=FAST_RETRY) as cloud:
        code = await cloud.access_codes.get(back, created["result"]["id"], radio="wifi")
    assert code.name == "From the official SDK"
    assert code.state is AccessCodeState.ACTIVE
    assert await sim.type_code(back, "7654321") is True

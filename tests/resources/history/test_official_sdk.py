"""The simulator serves the documented wire: the official SDK's raw calls on the documented paths work too."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lockcloud.enums import UnlockType
from lockcloud.sim import SimServer

tuya_connector = pytest.importorskip("tuya_connector")


def _read(server: SimServer, device: str) -> dict[str, Any]:
    api = tuya_connector.TuyaOpenAPI(server.base_url, server.access_id, server.simulator.access_secret)
    assert api.connect()["success"] is True
    query = {"target_standard_dp_codes": "unlock_card,hijack", "start_time": 0, "end_time": 0}
    first = api.get(f"/v1.0/devices/{device}/door-lock/records", {**query, "page_no": 1, "page_size": 1})
    second = api.get(f"/v1.0/devices/{device}/door-lock/records", {**query, "page_no": 2, "page_size": 1})
    status = api.get(f"/v2.0/cloud/thing/{device}/shadow/properties")
    alarms = api.get(
        f"/v1.0/devices/{device}/door-lock/alarm-logs", {"page_no": 1, "page_size": 10, "codes": "hijack"}
    )
    return {"first": first, "second": second, "status": status, "alarms": alarms}


async def test_raw_calls_on_the_documented_paths(lockcloud_server: SimServer) -> None:
    sim = lockcloud_server.simulator
    back = lockcloud_server.devices["back_door"]
    sim.lock(back).keys[3].hijack = True
    sim.unlock_at_door(back, UnlockType.CARD, 3, at=1_790_000_000)
    answers = await asyncio.to_thread(_read, lockcloud_server, back)
    first, second = answers["first"]["result"], answers["second"]["result"]
    assert (first["total"], first["total_pages"], first["has_more"]) == (2, 2, True)
    assert second["has_more"] is False
    assert {first["records"][0]["dps"][0]["dp_code"], second["records"][0]["dps"][0]["dp_code"]} == {
        "unlock_card",
        "hijack",
    }
    codes = {item["code"] for item in answers["status"]["result"]["properties"]}
    assert {"residual_electricity", "closed_opened", "lock_motor_state"} <= codes
    (alarm,) = answers["alarms"]["result"]["records"]
    assert alarm["status"] == {"code": "hijack", "value": "unlock_card-03"}

"""The console over real loopback HTTP: its page and snapshot, the actions of the person at the lock (through the
simulator, pushes included), the refusals that keep other origins out, and the server-sent event stream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from lockcloud import DeviceOfflineError, ServerError
from lockcloud.enums import UnlockType, UserType
from lockcloud.sim import DEMO_PIN, SimServer, Simulator, running
from lockcloud.sim.console import Console, is_loopback
from lockcloud.sim.console._server import TOKEN_HEADER

from .conftest import Page
from support import fast_retry

pytestmark = pytest.mark.broker

FAST_RETRY = fast_retry(max_attempts=2)


def _reported(server: SimServer, device_id: str, since: int) -> dict[str, Any]:
    """Every status code the lock reported in the push messages after the first ``since`` (one report or several)."""
    reported: dict[str, Any] = {}
    for message in server.simulator.pushes[since:]:
        if message.protocol == 4 and message.device_id == device_id:
            reported.update({item["code"]: item["value"] for item in message.body["status"]})
    return reported


async def test_page_needs_the_token_and_ships_a_strict_policy(page: Page) -> None:
    refused = await page.http.get("/console/")
    assert refused.status_code == 403
    assert "token" in refused.text
    wrong = await page.http.get("/console/", params={"token": page.token + "x"})
    assert wrong.status_code == 403
    shown = await page.http.get(page.url)
    assert shown.status_code == 200
    assert shown.headers["content-type"].startswith("text/html")
    policy = shown.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert '<script src="static/console.js"' in shown.text
    for asset in ("console.js", "console.css", "favicon.svg"):
        static = await page.http.get(f"/console/static/{asset}")
        assert static.status_code == 200
    for unknown in ("_server.py", "index.html", "..%2f_server.py"):
        assert (await page.http.get(f"/console/static/{unknown}")).status_code == 404
    # The simulator's API is still served beside the console.
    assert (await page.http.get("/v1.0/token", params={"grant_type": "1"})).json()["success"] is False


async def test_snapshot_shows_every_lock_with_its_keys_by_member(page: Page, server: SimServer) -> None:
    state = await page.state()
    assert {lock["device_id"] for lock in state["locks"]} == set(server.devices.values())
    front = page.lock(state, server.devices["front_door"])
    assert front["model"] == "Zigbee lock"
    assert front["radio"] == "Zigbee"
    assert (front["online"], front["battery"], front["door"], front["bolt"]) == (
        True,
        100,
        "closed",
        "locked",
    )
    alice = next(member for member in front["members"] if member["user_id"] == "sim-alice")
    assert [key["unlock_no"] for key in alice["keys"]] == [1, 2]
    unassigned = next(member for member in front["members"] if member["user_id"] is None)
    assert [key["unlock_no"] for key in unassigned["keys"]] == [3]
    assert DEMO_PIN not in json.dumps(state)
    shed = page.lock(state, server.devices["shed"])
    assert shed["radio"] == "Bluetooth via gateway"


async def test_rest_calls_newest_first_with_code_and_tid(page: Page, server: SimServer) -> None:
    front = server.devices["front_door"]
    server.simulator.fail_next(2001, action="list_unassigned_keys")
    async with server.client() as cloud:
        await cloud.unlock_methods.list_assigned(front, "sim-alice", UserType.HOME_USER)
        with pytest.raises(DeviceOfflineError) as caught:
            await cloud.unlock_methods.list_unassigned(front)
    state = await page.state()
    newest = state["requests"][0]
    assert newest["method"] == "GET"
    assert "unassigned" in newest["path"]
    assert newest["code"] == 2001
    assert newest["tid"] == caught.value.tid
    assert [r["seq"] for r in state["requests"]] == sorted(
        (r["seq"] for r in state["requests"]), reverse=True
    )


async def test_place_finger_completes_the_clients_enrollment(page: Page, server: SimServer) -> None:
    front = server.devices["front_door"]
    async with server.client() as cloud:
        await cloud.unlock_methods.enroll(front, "sim-alice", UserType.HOME_USER, UnlockType.CARD)
        enrolling = page.lock(await page.state(), front)["enrollment"]
        assert enrolling == {
            "unlock_type": "card",
            "user_id": "sim-alice",
            "total": 1,
            "remaining": 1,
            "step": "Present card",
        }
        done = await page.act(do="press", device_id=front)
        assert done["ok"] is True
        assert "enrolled" in done["message"]
        keys = await cloud.unlock_methods.list_assigned(front, "sim-alice", 1, unlock_type="card")
    assert [key.unlock_no for key in keys] == [4]
    assert server.simulator.pushes[-1].biz_data["finish"] is True
    again = await page.act(expect=400, do="press", device_id=front)
    assert "not enrolling" in again["message"]


async def test_typed_pin_opens_the_door_and_reports_who(page: Page, server: SimServer) -> None:
    front = server.devices["front_door"]
    mark = len(server.simulator.pushes)
    opened = await page.act(do="type_pin", device_id=front, pin=DEMO_PIN)
    assert "unlocked with key #1" in opened["message"]
    assert DEMO_PIN not in opened["message"]
    reported = _reported(server, front, mark)
    assert (reported["unlock_password"], reported["closed_opened"]) == (1, "open")
    lock = page.lock(await page.state(), front)
    assert (lock["door"], lock["bolt"]) == ("open", "unlocked")
    mark = len(server.simulator.pushes)
    await page.act(do="door", device_id=front, open=False)
    assert _reported(server, front, mark) == {"closed_opened": "closed"}
    lock = page.lock(await page.state(), front)
    assert (lock["door"], lock["bolt"]) == ("closed", "locked")


async def test_wrong_pin_and_wrong_finger_raise_the_lock_alarm(page: Page, server: SimServer) -> None:
    back = server.devices["back_door"]
    mark = len(server.simulator.pushes)
    refused = await page.act(do="type_pin", device_id=back, pin="000000")
    assert "refused" in refused["message"]
    assert not any(code.startswith("unlock_") for code in _reported(server, back, mark))
    assert server.simulator.lock(back).door_open is False
    photos = len(server.simulator.lock(back).media)
    mark = len(server.simulator.pushes)
    await page.act(do="wrong_attempt", device_id=back, method="fingerprint")
    assert _reported(server, back, mark) == {"alarm_lock": "wrong_finger"}
    assert len(server.simulator.lock(back).media) == photos + 1  # the camera took the intruder's photo
    assert server.simulator.lock(back).door_open is False


async def test_duress_unlock_reports_hijack(page: Page, server: SimServer) -> None:
    front = server.devices["front_door"]
    none_set = await page.act(expect=400, do="duress_unlock", device_id=front)
    assert "duress" in none_set["message"]
    async with server.client() as cloud:
        await cloud.unlock_methods.set_duress_alarm(front, UnlockType.FINGERPRINT, 2)
    mark = len(server.simulator.pushes)
    await page.act(do="duress_unlock", device_id=front)
    reported = _reported(server, front, mark)
    assert (reported["unlock_fingerprint"], reported["closed_opened"]) == (2, "open")
    assert reported["hijack"]
    # Key 1 has no duress alarm: the lock could not raise one for it, so the console says so.
    plain_key = await page.act(expect=400, do="duress_unlock", device_id=front, unlock_no=1)
    assert "#1" in plain_key["message"]
    assert "no duress alarm" in plain_key["message"]


async def test_doorbell_battery_and_offline(page: Page, server: SimServer) -> None:
    sim, back = server.simulator, server.devices["back_door"]
    mark = len(sim.pushes)
    await page.act(do="ring_doorbell", device_id=back)
    assert sim.lock(back).pending_remote_request is True
    assert _reported(server, back, mark) == {"doorbell": True}
    mark = len(sim.pushes)
    await page.act(do="battery", device_id=back, level=8)
    reported = _reported(server, back, mark)
    assert (reported["residual_electricity"], reported["alarm_lock"]) == (8, "low_battery")
    assert page.lock(await page.state(), back)["battery"] == 8
    await page.act(do="online", device_id=back, online=False)
    pushes = len(sim.pushes)
    silent = await page.act(do="ring_doorbell", device_id=back)
    assert "offline" in silent["message"]
    assert len(sim.pushes) == pushes
    async with server.client() as cloud:
        with pytest.raises(DeviceOfflineError):
            await cloud.remote_unlock.unlock(back)
    await page.act(do="online", device_id=back, online=True)
    assert page.lock(await page.state(), back)["online"] is True


async def test_faults_injected_from_the_console_reach_the_client(page: Page, server: SimServer) -> None:
    front = server.devices["front_door"]
    await page.act(do="fault", kind="fail_next", code=2001, action="list_unassigned_keys")
    await page.act(do="fault", kind="latency", seconds=0)
    state = await page.state()
    assert state["faults"]["scripted"] == [
        {"code": 2001, "gateway": None, "lose": None, "action": "list_unassigned_keys", "times": 1}
    ]
    async with server.client(retry=FAST_RETRY) as cloud:
        with pytest.raises(DeviceOfflineError):
            await cloud.unlock_methods.list_unassigned(front)
        await page.act(do="fault", kind="outage", code=1111, rate=1)
        with pytest.raises(ServerError):
            await cloud.unlock_methods.list_unassigned(front)
        await page.act(do="fault", kind="clear")
        assert [key.unlock_no for key in await cloud.unlock_methods.list_unassigned(front)] == [3]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"do": "type_pin", "device_id": "sim-front-door", "pin": "12ab56"}, "pin"),
        ({"do": "type_pin", "device_id": "sim-front-door", "pin": "١٢٣٤٥٦"}, "pin"),
        ({"do": "type_pin", "device_id": "sim-front-door", "pin": "12"}, "pin"),
        ({"do": "type_pin", "device_id": "../etc", "pin": "123456"}, "device_id"),
        ({"do": "battery", "device_id": "sim-front-door", "level": 101}, "level"),
        ({"do": "battery", "device_id": "sim-front-door", "level": True}, "level"),
        ({"do": "door", "device_id": "sim-front-door", "open": "yes"}, "open"),
        ({"do": "fault", "kind": "latency", "seconds": "nan"}, "seconds"),
        ({"do": "fault", "kind": "outage", "code": 1111, "rate": 2}, "rate"),
        ({"do": "fault", "kind": "fail_next", "code": 1111, "action": "rm -rf"}, "action"),
        ({"do": "fault", "kind": "fail_at_gateway", "status": 200}, "status"),
        ({"do": "explode"}, "do"),
    ],
)
async def test_form_input_is_checked_on_the_server(
    page: Page, server: SimServer, fields: dict[str, Any], named: str
) -> None:
    before = (len(server.simulator.pushes), len(server.simulator.faults.scripted))
    refused = await page.act(expect=400, **fields)
    assert refused["ok"] is False
    assert refused["message"].startswith(named)
    assert (len(server.simulator.pushes), len(server.simulator.faults.scripted)) == before


async def test_actions_from_another_origin_are_refused(page: Page, server: SimServer) -> None:
    front = server.devices["front_door"]
    action = {"do": "ring_doorbell", "device_id": front}
    url = "/console/api/actions"
    cases = [
        ({TOKEN_HEADER: page.token, "origin": "http://evil.example"}, 403),
        ({"origin": page.origin}, 403),
        ({TOKEN_HEADER: "guess", "origin": page.origin}, 403),
        ({TOKEN_HEADER: page.token, "host": "evil.example"}, 421),
    ]
    for headers, status in cases:
        response = await page.http.post(url, json=action, headers=headers)
        assert response.status_code == status, headers
    plain = await page.http.post(
        url, content=json.dumps(action), headers={TOKEN_HEADER: page.token, "content-type": "text/plain"}
    )
    assert plain.status_code == 415
    big = await page.http.post(url, json={"do": "x" * 20_000}, headers={TOKEN_HEADER: page.token})
    assert big.status_code == 413
    assert (await page.http.get(url, headers={TOKEN_HEADER: page.token})).status_code == 405
    assert (await page.http.get(page.url, headers={"host": "evil.example"})).status_code == 421
    assert server.simulator.lock(front).pending_remote_request is False
    assert server.simulator.pushes == []


async def _next_state(lines: Any) -> dict[str, Any]:
    event = None
    async for line in lines:
        if line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: ") and event == "state":
            state: dict[str, Any] = json.loads(line.removeprefix("data: "))
            return state
    raise AssertionError("the event stream ended")


async def test_event_stream_sends_a_fresh_snapshot_on_every_change(page: Page, server: SimServer) -> None:
    back = server.devices["back_door"]
    refused = await page.http.get("/console/api/events")
    assert refused.status_code == 403
    async with page.http.stream("GET", "/console/api/events", params={"token": page.token}) as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.aiter_lines()
        async with asyncio.timeout(10):
            first = await _next_state(lines)
            assert first["pushes"] == []
            await page.act(do="ring_doorbell", device_id=back)
            state = await _next_state(lines)
            while not state["pushes"]:
                state = await _next_state(lines)
    assert state["pushes"][0]["body"]["status"][0]["code"] == "doorbell"
    assert state["pushes"][0]["device_id"] == back


async def test_closing_the_console_ends_its_event_streams() -> None:
    async with running(broker=False) as server, httpx.AsyncClient(base_url=server.base_url) as http:
        assert server.console is not None
        async with http.stream(
            "GET", "/console/api/events", params={"token": server.console.token}
        ) as events:
            lines = events.aiter_lines()
            async with asyncio.timeout(10):
                await _next_state(lines)
                server.console.close()
                rest = [line async for line in lines]
    assert not any(line.startswith("data: ") for line in rest)


async def test_console_can_be_switched_off() -> None:
    async with (
        running(broker=False, console=False) as server,
        httpx.AsyncClient(base_url=server.base_url) as http,
    ):
        assert server.console_url is None
        answer = await http.get("/console/")
    assert answer.json()["success"] is False  # the simulator's own "no API here"


def test_loopback_and_host_checks() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.0.0.2")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.168.1.10")
    console = Console(Simulator())
    console.bind("127.0.0.1", 8123)
    assert console.url("http://127.0.0.1:8123").startswith("http://127.0.0.1:8123/console/?token=")
    assert console._host_ok("localhost:8123")
    assert not console._host_ok("localhost:8124")
    assert not console._host_ok("attacker.example:8123")
    assert console.token not in repr(console)


async def test_an_enrollment_can_run_by_itself(page: Page, server: SimServer) -> None:
    front = server.devices["front_door"]
    refused = await page.act(expect=400, do="auto_press", device_id=front, interval=0.01)
    assert "not enrolling" in refused["message"]
    async with server.client() as cloud, cloud.events(url=server.pulsar_url) as stream:
        async with cloud.enroll(
            front,
            user_id="sim-alice",
            user_type=UserType.HOME_USER,
            unlock_type=UnlockType.FINGERPRINT,
            events=stream,
        ) as enrollment:
            async for progress in enrollment:
                if progress.total_period is not None:
                    await page.act(do="auto_press", device_id=front, interval=0.01)
        assert enrollment.result.ok
    assert server.simulator.lock(front).enrollment is None
    nan = await page.act(expect=400, do="auto_press", device_id=front, interval="nan")
    assert nan["message"].startswith("interval")

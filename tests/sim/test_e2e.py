"""End to end over real loopback sockets: the simulator served by uvicorn, pushes through a pulsar-lite broker,
the library's own calls and event stream on the other side."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx
import pytest

from lockcloud import OutcomeUnknownError, SignatureError
from lockcloud._client import LockCloud
from lockcloud._core.signing import canonical_url, compute_sign, string_to_sign
from lockcloud._core.wire import ACCESS_CODE_ENDPOINTS
from lockcloud.enrollment import EnrollmentStatus
from lockcloud.enums import RemoteUnlockType, UnlockType, UserType
from lockcloud.events import EnrollmentProgress, StatusReport
from lockcloud.sim import DEMO_PIN, SimServer, Simulator, running
from lockcloud.sim._model import APPLICABILITY
from lockcloud.sim.broker import LocalBroker

from support import FAST_RETRY


async def _next_progress(subscription: Any) -> EnrollmentProgress:
    event = await anext(subscription)
    assert isinstance(event, EnrollmentProgress)
    subscription.ack(event)
    return event


async def test_every_endpoint_over_loopback(server: SimServer) -> None:
    sim = server.simulator
    d = server.devices
    async with server.client(retry=FAST_RETRY) as cloud:
        um, ru = cloud.unlock_methods, cloud.remote_unlock
        keys = await um.list_assigned(d["front_door"], "sim-alice", UserType.HOME_USER)
        assert [key.unlock_no for key in keys] == [1, 2]
        assert [key.unlock_no for key in await um.list_unassigned(d["front_door"])] == [3]
        assert await um.sync(d["garage"]) is True
        assert await um.enroll(d["front_door"], "sim-alice", 1, UnlockType.CARD) is True
        assert await um.cancel_enrollment(d["front_door"], UnlockType.CARD) is True
        assert await um.delete(d["front_door"], "sim-alice", 1, UnlockType.FINGERPRINT, 2) is True
        assert await um.rename(d["office"], 1, UnlockType.CARD, "Badge 7") is True
        assert await um.set_duress_alarm(d["back_door"], UnlockType.FINGERPRINT, 1) is True
        assert await um.remove_duress_alarm(d["back_door"], UnlockType.FINGERPRINT, 1) is True
        assert await um.set_special_attribute(d["back_door"], 1, 1, True) is True
        methods = await ru.list_methods(d["shed"])
        assert {m.remote_unlock_type for m in methods} == set(RemoteUnlockType)
        assert await ru.set_method_enabled(d["back_door"], RemoteUnlockType.WITHOUT_PASSWORD, True) is True
        assert await ru.open_door(d["front_door"], pin=DEMO_PIN) is True
        assert await ru.open_door_without_password(d["shed"]) is True
        assert await ru.open_door_without_password(d["office"], channel_id=1) is True
        assert await ru.revoke(d["back_door"], 2) is True
        assert await ru.lock(d["back_door"]) is True
        assert await ru.unlock(d["back_door"]) is True
        ticket = await ru.get_password_ticket(d["porch"])
        assert len(ticket.ticket_key) == 64
        assert await cloud.request("POST", f"/v1.0/devices/{d['office']}/door-lock/password-ticket")
        media = await ru.latest_media(d["back_door"], 1)
        assert media is not None
        assert (await ru.download_media(media)).startswith(b"\x89PNG")
        album = await ru.albums(d["porch"])
        assert len(album.entries) == 3
        assert (await ru.download_media(album.entries[0])).startswith(b"\x89PNG")
    executed = {record.action for record in sim.actions}
    # Guest access codes go over loopback in tests/resources/access_codes/test_e2e.py.
    access_codes = {endpoint.action for endpoint in ACCESS_CODE_ENDPOINTS}
    assert set(APPLICABILITY) - access_codes <= executed
    assert sim.lock(d["front_door"]).door_open is True
    assert sim.lock(d["back_door"]).door_open is True
    assert all(record.code is None for record in sim.requests)


async def test_enrollment_success_observed_through_the_event_stream(server: SimServer) -> None:
    sim = server.simulator
    front = server.devices["front_door"]
    async with server.client() as cloud, cloud.events(url=server.pulsar_url) as stream:
        progress = stream.enrollment_progress(front)
        await cloud.unlock_methods.enroll(front, "sim-alice", UserType.HOME_USER, UnlockType.FINGERPRINT)
        raised = await _next_progress(progress)
        assert raised.raised is True
        assert raised.finish is False
        total = await _next_progress(progress)
        assert total.total_period == 5
        periods = []
        for _ in range(5):
            await sim.press_finger(front)
            event = await _next_progress(progress)
            periods.append((event.period, event.finish))
        assert periods == [(4, False), (3, False), (2, False), (1, False), (0, True)]
        keys = await cloud.unlock_methods.list_assigned(front, "sim-alice", 1, unlock_type="fingerprint")
        assert [key.unlock_no for key in keys] == [2, 4]


async def test_enroll_conversation_completes_with_automatic_presses(session_broker: LocalBroker) -> None:
    async with (
        running(broker_url=session_broker.url, press_interval=0.01, push_encryption="aes_ecb") as server,
        server.client() as cloud,
        cloud.events(url=server.pulsar_url) as stream,
    ):
        front = server.devices["front_door"]
        async with cloud.enroll(
            front, user_id="sim-alice", user_type=1, unlock_type=UnlockType.FINGERPRINT, events=stream
        ) as enrollment:
            periods = [progress.period async for progress in enrollment]
        result = enrollment.result
    assert periods == [5, 5, 4, 3, 2, 1, 0]
    assert result.status is EnrollmentStatus.COMPLETED
    assert result.total_period == 5
    assert result.key is not None
    assert result.key.unlock_no == 4


async def test_enrollment_cancel_observed_through_the_event_stream(server: SimServer) -> None:
    sim = server.simulator
    front = server.devices["front_door"]
    async with server.client() as cloud, cloud.events(url=server.pulsar_url) as stream:
        async with cloud.enroll(
            front, user_id="sim-alice", user_type=1, unlock_type=UnlockType.FINGERPRINT, events=stream
        ) as enrollment:
            async for progress in enrollment:
                if progress.total_period is not None:
                    await sim.press_finger(front)
                if progress.period == 4:
                    await enrollment.cancel()
        result = enrollment.result
        assert result.status is EnrollmentStatus.CANCELLED
        assert result.cancel_confirmed is True
        # A cancel by hand shows up as operate=2 on a plain subscription too.
        by_hand = stream.enrollment_progress(front)
        await cloud.unlock_methods.enroll(front, "sim-alice", 1, UnlockType.CARD)
        await cloud.unlock_methods.cancel_enrollment(front, UnlockType.CARD)
        operates = [(await _next_progress(by_hand)).operate for _ in range(3)]
    assert [int(op) for op in operates] == [1, 1, 2]
    assert sim.lock(front).enrollment is None
    assert [key.unlock_no for key in sim.lock(front).keys.values()] == [1, 2, 3]


async def test_door_state_reports_arrive_as_status_events(server: SimServer) -> None:
    front = server.devices["front_door"]
    async with server.client() as cloud, cloud.events(url=server.pulsar_url) as stream:
        reports = stream.subscribe(StatusReport, device_id=front)
        await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
        report = await anext(reports)
        reports.ack(report)
    assert [(item.code, item.value) for item in report.status] == [("closed_opened", "open")]


async def test_bad_signatures_and_expired_tokens_over_loopback(server: SimServer) -> None:
    sim = server.simulator
    front = server.devices["front_door"]
    async with LockCloud(server.access_id, "w" * 32, base_url=server.base_url, retry=FAST_RETRY) as wrong:
        with pytest.raises(SignatureError) as raised:
            await wrong.unlock_methods.list_unassigned(front)
        assert raised.value.code == 1004
    async with server.client(retry=FAST_RETRY) as cloud:
        await cloud.unlock_methods.list_unassigned(front)
        stale = cloud.tokens._token
        assert stale is not None
        sim.expire_tokens()
        # The client is told 1010, heals its token and replays once.
        assert await cloud.remote_unlock.open_door(front, pin=DEMO_PIN) is True
        assert len(sim.executed("open_door")) == 1
        assert 1010 in [record.code for record in sim.requests]
    path = f"/v1.0/devices/{front}/door-lock/unassigned-keys"
    t = str(int(time.time() * 1000))
    to_sign = string_to_sign("GET", b"", canonical_url(path))
    sign = compute_sign(server.access_secret, server.access_id, t, to_sign, access_token=stale.access_token)
    headers = {"client_id": server.access_id, "t": t, "sign": sign, "access_token": stale.access_token}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        envelope = (await http.get(path, headers=headers)).json()
    assert envelope["success"] is False
    assert envelope["code"] == 1010


async def test_lost_responses_over_loopback(server: SimServer) -> None:
    sim = server.simulator
    front = server.devices["front_door"]
    sim.lose_next_response(action="open_door")
    async with server.client(retry=FAST_RETRY) as cloud:
        with pytest.raises(OutcomeUnknownError) as raised:
            await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
        assert "RemoteProtocolError" in str(raised.value)
    sim.faults.hang_seconds = 5
    sim.lose_next_response(action="open_door", mode="timeout")
    async with server.client(retry=FAST_RETRY, timeout=0.3) as cloud:
        with pytest.raises(OutcomeUnknownError) as timed_out:
            await cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
        assert "may have been executed" in str(timed_out.value)
    assert [record.response_lost for record in sim.executed("open_door")] == [True, True]
    assert [record.action for record in sim.requests].count("open_door") == 2


async def test_running_starts_and_stops_its_own_broker(tmp_path: Any) -> None:
    sim = Simulator(press_interval=0.01)
    async with running(sim, data_dir=tmp_path) as server:
        assert server.pulsar_url is not None
        assert server.pulsar_url.startswith("pulsar://127.0.0.1:")
        front = server.devices["front_door"]
        async with server.client() as cloud, cloud.events(url=server.pulsar_url) as stream:
            progress = stream.enrollment_progress(front)
            await cloud.unlock_methods.enroll(front, "sim-alice", 1, UnlockType.CARD)
            finished = False
            while not finished:
                finished = (await _next_progress(progress)).finish
        host, port = server.base_url.removeprefix("http://").split(":")
        broker_port = int(server.pulsar_url.rsplit(":", 1)[1])
    for closed_port in (int(port), broker_port):
        with pytest.raises(OSError), socket.create_connection((host, closed_port), timeout=1):
            pass
    assert (tmp_path / "broker" / "broker.log").exists()


async def test_running_without_a_broker_still_records_pushes() -> None:
    async with running(broker=False) as server:
        assert server.pulsar_url is None
        async with server.client() as cloud:
            await cloud.unlock_methods.enroll(server.devices["back_door"], "sim-alice", 1, "card")
        assert len(server.simulator.pushes) == 2

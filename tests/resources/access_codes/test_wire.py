"""What the cloud answers, read strictly: undocumented phases and delivery statuses stay typed unknown, answers that
do not fit are errors that keep no secret, and schedules round-trip for every valid input."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockcloud import (
    AccessCodeState,
    DeliveryStatus,
    LockCloud,
    RetryPolicy,
    Schedule,
    UnexpectedResponseError,
    Weekday,
)

DEVICE = "dev-wire-1"
SECRET_CODE = "8837261904"


def _cloud_answering(result: Callable[[httpx.Request], Any]) -> Callable[[], Any]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1.0/token":
            value: Any = {"access_token": "at", "refresh_token": "rt", "expire_time": 7200, "uid": "u"}
        else:
            value = result(request)
        return httpx.Response(
            200, json={"success": True, "t": 1_700_000_000_000, "result": value, "tid": "t"}
        )

    return lambda: httpx.MockTransport(answer)


@pytest.fixture
def answering() -> Callable[[Callable[[httpx.Request], Any]], Any]:
    async def make(result: Callable[[httpx.Request], Any]) -> AsyncIterator[LockCloud]:
        async with (
            httpx.AsyncClient(transport=_cloud_answering(result)()) as http,
            LockCloud(
                "lcid-wire",
                "w" * 32,
                base_url="https://openapi.test",
                http_client=http,
                retry=RetryPolicy.never(),
            ) as cloud,
        ):
            yield cloud

    return make


async def test_unknown_phases_and_delivery_statuses_stay_typed(answering: Any) -> None:
    listed = [
        {"id": 1, "phase": 9, "delivery_status": 7, "effective_time": 1, "invalid_time": 4_000_000_000},
        {"id": 2, "phase": 2, "delivery_status": 2, "effective_time": 1, "invalid_time": 4_000_000_000},
        {"id": 3, "phase": 2, "effective_time": 1, "invalid_time": 2},
    ]
    async for cloud in answering(lambda _: listed):
        first, second, third = await cloud.access_codes.list(DEVICE)
    assert first.state == AccessCodeState("phase-9")
    assert first.state is not None
    assert not first.state.is_known
    assert first.delivery_status == 7
    assert first.delivery_status is not None
    assert not first.delivery_status.is_known
    assert second.state is AccessCodeState.ACTIVE
    assert second.delivery_status is DeliveryStatus.SUCCEEDED
    assert third.state is AccessCodeState.EXPIRED


async def test_an_offline_answer_that_does_not_fit_keeps_no_code(answering: Any) -> None:
    async for cloud in answering(lambda _: {"offline_temp_password": {"nested": SECRET_CODE}, "id": "x"}):
        with pytest.raises(UnexpectedResponseError) as raised:
            await cloud.access_codes.offline_once(DEVICE)
    assert SECRET_CODE not in str(raised.value)
    assert SECRET_CODE.encode() not in (raised.value.body or b"")


async def test_what_create_sends(answering: Any) -> None:
    sent: list[dict[str, Any]] = []
    import datetime as dt
    import zoneinfo

    from lockcloud.crypto import encrypt_ticket_key

    def result(request: httpx.Request) -> Any:
        if request.url.path.endswith("/password-ticket"):
            return {"ticket_id": "tk-1", "ticket_key": encrypt_ticket_key(b"k" * 16, "w" * 32)}
        sent.append(json.loads(request.content))
        return {"id": 77}

    paris = zoneinfo.ZoneInfo("Europe/Paris")
    async for cloud in answering(result):
        delivery = await cloud.access_codes.create(
            DEVICE,
            name="Guest",
            pin="482913",
            radio="zigbee",
            valid_from=dt.datetime(2030, 5, 3, 15, 0, tzinfo=paris),
            valid_until=dt.datetime(2030, 5, 5, 11, 0, tzinfo=paris),
            schedules=[Schedule.weekly({"sat", "sun"}, "10:00", "12:30")],
            single_use=True,
        )
    assert delivery.password_id == 77
    (body,) = sent
    assert body.pop("password") not in ("", "482913")
    assert body == {
        "name": "Guest",
        "effective_time": 1_904_043_600,  # 2030-05-03 13:00 UTC
        "invalid_time": 1_904_202_000,  # 2030-05-05 09:00 UTC
        "type": 1,
        "time_zone": "Europe/Paris",
        "schedule_list": [{"effective_time": 600, "invalid_time": 750, "working_day": 65}],
        "password_type": "ticket",
        "ticket_id": "tk-1",
    }


@given(
    days=st.sets(st.sampled_from(list(Weekday)), min_size=1),
    start=st.integers(0, 1438),
    length=st.integers(1, 1439),
)
def test_every_valid_schedule_round_trips(days: set[Weekday], start: int, length: int) -> None:
    end = min(start + length, 1439)
    schedule = Schedule.weekly(days, start, end)
    assert schedule.weekdays == days
    assert (schedule.start_minute, schedule.end_minute) == (start, end)
    assert Schedule(**schedule.to_wire()) == schedule

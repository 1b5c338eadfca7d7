"""Bad input to ``cloud.access_codes`` is a ValidationError raised before anything is sent (not even the ticket)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from lockcloud import LockCloud, Schedule, ValidationError, Weekday
from lockcloud.access_codes import MAX_CODE_NAME_LENGTH

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
FROM = dt.datetime(2030, 5, 3, 15, 0, tzinfo=PARIS)
UNTIL = dt.datetime(2030, 5, 5, 11, 0, tzinfo=PARIS)
DEVICE = "dev-validation-1"
SECRET_PIN = "4829137"


@pytest.fixture
async def sent() -> AsyncIterator[tuple[LockCloud, list[httpx.Request]]]:
    requests: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(500)

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(record)) as http,
        LockCloud("lcid-validation", "v" * 32, base_url="https://openapi.test", http_client=http) as cloud,
    ):
        yield cloud, requests


def _create(**changes: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "name": "Guest",
        "pin": SECRET_PIN,
        "valid_from": FROM,
        "valid_until": UNTIL,
        "radio": "wifi",
    }
    arguments.update(changes)
    return arguments


BAD_CREATES: dict[str, tuple[dict[str, Any], str]] = {
    "pin too short for wifi": ({"pin": "482913"}, "exactly 7 digits"),
    "pin too long for zigbee": ({"radio": "zigbee"}, "exactly 6 digits"),
    "pin not digits": ({"pin": "48291a7"}, "digits 0-9"),
    "pin not a string": ({"pin": 4829137}, "string of digits"),
    "until before from": ({"valid_until": FROM - dt.timedelta(hours=1)}, "later than valid_from"),
    "until equal to from": ({"valid_until": FROM}, "later than valid_from"),
    "naive from": ({"valid_from": FROM.replace(tzinfo=None)}, "aware datetime"),
    "naive until": ({"valid_until": UNTIL.replace(tzinfo=None)}, "aware datetime"),
    "epoch instead of datetime": ({"valid_from": 1_900_000_000}, "datetime with a time zone"),
    "name too long": ({"name": "x" * (MAX_CODE_NAME_LENGTH + 1)}, f"at most {MAX_CODE_NAME_LENGTH}"),
    "empty name": ({"name": "  "}, "must not be empty"),
    "unknown time zone": ({"time_zone": "Mars/Olympus"}, "not a known IANA time zone"),
    "unknown radio": ({"radio": "lora"}, "radio must be one of"),
    "phone with letters": ({"phone": "call-me"}, "phone must be digits"),
    "schedules without a zone": (
        {
            "valid_from": FROM.astimezone(dt.UTC),
            "valid_until": UNTIL.astimezone(dt.UTC),
            "schedules": [Schedule.weekly({"mon"}, "09:00", "17:00")],
        },
        "time_zone is needed",
    ),
    "hand-built schedule minutes out of range": ({"schedules": [Schedule(0, 1440, 2)]}, "0 to 1439"),
    "hand-built schedule with no day": ({"schedules": [Schedule(540, 600, 0)]}, "at least one day"),
    "schedule that is not a Schedule": ({"schedules": [{"effective_time": 1}]}, "Schedule values"),
    "single_use not a bool": ({"single_use": "yes"}, "True or False"),
    "related devices as a string": ({"related_devices": "dev-2"}, "list of device ids"),
    "related devices without a name": ({"name": None, "related_devices": ["dev-2"]}, "needs a name"),
}


@pytest.mark.parametrize(("changes", "message"), list(BAD_CREATES.values()), ids=list(BAD_CREATES))
async def test_bad_create_is_refused_before_sending(
    sent: tuple[LockCloud, list[httpx.Request]], changes: dict[str, Any], message: str
) -> None:
    cloud, requests = sent
    with pytest.raises(ValidationError, match=message) as raised:
        await cloud.access_codes.create(DEVICE, **_create(**changes))
    assert requests == []
    assert SECRET_PIN not in str(raised.value)


BAD_SCHEDULES: dict[str, tuple[Callable[[], object], str]] = {
    "empty weekday set": (lambda: Schedule.weekly(set(), "09:00", "17:00"), "at least one day"),
    "minute 1440": (lambda: Schedule.weekly({"mon"}, 0, 1440), "0 to 1439"),
    "negative minute": (lambda: Schedule.weekly({"mon"}, -1, 60), "0 to 1439"),
    "24:00": (lambda: Schedule.weekly({"mon"}, "08:00", "24:00"), "00:00 to 23:59"),
    "end before start": (lambda: Schedule.weekly({"mon"}, "17:00", "09:00"), "later than its start"),
    "unknown day name": (lambda: Schedule.weekly({"funday"}, "09:00", "17:00"), "day name"),
    "seconds in a time": (
        lambda: Schedule.weekly({"mon"}, dt.time(9, 0, 30), "17:00"),
        "whole minute",
    ),
    "bool as a minute": (lambda: Schedule.weekly({"mon"}, True, 60), "minute of the day"),
}


@pytest.mark.parametrize(("build", "message"), list(BAD_SCHEDULES.values()), ids=list(BAD_SCHEDULES))
def test_bad_schedules_are_refused(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()


def test_a_schedule_reads_back_its_days_and_times() -> None:
    schedule = Schedule.weekly({"mon", Weekday.TUESDAY, "Friday"}, "09:00", dt.time(17, 30))
    assert schedule.working_day == 2 + 4 + 32
    assert schedule.weekdays == {Weekday.MONDAY, Weekday.TUESDAY, Weekday.FRIDAY}
    assert (schedule.start, schedule.end) == (dt.time(9), dt.time(17, 30))
    assert schedule.to_wire() == {"effective_time": 540, "invalid_time": 1050, "working_day": 38}


BAD_OFFLINE: dict[str, tuple[dict[str, Any], str]] = {
    "off-hour start": ({"valid_from": FROM.replace(minute=30)}, "whole hours"),
    "off-hour end": ({"valid_until": UNTIL.replace(second=1)}, "whole hours"),
    "naive": ({"valid_from": FROM.replace(tzinfo=None)}, "aware datetime"),
    "until before from": ({"valid_until": FROM - dt.timedelta(hours=2)}, "later than valid_from"),
    "round flag not a bool": ({"round_to_hour": 1}, "True or False"),
}


@pytest.mark.parametrize(("changes", "message"), list(BAD_OFFLINE.values()), ids=list(BAD_OFFLINE))
async def test_bad_offline_code_is_refused_before_sending(
    sent: tuple[LockCloud, list[httpx.Request]], changes: dict[str, Any], message: str
) -> None:
    cloud, requests = sent
    arguments: dict[str, Any] = {"valid_from": FROM, "valid_until": UNTIL, **changes}
    with pytest.raises(ValidationError, match=message):
        await cloud.access_codes.create_offline(DEVICE, **arguments)
    assert requests == []


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.access_codes.get(DEVICE, "12"),
        lambda c: c.access_codes.freeze("../x", 12),
        lambda c: c.access_codes.delete(DEVICE, -1),
        lambda c: c.access_codes.list(DEVICE, valid="yes"),
        lambda c: c.access_codes.list(DEVICE, radio="lora"),
        lambda c: c.access_codes.offline_clear_code(DEVICE, True),
        lambda c: c.access_codes.dynamic(""),
    ],
    ids=["string id", "path device", "negative id", "valid str", "radio", "bool id", "empty device"],
)
async def test_bad_ids_and_flags_are_refused_before_sending(
    sent: tuple[LockCloud, list[httpx.Request]], call: Callable[[LockCloud], Any]
) -> None:
    cloud, requests = sent
    with pytest.raises(ValidationError):
        await call(cloud)
    assert requests == []

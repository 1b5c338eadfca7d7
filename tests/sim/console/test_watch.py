"""The simulator's hooks the console is built on: watchers, a lock's own status reports, automatic presses."""

from __future__ import annotations

import logging

import pytest

from lockcloud import ValidationError
from lockcloud.enums import UnlockType, UserType
from lockcloud.sim import Simulator


async def test_watchers_see_requests_and_pushes_until_they_stop(caplog: pytest.LogCaptureFixture) -> None:
    sim = Simulator()
    seen: list[int] = []
    stop = sim.watch(lambda: seen.append(len(sim.requests) + len(sim.pushes)))

    def broken() -> None:
        raise RuntimeError("watcher bug")

    sim.watch(broken)
    front = sim.devices["front_door"]
    with caplog.at_level(logging.ERROR, logger="lockcloud.sim"):
        async with sim.client() as cloud:
            await cloud.unlock_methods.list_assigned(front, "sim-alice", UserType.HOME_USER)
            calls = len(sim.requests)
            assert len(seen) == calls  # the token grant and the call, one notification each
            await cloud.unlock_methods.enroll(front, "sim-alice", UserType.HOME_USER, UnlockType.CARD)
    assert len(seen) == len(sim.requests) + 1  # the enroll call, and its pushes once
    assert "a simulator watcher failed" in caplog.text
    stop()
    stop()  # twice is harmless
    before = len(seen)
    sim.report_status(front, {"doorbell": True})
    assert len(seen) == before


def test_a_lock_reports_status_only_when_online() -> None:
    sim = Simulator()
    back = sim.devices["back_door"]
    message = sim.report_status(back, {"closed_opened": "open"})
    assert message is not None
    assert sim.pushes[-1] is message
    assert message.protocol == 4
    assert [(item["code"], item["value"]) for item in message.body["status"]] == [("closed_opened", "open")]
    sim.set_online(back, False)
    assert sim.report_status(back, {"doorbell": True}) is None
    assert sim.pushes[-1] is message
    with pytest.raises(ValidationError):
        sim.report_status("no-such-lock", {"doorbell": True})


async def test_press_automatically_needs_an_enrollment_and_a_sane_interval() -> None:
    sim = Simulator()
    front = sim.devices["front_door"]
    with pytest.raises(ValidationError, match="not enrolling"):
        sim.press_automatically(front, 0.01)
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValidationError, match="interval"):
            sim.press_automatically(front, bad)
    await sim.aclose()


async def test_panels_show_codes_and_history_and_mask_secrets() -> None:
    from lockcloud.sim._access_codes import SimAccessCode
    from lockcloud.sim.console._view import _panels

    sim = Simulator()
    front = sim.devices["front_door"]
    lock = sim.lock(front)
    # Nothing kept yet: both panels are there, empty.
    assert [(panel["name"], panel["rows"]) for panel in _panels(sim, lock)] == [
        ("codes", []),
        ("history", []),
    ]
    sim.world.access_codes.codes_of(front)[1] = SimAccessCode(
        password_id=1,
        name="Cleaner",
        pin="482913",
        effective_time=0,
        invalid_time=2**31,
        phone="+15550100",
        status="active",
    )
    sim.raise_alarm(front, "doorbell")
    sim.close_door(front)
    codes, history = _panels(sim, lock)
    (row,) = codes["rows"]
    assert (row["name"], row["pin"], row["phone"], row["status"]) == ("Cleaner", "••••", "••••", "active")
    assert "482913" not in repr(codes)
    assert "+15550100" not in repr(codes)
    assert [row["code"] for row in history["rows"]] == ["closed_opened", "doorbell"]  # newest first
    await sim.aclose()

"""lockcloud.testing as a user meets it: the fixtures of the pytest plugin, the push helpers, the fault helpers."""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lockcloud import (
    DeviceOfflineError,
    OutcomeUnknownError,
    RemoteUnlockDisabledError,
    ServerError,
    ValidationError,
)
from lockcloud._client import LockCloud
from lockcloud.enums import RemoteUnlockType
from lockcloud.events import EnrollmentProgress, EventStream, StatusReport, WebSocketSource, decode_message
from lockcloud.sim import DEMO_PIN, SimServer, Simulator
from lockcloud.testing import FaultInjector, PushBuilder, PushPublisher, assert_executed

from support import fast_retry

FAST_RETRY = fast_retry(max_attempts=2)
# Bounds that only stop a broken test from hanging; nothing is asserted about time.
GUARD = 60.0


async def _next(stream: EventStream) -> Any:
    async with asyncio.timeout(GUARD):
        return await anext(aiter(stream))


@pytest.fixture
async def fast_cloud(lockcloud_sim: Simulator) -> AsyncIterator[LockCloud]:
    async with lockcloud_sim.client(retry=FAST_RETRY) as cloud:
        yield cloud


# -- fixtures -----------------------------------------------------------------------------------------------


def test_the_simulator_has_the_demo_world_by_default(lockcloud_sim: Simulator) -> None:
    assert lockcloud_sim.devices["front_door"] == "sim-front-door"
    assert lockcloud_sim.press_interval is None


@pytest.mark.lockcloud_sim(seed=False, press_interval=0.5, push_encryption="aes_ecb")
def test_the_marker_gives_the_simulator_its_options(lockcloud_sim: Simulator) -> None:
    assert lockcloud_sim.devices == {}
    assert lockcloud_sim.press_interval == 0.5
    assert lockcloud_sim.push_encryption == "aes_ecb"


async def test_the_client_talks_to_the_served_simulator(
    lockcloud_client: LockCloud, lockcloud_server: SimServer, lockcloud_sim: Simulator
) -> None:
    assert lockcloud_server.simulator is lockcloud_sim
    assert lockcloud_server.base_url.startswith("http://127.0.0.1:")
    door = lockcloud_sim.devices["front_door"]
    assert await lockcloud_client.remote_unlock.open_door(door, pin=DEMO_PIN) is True
    assert lockcloud_sim.lock(door).door_open
    assert_executed(lockcloud_sim, "open_door", 1, device_id=door)


async def test_published_pushes_reach_the_event_stream_typed(
    lockcloud_push: PushPublisher, lockcloud_events: EventStream, lockcloud_sim: Simulator
) -> None:
    door = lockcloud_sim.devices["back_door"]
    await lockcloud_push.publish(lockcloud_push.build.status(door, {"closed_opened": "open"}))
    await lockcloud_push.publish(lockcloud_push.build.enrollment(door, 3, total_period=5), em="aes_ecb")
    report = await _next(lockcloud_events)
    assert isinstance(report, StatusReport)
    assert report.device_id == door
    assert report.product_key == lockcloud_sim.lock(door).product_key
    assert [(item.code, item.value) for item in report.status] == [("closed_opened", "open")]
    progress = await _next(lockcloud_events)
    assert isinstance(progress, EnrollmentProgress)
    assert (progress.device_id, progress.period, progress.total_period) == (door, 3, 5)


@pytest.mark.parametrize("lockcloud_push_transport", ["websocket"])
async def test_the_events_fixture_reads_over_websocket_when_its_transport_says_so(
    lockcloud_push: PushPublisher, lockcloud_events: EventStream, lockcloud_sim: Simulator
) -> None:
    assert isinstance(lockcloud_events.source, WebSocketSource)
    door = lockcloud_sim.devices["front_door"]
    await lockcloud_push.publish(lockcloud_push.build.enrollment(door, 2, total_period=4))
    progress = await _next(lockcloud_events)
    assert isinstance(progress, EnrollmentProgress)
    assert (progress.device_id, progress.period, progress.total_period) == (door, 2, 4)


async def test_poison_goes_to_the_dead_letters_and_the_stream_goes_on(
    lockcloud_push: PushPublisher, lockcloud_events: EventStream, lockcloud_sim: Simulator
) -> None:
    build = lockcloud_push.build
    door = lockcloud_sim.devices["front_door"]
    good, properties = build.encode(build.enrollment(door, 1))
    poisons = [
        build.envelope(b"{not json"),
        build.envelope({"period": 1}, secret="x" * 32),
        (build.tampered(good), properties),
        build.with_data("@@ not base64 @@"),
    ]
    for payload, props in poisons:
        await lockcloud_push.send(payload, props)
    await lockcloud_push.send(good, properties, key=door)
    progress = await _next(lockcloud_events)
    assert isinstance(progress, EnrollmentProgress)
    assert progress.period == 1
    letters = lockcloud_events.dead_letters
    assert letters is not None
    assert [letter.payload for letter in letters] == [payload for payload, _ in poisons]


async def test_the_sims_own_enrollment_pushes_arrive_on_the_events_fixture(
    lockcloud_client: LockCloud, lockcloud_events: EventStream, lockcloud_sim: Simulator
) -> None:
    door = lockcloud_sim.devices["front_door"]
    async with lockcloud_client.enroll(
        door, user_id="sim-alice", user_type=1, unlock_type="card", events=lockcloud_events
    ) as enrollment:
        async with asyncio.timeout(GUARD):
            await lockcloud_sim.press_finger(door)
            async for _ in enrollment:
                pass
    assert enrollment.result.ok
    assert enrollment.result.key is not None


@pytest.mark.lockcloud_sim(press_interval=0.01)
async def test_the_docstrings_enrollment_example_runs(
    lockcloud_client: LockCloud, lockcloud_events: EventStream, lockcloud_sim: Simulator
) -> None:
    door = lockcloud_sim.devices["front_door"]
    async with (
        asyncio.timeout(GUARD),
        lockcloud_client.enroll(
            door, user_id="sim-alice", user_type=1, unlock_type="fingerprint", events=lockcloud_events
        ) as enrollment,
    ):
        async for _ in enrollment:
            pass
    assert enrollment.result.ok


async def test_a_publisher_needs_the_servers_broker() -> None:
    from lockcloud.sim import running

    async with running(broker=False) as server:
        with pytest.raises(ValidationError, match="without a broker"):
            PushPublisher.for_server(server)


async def test_a_publisher_that_is_not_started_refuses_to_send() -> None:
    publisher = PushPublisher("pulsar://127.0.0.1:1", "project", "s" * 32)
    with pytest.raises(ValidationError, match="not started"):
        await publisher.send(b"{}")


# -- the builder ----------------------------------------------------------------------------------------------


def test_built_messages_decode_with_the_library() -> None:
    build = PushBuilder("0123456789abcdefGHIJKLMNOPqrstuv", clock=lambda: 1_700_000_000_000)
    for em in ("aes_gcm", "aes_ecb"):
        payload, properties = build.encode(build.enrollment("lock-9", 2, total_period=4), em=em)
        assert properties == {"em": em}
        event = decode_message(payload, build.access_secret, properties)
        assert isinstance(event, EnrollmentProgress)
        assert (event.device_id, event.period, event.total_period) == ("lock-9", 2, 4)
        assert event.product_key == "lockcloudtestpk1"
    payload, properties = build.envelope(build.status("lock-9", {"closed_opened": "closed"}).body, em=None)
    assert properties == {}
    with pytest.raises(ValidationError):
        build.enrollment("", 1)


def test_a_builder_for_a_simulator_uses_its_locks_and_its_clock() -> None:
    sim = Simulator()
    sim.faults.clock_offset = 3600
    build = PushBuilder.for_simulator(sim)
    door = sim.devices["porch"]
    message = build.device_event(door, "doorbell", {"ring": True})
    lock = sim.lock(door)
    assert (message.body["productKey"], message.body["uuid"]) == (lock.product_key, lock.uuid)
    assert message.t >= sim.world.now_ms() - 1000
    assert message.t > (sim.world.now() - 1800) * 1000  # the simulated clock, an hour ahead
    stranger = build.status("not-a-sim-lock", {"x": 1})
    assert stranger.body["productKey"] == "lockcloudtestpk1"


# -- faults ---------------------------------------------------------------------------------------------------


async def test_an_outage_answers_its_code_and_ends_with_its_block(
    fast_cloud: LockCloud, lockcloud_faults: FaultInjector, lockcloud_sim: Simulator
) -> None:
    door = lockcloud_sim.devices["front_door"]
    with lockcloud_faults.outage(1111), pytest.raises(ServerError) as raised:
        await fast_cloud.unlock_methods.list_unassigned(door)
    assert raised.value.code == 1111
    assert lockcloud_sim.faults.error_rates == {}
    assert await fast_cloud.unlock_methods.list_unassigned(door)


async def test_an_offline_lock_and_a_switch_turned_off(
    fast_cloud: LockCloud, lockcloud_faults: FaultInjector, lockcloud_sim: Simulator
) -> None:
    front, shed = lockcloud_sim.devices["front_door"], lockcloud_sim.devices["shed"]
    with lockcloud_faults.offline(front), pytest.raises(DeviceOfflineError):
        await fast_cloud.remote_unlock.open_door(front, pin=DEMO_PIN)
    assert lockcloud_sim.lock(front).online
    with lockcloud_faults.remote_unlock_off(shed), pytest.raises(RemoteUnlockDisabledError):
        await fast_cloud.remote_unlock.open_door_without_password(shed)
    assert await fast_cloud.remote_unlock.open_door_without_password(shed) is True
    assert_executed(lockcloud_sim, "open_door_password_free", 1)


async def test_lost_responses_are_never_replayed(
    fast_cloud: LockCloud, lockcloud_faults: FaultInjector, lockcloud_sim: Simulator
) -> None:
    door = lockcloud_sim.devices["back_door"]
    with lockcloud_faults.lost_responses(), pytest.raises(OutcomeUnknownError):
        await fast_cloud.remote_unlock.lock(door)
    assert lockcloud_sim.faults.lost_response_rate == 0.0
    # Every answer was lost, the ticket's first: the client stops there, it asks for no second ticket.
    [record] = assert_executed(lockcloud_sim, "password_ticket", 1, device_id=door)
    assert record.response_lost
    assert_executed(lockcloud_sim, "door_operate", 0)
    lockcloud_sim.lose_next_response(action="door_operate")
    with pytest.raises(OutcomeUnknownError):
        await fast_cloud.remote_unlock.lock(door)
    [record] = assert_executed(lockcloud_sim, "door_operate", 1, device_id=door)
    assert record.response_lost


def test_latency_and_clock_skew_are_restored(
    lockcloud_faults: FaultInjector, lockcloud_sim: Simulator
) -> None:
    faults = lockcloud_sim.faults
    with lockcloud_faults.latency(0.2, jitter=0.1), lockcloud_faults.clock_skew(-400):
        assert (faults.latency, faults.latency_jitter, faults.clock_offset) == (0.2, 0.1, -400)
    assert (faults.latency, faults.latency_jitter, faults.clock_offset) == (0.0, 0.0, 0.0)
    with pytest.raises(ValidationError), lockcloud_faults.outage(500, rate=2):
        pass
    with pytest.raises(ValidationError), lockcloud_faults.latency(-1):
        pass


def test_nested_faults_put_back_what_each_block_found(
    lockcloud_faults: FaultInjector, lockcloud_sim: Simulator
) -> None:
    faults, shed = lockcloud_sim.faults, lockcloud_sim.lock(lockcloud_sim.devices["shed"])
    faults.error_rates[1111] = 0.25  # set by the test itself, before any block
    with lockcloud_faults.outage(1111, rate=0.5), lockcloud_faults.outage(2001):
        assert faults.error_rates == {1111: 0.5, 2001: 1.0}
        with lockcloud_faults.outage(1111):
            assert faults.error_rates[1111] == 1.0
        assert faults.error_rates == {1111: 0.5, 2001: 1.0}
    assert faults.error_rates == {1111: 0.25}
    del shed.remote_unlock[RemoteUnlockType.WITH_PASSWORD]  # a switch the lock does not report
    with lockcloud_faults.remote_unlock_off(shed.device_id, RemoteUnlockType.WITH_PASSWORD):
        assert shed.remote_unlock[RemoteUnlockType.WITH_PASSWORD] is False
    assert RemoteUnlockType.WITH_PASSWORD not in shed.remote_unlock
    with pytest.raises(ValidationError):
        lockcloud_faults.lost_responses(rate=-0.1)
    assert faults.lost_response_rate == 0.0


def test_assert_executed_names_what_ran(lockcloud_sim: Simulator) -> None:
    with pytest.raises(AssertionError, match=r"expected open_door executed 1 time\(s\), got 0: none"):
        assert_executed(lockcloud_sim, "open_door")


# -- as an installed plugin ---------------------------------------------------------------------------------

_USER_TESTS = """
import pytest

from lockcloud.events import StatusReport
from lockcloud.testing import assert_executed


@pytest.mark.asyncio
@pytest.mark.lockcloud_sim(press_interval=0.01)
async def test_users_view(lockcloud_client, lockcloud_push, lockcloud_events, lockcloud_sim):
    door = lockcloud_sim.devices["shed"]
    await lockcloud_client.remote_unlock.unlock(door)
    assert_executed(lockcloud_sim, "door_operate", 1)
    await lockcloud_push.publish(lockcloud_push.build.status(door, {"closed_opened": "closed"}))
    seen = []
    async for event in lockcloud_events:
        seen.append(event)
        if isinstance(event, StatusReport) and event.status[0].value == "closed":
            break
    assert seen
"""


def test_loading_the_plugin_imports_neither_the_simulator_nor_pulsar() -> None:
    probe = "import sys, lockcloud.testing.plugin; print(sorted(m for m in ('lockcloud.sim', 'pulsar', 'uvicorn') if m in sys.modules))"
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert completed.stdout.strip() == "[]"


def readme_plugin_example() -> str:
    """The README's example of the plugin, as a user would copy it."""
    text = (Path(__file__).parents[2] / "README.md").read_text()
    section = text[text.index("### Testing your app") :]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return block.group(1)


def test_the_entry_point_gives_a_users_project_the_fixtures_in_strict_mode(tmp_path: Path) -> None:
    installed = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    assert installed.get("lockcloud") == "lockcloud.testing.plugin", (
        "the pytest11 entry point is not installed; an install older than it needs: pip install -e ."
    )
    (tmp_path / "test_user.py").write_text(textwrap.dedent(_USER_TESTS))
    # Run as written: pytest-asyncio's default strict mode fails an async test that is not marked.
    (tmp_path / "test_readme.py").write_text(readme_plugin_example())
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=strict",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "test_user.py",
            "test_readme.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "2 passed" in completed.stdout

"""``cloud.enroll(...)`` against the simulator over loopback HTTP and a real pulsar-lite broker."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lockcloud import LockCloud, OutcomeUnknownError, UnlockType, UserType, ValidationError
from lockcloud.enrollment import EnrollmentStatus
from lockcloud.events import EventStream, StatusReport, WebhookSource, sign_webhook
from lockcloud.sim import Simulator
from lockcloud.sim._push import encode_push
from lockcloud.sim._serve import SimServer, running
from lockcloud.sim.broker import LocalBroker

pytestmark = pytest.mark.broker

USER = "sim-alice"


@contextlib.asynccontextmanager
async def served(
    broker: LocalBroker, **options: Any
) -> AsyncIterator[tuple[SimServer, LockCloud, EventStream]]:
    """A simulator on loopback, a client for it, and one open event stream (from the start of the topic).

    The stream has no firehose: only subscriptions read it, and an unread firehose would fill up and stall it.
    """
    async with (
        running(broker_url=broker.url, **options) as server,
        server.client() as cloud,
        cloud.events(initial_position="earliest", firehose=False) as stream,
    ):
        yield server, cloud, stream


def cancels(sim: Simulator, device_id: str) -> int:
    return len(sim.executed("cancel_enrollment", device_id=device_id))


async def test_enrollment_completes_with_the_new_key(session_broker: LocalBroker) -> None:
    async with served(session_broker, press_interval=0.01) as (server, cloud, stream):
        front = server.devices["front_door"]
        before = await cloud.unlock_methods.list_assigned(front, USER, UserType.HOME_USER)
        async with cloud.enroll(
            front,
            user_id=USER,
            user_type=UserType.HOME_USER,
            unlock_type=UnlockType.FINGERPRINT,
            events=stream,
        ) as enrollment:
            progress = [event async for event in enrollment]
        after = await cloud.unlock_methods.list_assigned(front, USER, UserType.HOME_USER)

    result = enrollment.result
    assert result.status is EnrollmentStatus.COMPLETED
    assert result.ok
    assert all(event.device_id == front for event in progress)
    # The first push ("raised") can overtake the PUT's answer; it is not lost.
    assert progress[0].raised
    totals = [event.total_period for event in progress if event.total_period is not None]
    assert result.total_period is not None
    assert totals == [result.total_period]  # pushed once
    periods = [event.period for event in progress]
    assert periods == sorted(periods, reverse=True)
    assert periods[-1] == 0
    assert progress[-1].finish
    new_keys = {key.unlock_no for key in after} - {key.unlock_no for key in before}
    assert result.key is not None
    assert new_keys == {result.key.unlock_no}
    assert result.key.unlock_type is UnlockType.FINGERPRINT
    assert cancels(server.simulator, front) == 0


async def test_cancel_from_the_caller_is_confirmed_by_the_lock(session_broker: LocalBroker) -> None:
    async with served(session_broker) as (server, cloud, stream):
        front = server.devices["front_door"]
        async with cloud.enroll(
            front, user_id=USER, user_type=1, unlock_type=UnlockType.FINGERPRINT, events=stream
        ) as enrollment:
            async for progress in enrollment:
                if progress.period > 1 and progress.total_period is None:
                    await enrollment.cancel()
                else:
                    await server.simulator.press_finger(front)
        result = enrollment.result
        assert result.status is EnrollmentStatus.CANCELLED
        assert result.cancel_confirmed is True
        assert result.key is None
        assert cancels(server.simulator, front) == 1
        assert server.simulator.lock(front).enrollment is None


async def test_silence_times_out_and_cancels(session_broker: LocalBroker) -> None:
    async with served(session_broker) as (server, cloud, stream):
        front = server.devices["front_door"]
        async with cloud.enroll(
            front, user_id=USER, user_type=1, unlock_type="card", events=stream, idle_timeout=0.5
        ) as enrollment:
            seen = [event async for event in enrollment]  # nobody taps the card
        result = enrollment.result
        assert result.status is EnrollmentStatus.TIMED_OUT
        assert "0.5 s" in (result.reason or "")
        assert seen  # the lock's "ready" pushes ...
        assert not any(event.finish for event in seen)  # ... and no press
        assert cancels(server.simulator, front) == 1
        assert result.cancel_confirmed is True
        assert server.simulator.lock(front).enrollment is None


async def test_an_exception_in_the_block_cancels_and_propagates(session_broker: LocalBroker) -> None:
    async with served(session_broker) as (server, cloud, stream):
        front = server.devices["front_door"]
        enrollment = cloud.enroll(
            front, user_id=USER, user_type=1, unlock_type=UnlockType.FINGERPRINT, events=stream
        )

        async def give_up() -> None:
            async with enrollment:
                async for _ in enrollment:
                    raise RuntimeError("user gave up")

        with pytest.raises(RuntimeError, match="user gave up"):
            await give_up()
        assert enrollment.result.status is EnrollmentStatus.CANCELLED
        assert enrollment.result.reason == "left by RuntimeError"
        assert enrollment.result.cancel_confirmed is True
        assert cancels(server.simulator, front) == 1
        assert server.simulator.lock(front).enrollment is None


async def test_cancelling_the_task_still_cancels_at_the_lock(session_broker: LocalBroker) -> None:
    async with served(session_broker) as (server, cloud, stream):
        front = server.devices["front_door"]
        first_push = asyncio.Event()

        async def enroll_forever() -> None:
            async with cloud.enroll(
                front, user_id=USER, user_type=1, unlock_type=UnlockType.FINGERPRINT, events=stream
            ) as enrollment:
                async for _ in enrollment:
                    first_push.set()

        task = asyncio.create_task(enroll_forever())
        await asyncio.wait_for(first_push.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cancels(server.simulator, front) == 1
        assert server.simulator.lock(front).enrollment is None


async def test_a_second_enrollment_on_the_same_lock_is_refused(session_broker: LocalBroker) -> None:
    async with served(session_broker) as (server, cloud, stream):
        front = server.devices["front_door"]
        options: dict[str, Any] = {"user_id": USER, "user_type": 1, "events": stream}
        async with cloud.enroll(front, unlock_type="fingerprint", **options):
            with pytest.raises(ValidationError, match="already running"):
                async with cloud.enroll(front, unlock_type="card", **options):
                    pass


async def test_twenty_enrollments_share_one_stream(session_broker: LocalBroker) -> None:
    async with served(session_broker, press_interval=0.02) as (server, cloud, stream):
        sim = server.simulator
        locks = [sim.add_lock("wifi", f"vdevo-enroll-{index:02d}").device_id for index in range(20)]

        async def enroll(device_id: str) -> tuple[list[str], Any]:
            async with cloud.enroll(
                device_id, user_id=USER, user_type=1, unlock_type=UnlockType.FINGERPRINT, events=stream
            ) as enrollment:
                devices = [event.device_id async for event in enrollment]
            return devices, enrollment.result

        outcomes = await asyncio.wait_for(asyncio.gather(*(enroll(device) for device in locks)), 60)

    keys = set()
    for device_id, (devices, result) in zip(locks, outcomes, strict=True):
        assert set(devices) == {device_id}
        assert result.status is EnrollmentStatus.COMPLETED
        assert result.key is not None
        keys.add((device_id, result.key.unlock_no))
        assert result.total_period is not None
        assert len(devices) == result.progress_count >= result.total_period
    assert len(keys) == 20
    # The pushes of the twenty locks really were interleaved on the one topic.
    order = [push.device_id for push in sim.pushes if push.device_id in locks]
    switches = sum(1 for first, second in itertools.pairwise(order) if first != second)
    assert switches > 20


HOOK_SECRET = "whsec-enrollment-relay-4f9a"


async def test_enrollment_over_the_webhook_stream() -> None:
    """The same conversation when pushes arrive as HTTP POSTs instead of from Pulsar."""
    sim = Simulator(press_interval=0.01)
    forwarded = 0
    source = WebhookSource(secret=HOOK_SECRET)
    async with EventStream(source, sim.access_secret, firehose=False) as stream, sim.client() as cloud:
        hook = httpx.AsyncClient(transport=httpx.ASGITransport(app=source), base_url="http://hook")

        async def forward_pushes() -> None:
            nonlocal forwarded
            while True:
                while forwarded < len(sim.pushes):
                    payload, properties = encode_push(sim.pushes[forwarded], sim.access_secret, "aes_gcm")
                    headers = {"content-type": "application/json", **properties}
                    headers.update(sign_webhook(payload, HOOK_SECRET))
                    response = await hook.post("/", content=payload, headers=headers)
                    assert response.status_code == 200
                    forwarded += 1
                await asyncio.sleep(0.005)

        forwarder = asyncio.create_task(forward_pushes())
        try:
            front = sim.devices["front_door"]
            async with cloud.enroll(
                front, user_id=USER, user_type=1, unlock_type=UnlockType.FINGERPRINT, events=stream
            ) as enrollment:
                periods = [event.period async for event in enrollment]
        finally:
            forwarder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forwarder
            await hook.aclose()
            await sim.aclose()
    assert enrollment.result.status is EnrollmentStatus.COMPLETED
    assert enrollment.result.key is not None
    assert periods[-1] == 0
    assert stream.stats.received >= len(periods)  # every one of them came in over HTTP


async def test_bad_arguments_fail_before_anything_is_sent() -> None:
    async with LockCloud("id", "s" * 32, base_url="http://127.0.0.1:9") as cloud:
        with pytest.raises(ValidationError):
            cloud.enroll("bad/device", user_id=USER, user_type=1, unlock_type="fingerprint")
        with pytest.raises(ValidationError):
            cloud.enroll("dev", user_id=USER, user_type=7, unlock_type="fingerprint")
        with pytest.raises(ValidationError):
            cloud.enroll("dev", user_id=USER, user_type=1, unlock_type="fingerprint", idle_timeout=0)


async def test_enrollment_where_keys_cannot_be_listed(session_broker: LocalBroker) -> None:
    """Keepalive Wi-Fi locks accept enrollment but not the key listing: the conversation still completes."""
    async with served(session_broker, press_interval=0.01) as (server, cloud, stream):
        garage = server.devices["garage"]
        async with cloud.enroll(
            garage, user_id=USER, user_type=1, unlock_type=UnlockType.FINGERPRINT, events=stream
        ) as enrollment:
            periods = [event.period async for event in enrollment]
    assert enrollment.result.status is EnrollmentStatus.COMPLETED
    assert enrollment.result.key is None
    assert periods[-1] == 0


async def test_cancelled_while_the_enroll_call_is_in_flight(session_broker: LocalBroker) -> None:
    """The PUT reached the lock but its answer never came: cancelling the task still cancels at the lock."""
    async with served(session_broker) as (server, cloud, stream):
        sim = server.simulator
        front = server.devices["front_door"]
        sim.faults.hang_seconds = 5
        sim.lose_next_response(action="enroll", mode="timeout")

        async def enroll() -> None:
            async with cloud.enroll(front, user_id=USER, user_type=1, unlock_type="card", events=stream):
                pass

        task = asyncio.create_task(enroll())
        for _ in range(1000):  # until the lock has the enroll call (its answer is being held back)
            if sim.executed("enroll", device_id=front):
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cancels(sim, front) == 1
        assert sim.lock(front).enrollment is None


async def test_an_unknown_enroll_outcome_is_cancelled_and_raised(session_broker: LocalBroker) -> None:
    async with served(session_broker) as (server, cloud, stream):
        sim = server.simulator
        front = server.devices["front_door"]
        sim.lose_next_response(action="enroll", mode="disconnect")
        enrollment = cloud.enroll(front, user_id=USER, user_type=1, unlock_type="card", events=stream)
        with pytest.raises(OutcomeUnknownError):
            await enrollment.__aenter__()
        assert enrollment.result.status is EnrollmentStatus.FAILED
        assert len(sim.executed("enroll", device_id=front)) == 1  # never replayed
        assert cancels(sim, front) == 1
        assert sim.lock(front).enrollment is None


async def test_without_a_stream_other_devices_events_are_left_for_the_next_consumer(
    session_broker: LocalBroker,
) -> None:
    """An enrollment that opens its own stream borrows the project's subscription: it must not swallow the
    events of other locks; they reach the application's consumer afterwards."""
    async with (
        running(broker_url=session_broker.url, press_interval=0.05) as server,
        server.client() as cloud,
    ):
        front, back = server.devices["front_door"], server.devices["back_door"]
        async with cloud.enroll(
            front, user_id=USER, user_type=1, unlock_type=UnlockType.FINGERPRINT
        ) as enrollment:
            async for progress in enrollment:
                if progress.raised and progress.total_period is None and progress.period:
                    await cloud.remote_unlock.lock(back)  # the back door reports its state meanwhile
        assert enrollment.result.status is EnrollmentStatus.COMPLETED
        async with cloud.events() as stream, asyncio.timeout(20):
            async for event in stream:
                if isinstance(event, StatusReport) and event.device_id == back:
                    break


async def test_an_sse_client_that_disconnects_cancels_the_enrollment_and_frees_the_lock(
    session_broker: LocalBroker,
) -> None:
    """Starlette cancels a StreamingResponse the anyio way when its client goes: the lock must be free again."""
    import socket

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async with served(session_broker) as (server, cloud, stream):
        front = server.devices["front_door"]
        left: list[BaseException] = []

        async def progress_lines() -> AsyncIterator[str]:
            try:
                async with cloud.enroll(
                    front, user_id=USER, user_type=1, unlock_type=UnlockType.FINGERPRINT, events=stream
                ) as enrollment:
                    async for progress in enrollment:  # nobody presses a finger: it waits for the lock
                        yield f"data: {progress.period}\n\n"
            except BaseException as exc:
                left.append(exc)
                raise

        async def endpoint(request: Request) -> StreamingResponse:
            return StreamingResponse(progress_lines(), media_type="text/event-stream")

        app = Starlette(routes=[Route("/enroll", endpoint)])
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        web = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        serving = asyncio.create_task(web.serve(sockets=[listener]))
        try:
            async with asyncio.timeout(30):
                while not web.started:  # noqa: ASYNC110 - uvicorn offers no event for it
                    await asyncio.sleep(0.01)
                async with (
                    httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
                    http.stream("GET", "/enroll") as response,
                ):
                    lines = response.aiter_lines()
                    assert (await anext(lines)).startswith("data: ")
                # The client is gone; Starlette cancels the generator and the enrollment's cleanup runs.
                while front in cloud._active_enrollments or cancels(server.simulator, front) == 0:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        finally:
            web.should_exit = True
            await serving
            listener.close()
        assert left
        assert isinstance(left[0], asyncio.CancelledError | GeneratorExit)
        assert server.simulator.lock(front).enrollment is None

        # The same lock enrolls again in the same process.
        async with cloud.enroll(
            front, user_id=USER, user_type=1, unlock_type=UnlockType.FINGERPRINT, events=stream
        ) as enrollment:
            async for progress in enrollment:
                if not progress.finish and server.simulator.lock(front).enrollment is not None:
                    await server.simulator.press_finger(front)
        assert enrollment.result.status is EnrollmentStatus.COMPLETED, enrollment.result
        assert enrollment.result.progress_count > 0

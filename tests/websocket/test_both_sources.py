"""The end-to-end event scenarios, each run over both sources on a real pulsar-lite broker.

``transport`` is ``pulsar`` (pulsar-client straight to the broker) or ``websocket`` (through the simulator's
WebSocket endpoint, bridged to the same broker): at-least-once across a broker SIGKILL and restart, poison
dead-lettered while the stream goes on, an enrollment end to end, and many locks sharing one stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lockcloud.enrollment import EnrollmentStatus
from lockcloud.enums import UnlockType, UserType
from lockcloud.events import (
    EnrollmentProgress,
    EventStream,
    MemoryDeadLetters,
    PulsarOptions,
    PulsarSource,
    SourceMessage,
    WebSocketOptions,
    WebSocketSource,
)
from lockcloud.events._options import events_stream
from lockcloud.sim import SimServer, Simulator, running
from lockcloud.sim.broker import LocalBroker
from lockcloud.testing import PushPublisher

pytestmark = pytest.mark.broker

WAIT = 60.0


@pytest.fixture(params=["pulsar", "websocket"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def served(broker: LocalBroker, tmp_path: Path) -> AsyncIterator[SimServer]:
    """The demo simulator served over loopback, pushing to (and bridging WebSocket consumers to) ``broker``."""
    simulator = Simulator(press_interval=0.05)
    async with running(simulator, broker_url=broker.url, data_dir=tmp_path / "sim") as server:
        yield server


@pytest.fixture
async def publisher(served: SimServer, tmp_path: Path) -> AsyncIterator[PushPublisher]:
    async with PushPublisher.for_server(served, log_file=str(tmp_path / "publisher.log")) as push:
        yield push


@pytest.fixture
def make_stream(served: SimServer, transport: str) -> Callable[..., EventStream]:
    """An ``EventStream`` of the served project over ``transport``, starting at the earliest message."""

    def make(**options: Any) -> EventStream:
        options.setdefault("initial_position", "earliest")
        options.setdefault("resubscribe_delay", 0.05)
        options.setdefault("pulsar_log_level", "error")
        url = served.websocket_url if transport == "websocket" else served.pulsar_url
        assert url is not None
        stream = events_stream(
            served.access_id,
            served.access_secret,
            {"url": url, "transport": transport, **options},  # type: ignore[typeddict-item]
        )
        assert isinstance(stream.source, WebSocketSource if transport == "websocket" else PulsarSource)
        return stream

    return make


async def test_at_least_once_across_a_broker_sigkill_and_restart(
    make_stream: Callable[..., EventStream], publisher: PushPublisher, broker: LocalBroker
) -> None:
    total = 200
    restarted = asyncio.Event()

    async def publish() -> None:
        for index in range(total):
            for attempt in range(100):  # the producer waits out the restart like any client would
                try:
                    await publisher.publish(publisher.build.enrollment("lock-1", index))
                    break
                except Exception:
                    if attempt == 99:
                        raise
                    await asyncio.sleep(0.1)
            if index % 10 == 9:
                await asyncio.sleep(0.02)

    seen: list[int] = []
    async with make_stream(buffer_size=20) as stream:
        publishing = asyncio.create_task(publish())
        try:
            async with asyncio.timeout(WAIT * 2):
                async for event in stream:
                    assert isinstance(event, EnrollmentProgress)
                    seen.append(event.period)
                    if len(seen) == 60 and not restarted.is_set():
                        broker.kill()
                        await broker.arestart()
                        restarted.set()
                    if len(set(seen)) == total:
                        break
        finally:
            await publishing
    assert restarted.is_set()
    assert sorted(set(seen)) == list(range(total))
    assert len(seen) == total  # redeliveries after the crash were recognised, not handed out twice


async def test_poison_is_dead_lettered_kept_and_the_stream_goes_on(
    make_stream: Callable[..., EventStream], publisher: PushPublisher
) -> None:
    build = publisher.build
    good, properties = build.encode(build.enrollment("lock-1", 0))
    poison = [
        build.with_data("@@not base64@@")[0],
        build.tampered(good),
        build.envelope(b"{'no': json")[0],
        b"not an envelope at all",
    ]
    for index, payload in enumerate(poison):
        await publisher.publish(build.enrollment("lock-1", index))
        await publisher.send(payload, properties)
    await publisher.publish(build.enrollment("lock-1", len(poison)))

    periods: list[int] = []
    async with make_stream() as stream:
        async with asyncio.timeout(WAIT):
            async for event in stream:
                assert isinstance(event, EnrollmentProgress)
                periods.append(event.period)
                if len(periods) == len(poison) + 1:
                    break
            while stream.stats.dead_letters < len(poison):  # noqa: ASYNC110 - counted by the pump
                await asyncio.sleep(0.01)
    assert periods == list(range(len(poison) + 1))
    sink = stream.dead_letters
    assert isinstance(sink, MemoryDeadLetters)
    assert [letter.payload for letter in sink.letters] == poison
    assert all(letter.reason and letter.message_id for letter in sink.letters)

    # Dead letters were acknowledged: the next subscriber starts after them.
    await publisher.publish(build.enrollment("lock-1", 99))
    async with make_stream() as again:
        async with asyncio.timeout(WAIT):
            first = await anext(again)
    assert isinstance(first, EnrollmentProgress)
    assert first.period == 99


async def test_an_enrollment_end_to_end(served: SimServer, transport: str) -> None:
    front = served.devices["front_door"]
    async with served.client() as cloud:
        if transport == "websocket":
            stream = cloud.events(transport="websocket", firehose=False)
        else:
            stream = cloud.events(firehose=False, pulsar_log_level="error")
        async with stream:
            async with asyncio.timeout(WAIT):
                async with cloud.enroll(
                    front,
                    user_id="sim-alice",
                    user_type=UserType.HOME_USER,
                    unlock_type=UnlockType.FINGERPRINT,
                    events=stream,
                ) as enrollment:
                    periods = [progress.period async for progress in enrollment]
    assert enrollment.result.status is EnrollmentStatus.COMPLETED
    assert enrollment.result.key is not None
    assert periods[-1] == 0
    assert periods == sorted(periods, reverse=True)


async def test_many_locks_share_one_stream(
    make_stream: Callable[..., EventStream], publisher: PushPublisher
) -> None:
    locks = [f"lock-{n:02d}" for n in range(20)]
    per_lock = 10
    async with make_stream(firehose=False, initial_position="latest") as stream:
        subscriptions = {lock: stream.enrollment_progress(lock) for lock in locks}

        async def collect(lock: str) -> list[int]:
            periods: list[int] = []
            async with subscriptions[lock] as progress:
                async for event in progress:
                    periods.append(event.period)
                    if len(periods) == per_lock:
                        break
            return periods

        collectors = {lock: asyncio.create_task(collect(lock)) for lock in locks}
        for period in range(per_lock):
            for lock in locks:
                await publisher.publish(publisher.build.enrollment(lock, period))
        async with asyncio.timeout(WAIT):
            results = {lock: await task for lock, task in collectors.items()}
    assert results == {lock: list(range(per_lock)) for lock in locks}
    assert stream.stats.duplicates == 0
    assert stream.stats.acknowledged == len(locks) * per_lock


async def test_an_enrollment_opens_its_own_stream_on_the_clients_push_transport(
    served: SimServer, transport: str
) -> None:
    # The other transport's URL leads nowhere: the enrollment completes only if it used the client's push_transport.
    dead = {
        "pulsar": {"websocket_url": "ws://127.0.0.1:1/"},
        "websocket": {"pulsar_url": "pulsar://127.0.0.1:1"},
    }
    async with served.client(push_transport=transport, **dead[transport]) as cloud:
        async with asyncio.timeout(WAIT):
            async with cloud.enroll(
                served.devices["front_door"],
                user_id="sim-alice",
                user_type=UserType.HOME_USER,
                unlock_type=UnlockType.FINGERPRINT,
            ) as enrollment:
                periods = [progress.period async for progress in enrollment]
    assert enrollment.result.status is EnrollmentStatus.COMPLETED
    assert periods[-1] == 0


async def test_a_message_has_the_same_dedupe_key_over_either_transport(
    served: SimServer, publisher: PushPublisher
) -> None:
    # Listeners of both kinds forwarding to one relay: a message both read must be one message to the readers.
    for period in range(3):
        await publisher.publish(publisher.build.enrollment(f"lock-{period}", period))
    assert served.pulsar_url is not None
    assert served.websocket_url is not None
    credentials = {"access_id": served.access_id, "access_secret": served.access_secret}
    sources: dict[str, PulsarSource | WebSocketSource] = {
        "pulsar": PulsarSource(
            PulsarOptions(
                url=served.pulsar_url,
                subscription="keys-native",
                initial_position="earliest",
                log_level="error",
                **credentials,
            )
        ),
        "websocket": WebSocketSource(
            WebSocketOptions(
                url=served.websocket_url,
                subscription="keys-websocket",
                initial_position="earliest",
                **credentials,
            )
        ),
    }
    read: dict[str, dict[bytes, SourceMessage]] = {}
    for transport, source in sources.items():
        messages: dict[bytes, SourceMessage] = {}
        await source.open()
        try:
            async with asyncio.timeout(WAIT):
                while len(messages) < 3:
                    for message in await source.receive():
                        messages[message.payload] = message
                        source.acknowledge(message)
        finally:
            await source.close(5)
        read[transport] = messages
    assert read["pulsar"].keys() == read["websocket"].keys()
    for payload, native in read["pulsar"].items():
        over_websocket = read["websocket"][payload]
        assert over_websocket.key == native.key
        assert over_websocket.message_id == native.message_id
        assert over_websocket.topic == native.topic
        assert over_websocket.partition == native.partition

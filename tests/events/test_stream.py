"""EventStream against a real pulsar-lite broker: typed, in order, at least once, poison-proof, crash-proof."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lockcloud import LockCloud
from lockcloud._core.errors import EventStreamError, SubscribeError
from lockcloud.events import (
    DeadLetter,
    DeviceEvent,
    EnrollmentProgress,
    Event,
    EventStream,
    MemoryDeadLetters,
    Outcome,
    PulsarSource,
    Source,
    SourceMessage,
    StatusReport,
    Subscription,
)
from lockcloud.sim.broker import LocalBroker

# Bounds that only stop a broken test from hanging; no assertion is about time.
GUARD = 30.0


async def take(source: AsyncIterator[Any], count: int) -> list[Any]:
    taken: list[Any] = []
    async with asyncio.timeout(GUARD):
        while len(taken) < count:
            taken.append(await anext(source))
    return taken


async def wait_until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(GUARD):
        while not condition():  # noqa: ASYNC110 - the stream's counters have no event to wait on
            await asyncio.sleep(0.01)


class Boom(Exception):
    pass


async def fail_on(stream: EventStream, period: int, taken: list[int]) -> None:
    """Iterate ``stream`` inside its ``async with``; the loop body raises on the event with ``period``."""
    async with stream:
        async for event in stream:
            taken.append(event.period)
            if event.period == period:
                raise Boom


async def test_gcm_ecb_and_default_cipher_end_to_end(make_stream: Any, producer: Any, push: Any) -> None:
    await producer.enrollment(1, em="aes_gcm")
    await producer.enrollment(2, em="aes_ecb")
    await producer.enrollment(3, em=None)
    status = {"devId": "lock-1", "dataId": "d", "status": [{"code": "battery", "value": 70, "t": push.T0}]}
    await producer.send(push.envelope(status, protocol=4), {"em": "aes_gcm"})
    await producer.send(push.envelope({"bizCode": "online", "devId": "lock-1"}), {"em": "aes_gcm"})

    async with make_stream() as stream:
        events = await take(stream, 5)

    assert [type(e) for e in events] == [EnrollmentProgress] * 3 + [StatusReport, DeviceEvent]
    assert [e.period for e in events[:3]] == [1, 2, 3]
    assert all(e.message_id for e in events)
    assert len({e.message_id for e in events}) == 5
    assert stream.stats.buffered == 5


async def test_thousand_enrollment_messages_arrive_typed_and_in_order(
    make_stream: Any, producer: Any, push: Any
) -> None:
    total = 1000

    async def publish() -> None:
        for index in range(total):
            await producer.enrollment(index, em="aes_gcm" if index % 2 else "aes_ecb")
            if index % 20 == 19:
                await asyncio.sleep(0.02)  # ~1,000 msg/s at most: a moderate, realistic rate

    async with make_stream(buffer_size=50) as stream:
        publishing = asyncio.create_task(publish())
        events = await take(stream, total)
        await publishing

    assert all(isinstance(e, EnrollmentProgress) for e in events)
    assert [e.period for e in events] == list(range(total))
    assert [e.raw["ts"] for e in events] == [push.T0 + i for i in range(total)]
    assert stream.stats.dead_letters == 0


async def test_poison_goes_to_the_dead_letter_sink_and_the_stream_goes_on(
    make_stream: Any, producer: Any, push: Any
) -> None:
    good = push.enrollment(0)
    document = json.loads(good)
    poison = {
        "bad base64": (json.dumps({**document, "data": "@@not base64@@"}).encode(), {"em": "aes_gcm"}),
        "wrong key": (push.envelope(push.enrollment_body(0), secret=push.OTHER_SECRET), {"em": "aes_gcm"}),
        "tampered tag": (push.build.tampered(good), {"em": "aes_gcm"}),
        "bad json": (push.envelope(b"{'no': json"), {"em": "aes_gcm"}),
    }
    for index, (payload, props) in enumerate(poison.values()):
        await producer.enrollment(index)
        await producer.send(payload, props)
    await producer.enrollment(len(poison))

    async with make_stream() as stream:
        events = await take(stream, len(poison) + 1)
        await wait_until(lambda: stream.stats.dead_letters == len(poison))

    assert [e.period for e in events] == list(range(len(poison) + 1))
    sink = stream.dead_letters
    assert isinstance(sink, MemoryDeadLetters)
    assert [letter.payload for letter in sink.letters] == [payload for payload, _ in poison.values()]
    assert [letter.properties for letter in sink.letters] == [props for _, props in poison.values()]
    assert all(letter.reason and letter.message_id for letter in sink.letters)
    assert "base64" in sink.letters[0].reason
    assert "authentication" in sink.letters[2].reason

    # Dead letters were acknowledged: the next subscriber starts after them.
    await producer.enrollment(99)
    async with make_stream() as again:
        (first,) = await take(again, 1)
    assert first.period == 99
    assert again.stats.dead_letters == 0


async def test_dead_letters_into_a_directory_and_a_callable(
    make_stream: Any, producer: Any, tmp_path: Path
) -> None:
    await producer.send(b"not an envelope", {"em": "aes_gcm"})
    await producer.enrollment(1)
    async with make_stream(dead_letters=tmp_path / "dead") as stream:
        await take(stream, 1)
        await wait_until(lambda: stream.stats.dead_letters == 1)
    (payload_file,) = (tmp_path / "dead").glob("*.payload")
    assert payload_file.read_bytes() == b"not an envelope"
    metadata = json.loads(payload_file.with_suffix(".json").read_text())
    assert metadata["properties"] == {"em": "aes_gcm"}
    assert "JSON" in metadata["reason"]

    received: list[DeadLetter] = []

    async def sink(letter: DeadLetter) -> None:
        received.append(letter)

    await producer.send(b"{}", {})
    await producer.enrollment(2)
    async with make_stream(dead_letters=sink) as stream:
        (event,) = await take(stream, 1)
    assert event.period == 2
    assert [letter.payload for letter in received] == [b"{}"]


async def test_a_failing_dead_letter_sink_leaves_the_message_unacknowledged(
    make_stream: Any, producer: Any
) -> None:
    def broken(letter: DeadLetter) -> None:
        raise OSError("disk full")

    await producer.send(b"poison", {})
    await producer.enrollment(1)
    async with make_stream(dead_letters=broken) as stream:
        (event,) = await take(stream, 1)
    assert event.period == 1
    assert stream.stats.dead_letter_failures == 1
    assert stream.stats.dead_letters == 0

    kept = MemoryDeadLetters()
    async with make_stream(dead_letters=kept) as stream:
        await wait_until(lambda: stream.stats.dead_letters == 1)
    assert [letter.payload for letter in kept] == [b"poison"]


async def test_broker_sigkill_and_restart_mid_stream_loses_nothing(
    make_stream: Any, producer: Any, broker: LocalBroker
) -> None:
    total = 300
    restarted = asyncio.Event()

    async def publish() -> None:
        for index in range(total):
            await producer.enrollment(index)
            if index % 10 == 9:
                await asyncio.sleep(0.02)

    seen: list[int] = []
    async with make_stream(buffer_size=20) as stream:
        publishing = asyncio.create_task(publish())
        async with asyncio.timeout(GUARD * 2):
            async for event in stream:
                seen.append(event.period)
                if len(seen) == 100 and not restarted.is_set():
                    broker.kill()
                    await broker.arestart()
                    restarted.set()
                if len(set(seen)) == total:
                    break
        await publishing

    assert restarted.is_set()
    assert sorted(set(seen)) == list(range(total))
    # Redeliveries after the crash were recognised, not handed out twice.
    assert len(seen) == total


async def test_a_body_that_raises_leaves_its_message_for_the_next_subscription(
    make_stream: Any, producer: Any
) -> None:
    for index in range(4):
        await producer.enrollment(index)

    taken: list[int] = []
    with pytest.raises(Boom):
        await fail_on(make_stream(), 2, taken)
    assert taken == [0, 1, 2]

    async with make_stream() as stream:
        events = await take(stream, 2)
    # 0 and 1 were done (the loop asked for the next one); 2 raised; 3 was never taken.
    assert [e.period for e in events] == [2, 3]


async def test_clean_exit_after_break_acknowledges_the_last_event(make_stream: Any, producer: Any) -> None:
    for index in range(3):
        await producer.enrollment(index)
    async with make_stream() as stream:
        async for event in stream:
            if event.period == 1:
                break
    async with make_stream() as stream:
        (event,) = await take(stream, 1)
    assert event.period == 2


async def test_explicit_ack_survives_a_raising_body(make_stream: Any, producer: Any) -> None:
    for index in range(2):
        await producer.enrollment(index)
    acknowledged: list[int] = []

    async def ack_then_fail(stream: EventStream) -> None:
        async with stream:
            async for event in stream:
                stream.ack(event)
                acknowledged.append(stream.stats.acknowledged)
                raise Boom

    with pytest.raises(Boom):
        await ack_then_fail(make_stream())
    assert acknowledged == [1]
    async with make_stream() as stream:
        (event,) = await take(stream, 1)
    assert event.period == 1


async def test_timeouts_around_anext_never_lose_a_message(make_stream: Any, producer: Any) -> None:
    # pulsar-client: cancelling a pending receive swallows the next message. The source keeps its receives pending.
    async with make_stream() as stream:
        for _ in range(3):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(stream), 0.05)
        await producer.enrollment(7)
        (event,) = await take(stream, 1)
    assert event.period == 7


async def test_cancelling_the_iterating_task_closes_the_stream(make_stream: Any, producer: Any) -> None:
    stream: EventStream = make_stream()
    started = asyncio.Event()

    async def consume() -> None:
        async with stream:
            started.set()
            async for _ in stream:
                pass

    task = asyncio.create_task(consume())
    await started.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    async with asyncio.timeout(GUARD):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not stream.is_open
    assert stream.source._client is None  # type: ignore[attr-defined]

    await producer.enrollment(5)
    async with make_stream() as again:
        (event,) = await take(again, 1)
    assert event.period == 5


async def test_backpressure_bounds_what_is_buffered(make_stream: Any, producer: Any) -> None:
    for index in range(60):
        await producer.enrollment(index)
    async with make_stream(buffer_size=5) as stream:
        # Nobody reads: 5 events buffered, one more waiting for room, the rest left with the broker.
        await wait_until(lambda: stream.stats.received >= 6)
        await asyncio.sleep(0.2)
        assert stream.stats.received == 6
        events = await take(stream, 60)
    assert [e.period for e in events] == list(range(60))


async def test_subscriptions_share_one_stream_filtered_by_device(make_stream: Any, producer: Any) -> None:
    async with make_stream(firehose=False) as stream:
        async with stream.enrollment_progress("lock-1") as one, stream.enrollment_progress("lock-2") as two:
            for index in range(6):
                await producer.enrollment(index, device_id=("lock-1", "lock-2", "lock-3")[index % 3])
            from_one = await take(one, 2)
            from_two = await take(two, 2)
            await wait_until(lambda: stream.stats.unmatched == 2)
        with pytest.raises(EventStreamError):
            await anext(stream)
    assert [(e.device_id, e.period) for e in from_one] == [("lock-1", 0), ("lock-1", 3)]
    assert [(e.device_id, e.period) for e in from_two] == [("lock-2", 1), ("lock-2", 4)]

    # Everything was acknowledged: unmatched events at once, the others when their subscriptions were done.
    await producer.enrollment(50)
    async with make_stream() as stream:
        (event,) = await take(stream, 1)
    assert event.period == 50


async def test_fan_out_acknowledges_only_when_every_recipient_is_done(
    make_stream: Any, producer: Any
) -> None:
    await producer.enrollment(0)
    await producer.enrollment(1)

    async with make_stream() as stream:
        watcher = stream.subscribe(EnrollmentProgress, device_id="lock-1")
        firehose = await take(stream, 2)  # the stream's own loop is done with event 0
        taken: list[int] = []
        with pytest.raises(Boom):
            await _watch_and_fail(watcher, taken)  # ... but the watcher failed on it
        assert taken == [0]
        assert [e.period for e in firehose] == [0, 1]

    async with make_stream() as stream:
        (event,) = await take(stream, 1)
    assert event.period == 0


async def _watch_and_fail(watcher: Subscription[EnrollmentProgress], taken: list[int]) -> None:
    async with watcher:
        async for event in watcher:
            taken.append(event.period)
            raise Boom


async def test_lock_cloud_events_opens_a_stream_on_the_given_url(
    broker: LocalBroker, producer: Any, push: Any
) -> None:
    await producer.enrollment(4)
    async with LockCloud(push.ACCESS_ID, push.SECRET) as cloud:
        stream = cloud.events(url=broker.url, initial_position="earliest", pulsar_log_level="error")
        assert isinstance(stream.source, PulsarSource)
        assert stream.topic == f"{push.ACCESS_ID}/out/event"
        assert stream.source.subscription == f"{push.ACCESS_ID}-sub"
        async with stream:
            (event,) = await take(stream, 1)
    assert isinstance(event, EnrollmentProgress)
    assert event.period == 4


async def test_env_selects_the_test_topic(make_stream: Any, push: Any) -> None:
    stream = make_stream(env="event-test", subscription="custom-sub")
    assert stream.topic.endswith("/out/event-test")
    assert stream.source.subscription == "custom-sub"
    assert push.SECRET not in repr(stream)
    assert push.SECRET not in repr(stream.source)
    assert push.SECRET not in repr(stream.source.options)


async def test_misuse_is_reported(make_stream: Any) -> None:
    stream = make_stream()
    with pytest.raises(EventStreamError, match="open the stream first"):
        await anext(stream)
    async with stream:
        with pytest.raises(EventStreamError, match="opened once"):
            await stream.open()
    with pytest.raises(EventStreamError, match="closed"):
        stream.subscribe(Event)
    async for _ in stream:
        pytest.fail("a closed stream yields nothing")


async def test_a_refused_connection_fails_on_open_with_the_fix(unused_tcp_port: int, push: Any) -> None:
    url = f"pulsar://127.0.0.1:{unused_tcp_port}"
    async with LockCloud(push.ACCESS_ID, push.SECRET) as cloud:
        stream = cloud.events(url=url, connect_timeout=5, pulsar_log_level="error")
    with pytest.raises(SubscribeError) as caught:
        async with stream:
            pytest.fail("must not get here")
    assert not stream.is_open
    error = caught.value
    assert (error.reason, error.url, error.topic) == ("refused", url, push.TOPIC)
    assert error.subscription == f"{push.ACCESS_ID}-sub"
    for part in (url, push.TOPIC, "check that the broker runs"):
        assert part in str(error)


async def test_closing_while_the_broker_is_down_does_not_hang(
    make_stream: Any, producer: Any, broker: LocalBroker
) -> None:
    await producer.enrollment(1)
    stream = make_stream(close_timeout=2.0)
    async with asyncio.timeout(GUARD):
        async with stream:
            await take(stream, 1)
            broker.kill()
    assert not stream.is_open


class _FlakySource:
    """A Source that fails once, then serves messages; counts resubscriptions and acks."""

    description = "flaky"

    def __init__(self, payloads: list[bytes]) -> None:
        self.payloads = payloads
        self.failed = False
        self.resubscribed = 0
        self.served = 0
        self.acknowledged: list[object] = []
        self.outcomes: list[Outcome] = []

    async def open(self) -> None:
        pass

    async def receive(self) -> list[SourceMessage]:
        if not self.failed:
            self.failed = True
            raise EventStreamError("connection reset")
        if not self.payloads:
            await asyncio.Event().wait()
        self.served += 1
        return [
            SourceMessage(
                self.payloads.pop(0), {"em": "aes_gcm"}, ("t", self.served), message_id=str(self.served)
            )
        ]

    def acknowledge(self, message: SourceMessage) -> None:
        self.acknowledged.append(message.key)

    def redeliver(self, message: SourceMessage) -> None:
        pass

    def report(self, message: SourceMessage, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    async def resubscribe(self) -> None:
        self.resubscribed += 1

    async def close(self, grace: float) -> None:
        pass


async def test_a_failed_source_is_resubscribed_and_iteration_goes_on(push: Any) -> None:
    source = _FlakySource([push.enrollment(1), push.enrollment(2)])
    assert isinstance(source, Source)
    async with EventStream(source, push.SECRET, resubscribe_delay=0.01) as stream:
        events = await take(stream, 2)
    assert [e.period for e in events] == [1, 2]
    assert source.resubscribed == 1
    assert stream.stats.resubscriptions == 1
    assert len(source.acknowledged) == 2
    assert source.outcomes == [Outcome.BUFFERED, Outcome.BUFFERED]


class _OneBatchSource(_FlakySource):
    """Serves all its messages as one batch, then nothing; records how far the stream had got at each ack."""

    def __init__(self, payloads: list[bytes]) -> None:
        super().__init__(payloads)
        self.failed = True  # no failure first
        self.stream: EventStream | None = None
        self.received_at_ack: list[int] = []

    async def receive(self) -> list[SourceMessage]:
        if not self.payloads:
            await asyncio.Event().wait()
        batch, self.payloads = self.payloads, []
        return [
            SourceMessage(payload, {"em": "aes_gcm"}, ("t", index), message_id=str(index))
            for index, payload in enumerate(batch)
        ]

    def acknowledge(self, message: SourceMessage) -> None:
        super().acknowledge(message)
        assert self.stream is not None
        self.received_at_ack.append(self.stream.stats.received)


async def test_readers_take_events_while_a_long_batch_is_still_being_handled(push: Any) -> None:
    # A batch of 400 fits the reader's buffer whole; the pump still lets the reader run every few dozen messages,
    # so events are delivered (and acknowledged) long before the batch's last message is handled.
    source = _OneBatchSource([push.enrollment(index % 5) for index in range(400)])
    async with EventStream(source, push.SECRET, buffer_size=500) as stream:
        source.stream = stream
        events = await take(stream, 400)
    assert len(events) == 400
    assert len(source.acknowledged) == 400
    assert source.received_at_ack[0] < 200

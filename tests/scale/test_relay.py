"""The Redis relay: a forwarder on the Pulsar subscription, readers of the Redis stream (real broker, real Redis)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pulsar
import pytest
import redis.asyncio as aioredis

from lockcloud import LockCloud, RelayError
from lockcloud._core.wire import topic_for
from lockcloud.events import (
    Event,
    EventStream,
    PulsarOptions,
    PulsarSource,
    RedisRelayForwarder,
    RedisRelaySource,
    SourceMessage,
    StatusReport,
    Subscription,
    relay_key,
)
from lockcloud.events._relay import dead_key
from lockcloud.sim.broker import LocalBroker
from lockcloud.testing import PushBuilder

from support import ACCESS_SECRET as SECRET
from support import ListSource, project_access_id

ACCESS_ID = project_access_id("relay")
TOPIC = topic_for(ACCESS_ID)
BUILD = PushBuilder(SECRET)


def signed(fields: dict[bytes, bytes], *, stamp_ms: int | None = None) -> dict[bytes, bytes]:
    """``fields`` as a forwarder of this project writes them: stamped now and signed."""
    from lockcloud.events._relay import _signature, _signing_key

    stamped = {**fields, b"ts": str(stamp_ms if stamp_ms is not None else int(time.time() * 1000)).encode()}
    return {**stamped, b"sig": _signature(_signing_key(SECRET, relay_key(ACCESS_ID)), stamped)}


def envelope(device: str, data_id: str) -> bytes:
    body = {
        "dataId": data_id,
        "devId": device,
        "productKey": "pk",
        "status": [{"code": "c", "value": 1, "t": 1}],
    }
    return BUILD.envelope(body, protocol=4)[0]


def produce(url: str, messages: list[tuple[str, str]]) -> None:
    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    try:
        producer = client.create_producer(TOPIC, batching_enabled=False)
        for device, data_id in messages:
            producer.send(envelope(device, data_id), properties={"em": "aes_gcm"}, partition_key=device)
    finally:
        client.close()


def pulsar_source(broker: LocalBroker, tmp_path: Path, **options: Any) -> PulsarSource:
    return PulsarSource(
        PulsarOptions(
            url=broker.url,
            access_id=ACCESS_ID,
            access_secret=SECRET,
            initial_position="earliest",
            log_file=str(tmp_path / "pulsar.log"),
            **options,
        )
    )


def relay_stream(url: str, **options: Any) -> EventStream:
    return EventStream(RedisRelaySource(url, ACCESS_ID, access_secret=SECRET, **options), SECRET)


@contextlib.asynccontextmanager
async def forwarding(
    broker: LocalBroker, relay_url: str, tmp_path: Path, **options: Any
) -> AsyncIterator[RedisRelayForwarder]:
    async with RedisRelayForwarder(
        pulsar_source(broker, tmp_path), relay_url, ACCESS_ID, access_secret=SECRET, **options
    ) as forwarder:
        task = asyncio.create_task(forwarder.run())
        try:
            yield forwarder
            # The forwarder runs until cancelled: ended by itself, it failed.
            assert not task.done(), task.exception()
        finally:
            task.cancel()
            await asyncio.wait([task])


async def eventually(predicate: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 - polling a counter of another task
            await asyncio.sleep(0.05)


async def take(stream: EventStream, count: int) -> list[StatusReport]:
    taken = []
    async with asyncio.timeout(60):
        for _ in range(count):
            event = await anext(stream)
            assert isinstance(event, StatusReport)
            taken.append(event)
    return taken


async def test_every_reader_gets_every_message_in_order_per_lock(
    partitioned_broker: LocalBroker, redis_server: Any, tmp_path: Path
) -> None:
    messages = [(f"lock-{n % 7}", f"lock-{n % 7}:{n // 7}") for n in range(210)]
    async with (
        relay_stream(redis_server.url) as first,
        relay_stream(redis_server.url) as second,
        forwarding(partitioned_broker, redis_server.url, tmp_path) as forwarder,
    ):
        await asyncio.to_thread(produce, partitioned_broker.url, messages)
        seen = [await take(first, len(messages)), await take(second, len(messages))]
        # A reader may see an entry before the forwarder, resumed after its XADD, counts it.
        await eventually(lambda: forwarder.stats.relayed >= len(messages), 10)
        assert forwarder.stats.relayed == len(messages)
        assert sum(forwarder.stats.partitions.values()) == len(messages)
        assert all(
            topic.startswith(f"persistent://{TOPIC}-partition-") for topic in forwarder.stats.partitions
        )
    for events in seen:
        assert sorted(e.data_id or "" for e in events) == sorted(data_id for _, data_id in messages)
        by_lock: dict[str, list[int]] = {}
        for event in events:
            by_lock.setdefault(event.device_id, []).append(int((event.data_id or "").split(":")[1]))
        assert all(seqs == sorted(seqs) for seqs in by_lock.values())
        # The Pulsar message id travels with the message.
        assert all(e.message_id and e.message_id.startswith("(") for e in events)
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        assert await client.xlen(relay_key(ACCESS_ID)) == len(messages)
        # The readers' own groups are gone with them.
        assert await client.xinfo_groups(relay_key(ACCESS_ID)) == []
    finally:
        await client.aclose()


async def test_a_relay_that_cannot_connect_fails_before_anything_is_consumed(
    partitioned_broker: LocalBroker, tmp_path: Path
) -> None:
    await asyncio.to_thread(produce, partitioned_broker.url, [("lock-1", "lock-1:0"), ("lock-2", "lock-2:0")])
    with pytest.raises(RelayError, match=r"relay at 127\.0\.0\.1:1 cannot be reached") as caught:
        async with forwarding(
            partitioned_broker, "redis://:hunter2@127.0.0.1:1/0", tmp_path, redis_timeout=1
        ):
            pass
    assert caught.value.address == "127.0.0.1:1"
    assert "hunter2" not in str(caught.value)
    # Nothing was taken from the subscription: the project's consumer still gets both messages.
    async with EventStream(
        pulsar_source(partitioned_broker, tmp_path, operation_timeout=5), SECRET
    ) as stream:
        assert {e.data_id for e in await take(stream, 2)} == {"lock-1:0", "lock-2:0"}
    with pytest.raises(RelayError, match="cannot be reached") as caught:
        async with relay_stream("redis://:hunter2@127.0.0.1:1/0", timeout=1):
            pass
    assert "hunter2" not in str(caught.value)
    # The same through the client's option.
    async with LockCloud(ACCESS_ID, SECRET) as cloud:
        with pytest.raises(RelayError, match="cannot be reached"):
            async with cloud.events(relay="redis://127.0.0.1:1/0"):
                pass


async def test_malformed_entries_are_dead_lettered_and_duplicates_dropped(redis_server: Any) -> None:
    key = relay_key(ACCESS_ID)
    client = aioredis.Redis.from_url(redis_server.url)
    good = {
        b"v": b"2",
        b"topic": b"persistent://t-partition-3",
        b"id": b"(1,2,3,-1)",
        b"props": b'{"em":"aes_gcm"}',
    }
    try:
        async with relay_stream(redis_server.url, group="dead-letters") as stream:
            await client.xadd(key, {b"junk": b"\xff\x00"})
            await client.xadd(key, signed({**good, b"props": b"[1, 2]", b"payload": envelope("lock-1", "x")}))
            await client.xadd(key, signed({**good, b"v": b"3", b"payload": envelope("lock-1", "x")}))
            await client.xadd(key, signed({**good, b"payload": b"not an envelope"}))
            await client.xadd(
                key, signed({**good, b"id": b"(1,3,3,-1)", b"payload": envelope("lock-1", "lock-1:1")})
            )
            # The same Pulsar message relayed twice (a listener died before acknowledging it): one event.
            await client.xadd(
                key, signed({**good, b"id": b"(1,3,3,-1)", b"payload": envelope("lock-1", "lock-1:1")})
            )
            await client.xadd(
                key, signed({**good, b"id": b"(1,4,3,-1)", b"payload": envelope("lock-1", "lock-1:2")})
            )
            # Alive after four dead letters: the entries behind them come through.
            events = await take(stream, 2)
            assert [e.data_id for e in events] == ["lock-1:1", "lock-1:2"]
            assert [e.message_id for e in events] == ["(1,3,3,-1)", "(1,4,3,-1)"]
            # The duplicate came before the last event, so it has been counted by now.
            assert stream.stats.duplicates == 1
            assert stream.stats.dead_letters == 4
            letters = stream.dead_letters.letters  # type: ignore[attr-defined]
            ids = [letter.message_id for letter in letters]
            assert [i.startswith("relay:") for i in ids] == [True, True, True, False]
            assert ids[3] == "(1,2,3,-1)"
            assert b"relay_entry" in letters[0].payload
            assert "not a relayed message" in letters[0].reason
        # Every entry was acknowledged: the dead letters once the sink had them, the duplicate with its original.
        (group,) = [g for g in await client.xinfo_groups(key) if g["name"] == b"dead-letters"]
        assert group["pending"] == 0
    finally:
        await client.aclose()


async def test_a_message_the_source_could_not_read_is_relayed_and_dead_lettered(
    redis_server: Any,
) -> None:
    defect = SourceMessage(
        b"\x00garbled", {}, ("t", "(9,9,0,-1)"), message_id="(9,9,0,-1)", defect="cut short"
    )
    good = SourceMessage(
        envelope("lock-1", "lock-1:0"),
        {"em": "aes_gcm"},
        ("t", "(9,10,0,-1)"),
        message_id="(9,10,0,-1)",
        topic="persistent://t-partition-0",
    )
    source = ListSource([defect, good])
    async with relay_stream(redis_server.url) as stream:
        async with RedisRelayForwarder(
            source, redis_server.url, ACCESS_ID, access_secret=SECRET
        ) as forwarder:
            await forwarder.run()  # the source closes once it has handed both over
        assert source.acknowledged == [defect, good]
        events = await take(stream, 1)
        assert [e.data_id for e in events] == ["lock-1:0"]
        letters = stream.dead_letters.letters  # type: ignore[attr-defined]
        assert [(letter.message_id, letter.reason) for letter in letters] == [("(9,9,0,-1)", "cut short")]
        assert letters[0].payload == b"\x00garbled"


async def test_a_named_group_resumes_where_it_stopped(redis_server: Any) -> None:
    key = relay_key(ACCESS_ID)
    client = aioredis.Redis.from_url(redis_server.url)
    good = {b"v": b"2", b"topic": b"persistent://t-partition-0", b"props": b'{"em":"aes_gcm"}'}
    try:
        async with relay_stream(redis_server.url, group="web-1") as stream:
            for seq in range(3):
                await client.xadd(
                    key,
                    signed(
                        {**good, b"id": f"(1,{seq},0,-1)".encode(), b"payload": envelope("l", f"l:{seq}")}
                    ),
                )
            first = await take(stream, 2)
            # Leaving with the second event unfinished (the body raised): it stays unacknowledged.
            await stream.aclose(done=False)
        async with relay_stream(redis_server.url, group="web-1") as stream:
            again = await take(stream, 2)
        assert [e.data_id for e in first] == ["l:0", "l:1"]
        assert [e.data_id for e in again] == ["l:1", "l:2"]
    finally:
        await client.aclose()


async def test_an_entry_a_subscriber_gave_up_is_offered_again(redis_server: Any) -> None:
    key = relay_key(ACCESS_ID)
    client = aioredis.Redis.from_url(redis_server.url)
    fields = {
        b"v": b"2",
        b"topic": b"persistent://t-partition-0",
        b"id": b"(2,0,0,-1)",
        b"props": b'{"em":"aes_gcm"}',
        b"payload": envelope("lock-9", "lock-9:0"),
    }
    source = RedisRelaySource(
        redis_server.url, ACCESS_ID, access_secret=SECRET, group="retry", redelivery_delay=0.2
    )
    taken: list[Event] = []

    async def fail_in_body(subscription: Subscription[Event], taken: list[Event]) -> None:
        async with subscription:
            async with asyncio.timeout(30):
                taken.append(await anext(subscription))
            raise RuntimeError("handler failed")

    try:
        async with EventStream(source, SECRET, firehose=False) as stream:
            first = stream.subscribe(device_id="lock-9")
            await client.xadd(key, signed(fields))
            with pytest.raises(RuntimeError, match="handler failed"):
                await fail_in_body(first, taken)
            async with stream.subscribe(device_id="lock-9") as second:
                async with asyncio.timeout(30):
                    again = await anext(second)
            (first_event,) = taken
            assert isinstance(first_event, StatusReport)
            assert isinstance(again, StatusReport)
            assert (first_event.data_id, first_event.message_id) == ("lock-9:0", "(2,0,0,-1)")
            assert (again.data_id, again.message_id) == ("lock-9:0", "(2,0,0,-1)")
        pending = await client.xpending(key, "retry")
        assert pending["pending"] == 0
    finally:
        await client.aclose()


async def test_a_reader_survives_a_redis_restart(redis_server: Any) -> None:
    key = relay_key(ACCESS_ID)
    client = aioredis.Redis.from_url(redis_server.url)
    good = {b"v": b"2", b"topic": b"persistent://t-partition-0", b"props": b'{"em":"aes_gcm"}'}
    try:
        source = RedisRelaySource(redis_server.url, ACCESS_ID, access_secret=SECRET, block=0.2, timeout=1)
        async with EventStream(source, SECRET, resubscribe_delay=0.1, max_resubscribe_delay=0.5) as stream:
            await client.xadd(key, signed({**good, b"id": b"(3,0,0,-1)", b"payload": envelope("l", "l:0")}))
            assert [e.data_id for e in await take(stream, 1)] == ["l:0"]
            # Empty after the restart (no persistence): the reader's group is gone with the stream.
            await asyncio.to_thread(redis_server.restart)
            await client.aclose()
            client = aioredis.Redis.from_url(redis_server.url)
            # Added before or after the reader noticed: it makes its group again after the last entry it saw.
            await client.xadd(key, signed({**good, b"id": b"(3,1,0,-1)", b"payload": envelope("l", "l:1")}))
            assert [e.data_id for e in await take(stream, 1)] == ["l:1"]
            assert stream.stats.resubscriptions >= 1
    finally:
        await client.aclose()


async def test_nothing_is_acknowledged_to_pulsar_while_redis_is_down(
    partitioned_broker: LocalBroker, redis_server: Any, tmp_path: Path
) -> None:
    key = relay_key(ACCESS_ID)
    async with forwarding(
        partitioned_broker, redis_server.url, tmp_path, redis_timeout=0.5, max_retry_delay=0.5
    ) as forwarder:
        await asyncio.to_thread(produce, partitioned_broker.url, [("lock-1", "lock-1:0")])
        await eventually(lambda: forwarder.stats.relayed >= 1, 30)
        await asyncio.to_thread(redis_server.kill)
        messages = [(f"lock-{n % 3}", f"lock-{n % 3}:{n // 3 + 1}") for n in range(30)]
        await asyncio.to_thread(produce, partitioned_broker.url, messages)
        await eventually(lambda: forwarder.stats.retries >= 2, 30)
        assert forwarder.stats.relayed == 1
        # Back, empty (no persistence): what was taken during the outage is relayed now, nothing skipped.
        await asyncio.to_thread(redis_server.start)
        await eventually(lambda: forwarder.stats.relayed >= 1 + len(messages), 60)
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        entries = await client.xrange(key)
    finally:
        await client.aclose()
    # Every message taken during the outage is in Redis once it is back; the one relayed before went with it.
    assert len(entries) == len(messages)
    assert all(fields[b"id"].startswith(b"(") for _, fields in entries)


def test_relay_options_are_checked() -> None:
    from lockcloud import ValidationError
    from lockcloud.events._options import events_stream

    with pytest.raises(ValidationError, match="reads Redis instead"):
        events_stream(ACCESS_ID, SECRET, {"relay": "redis://127.0.0.1:1/0", "subscription": "s"})
    with pytest.raises(ValidationError, match="needs relay="):
        events_stream(ACCESS_ID, SECRET, {"url": "pulsar://127.0.0.1:6650", "relay_group": "g"})
    with pytest.raises(ValidationError, match="two different sources"):
        events_stream(ACCESS_ID, SECRET, {"relay": "redis://127.0.0.1:1/0", "transport": "websocket"})
    with pytest.raises(ValidationError, match="not a Redis URL"):
        RedisRelaySource("http://example.invalid", ACCESS_ID, access_secret=SECRET)
    with pytest.raises(ValidationError):
        RedisRelaySource("redis://127.0.0.1:1/0", "", access_secret=SECRET)
    # Unsigned entries are refused: neither side works without the key they are signed with.
    with pytest.raises(ValidationError, match="access_secret is required"):
        RedisRelaySource("redis://127.0.0.1:1/0", ACCESS_ID)
    with pytest.raises(ValidationError, match="access_secret is required"):
        RedisRelayForwarder(ListSource([]), "redis://127.0.0.1:1/0", ACCESS_ID)
    stream = events_stream(ACCESS_ID, SECRET, {"relay": "redis://:pw@127.0.0.1:1/0", "relay_group": "web-1"})
    assert isinstance(stream.source, RedisRelaySource)
    assert stream.source.group == "web-1"
    assert "pw" not in stream.source.description
    assert "pw" not in repr(stream.source)


async def test_cancelling_a_receive_loses_no_entry(redis_server: Any) -> None:
    """Receives cancelled at random moments (before, during and after Redis answered) lose nothing."""
    key = relay_key(ACCESS_ID)
    client = aioredis.Redis.from_url(redis_server.url)
    good = {
        b"v": b"2",
        b"topic": b"persistent://t-partition-1",
        b"props": b'{"em":"aes_gcm"}',
        b"payload": b"{}",
    }
    source = RedisRelaySource(
        redis_server.url, ACCESS_ID, access_secret=SECRET, group="cancelled", block=0.05
    )
    added: list[str] = []
    seen: list[str] = []
    rng = random.Random(12)
    try:
        await source.open()
        for index in range(150):
            message_id = f"(4,{index},1,-1)"
            await client.xadd(key, signed({**good, b"id": message_id.encode()}))
            added.append(message_id)
            receiving = asyncio.ensure_future(source.receive())
            await asyncio.sleep(rng.random() * 0.004)
            receiving.cancel()
            await asyncio.wait([receiving])
            if not receiving.cancelled():
                for message in receiving.result():
                    assert message.message_id is not None
                    seen.append(message.message_id)
                    source.acknowledge(message)
        async with asyncio.timeout(30):
            while not set(added) <= set(seen):
                for message in await source.receive():
                    assert message.message_id is not None
                    seen.append(message.message_id)
                    source.acknowledge(message)
    finally:
        await source.close(2.0)
        await client.aclose()
    assert set(seen) == set(added)


async def test_the_forwarder_goes_on_after_a_broker_crash(
    partitioned_broker: LocalBroker, redis_server: Any, tmp_path: Path
) -> None:
    first = [(f"lock-{n % 3}", f"lock-{n % 3}:{n // 3}") for n in range(15)]
    later = [(f"lock-{n % 3}", f"lock-{n % 3}:{n // 3 + 5}") for n in range(15)]
    async with (
        relay_stream(redis_server.url) as reader,
        forwarding(partitioned_broker, redis_server.url, tmp_path, max_retry_delay=1.0) as forwarder,
    ):
        await asyncio.to_thread(produce, partitioned_broker.url, first)
        taken = await take(reader, len(first))
        partitioned_broker.kill()
        await partitioned_broker.arestart()
        await asyncio.to_thread(produce, partitioned_broker.url, later)
        # What the broker kept unacknowledged comes again after the crash (pulsar-lite also forgets
        # acknowledgements on partitioned topics): the reader suppresses the copies by Pulsar message id.
        async with asyncio.timeout(90):
            while {e.data_id for e in taken} < {data_id for _, data_id in first + later}:
                taken.extend(await take(reader, 1))
        await eventually(lambda: forwarder.stats.relayed >= len(first) + len(later), 10)
    by_lock: dict[str, list[int]] = {}
    for event in taken:
        by_lock.setdefault(event.device_id or "", []).append(int((event.data_id or "").split(":")[1]))
    assert all(seqs == sorted(set(seqs)) for seqs in by_lock.values()), by_lock


async def test_a_refused_entry_is_acknowledged_and_kept_even_while_the_dead_letter_sink_fails(
    redis_server: Any,
) -> None:
    """A refused entry never stays pending (a named group would hand it to every restart for ever): it is
    acknowledged at once and kept, with its reason, in the relay's refused stream."""
    key = relay_key(ACCESS_ID)
    client = aioredis.Redis.from_url(redis_server.url)
    good = {b"v": b"2", b"topic": b"persistent://t-partition-2", b"props": b'{"em":"aes_gcm"}'}

    def sink(letter: Any) -> None:
        raise OSError("dead-letter disk full")

    try:
        source = RedisRelaySource(redis_server.url, ACCESS_ID, access_secret=SECRET, group="sink-down")
        async with EventStream(source, SECRET, dead_letters=sink) as stream:
            junk_id = await client.xadd(key, {b"junk": b"1"})
            await client.xadd(key, signed({**good, b"id": b"(5,0,2,-1)", b"payload": envelope("l", "l:0")}))
            assert [e.data_id for e in await take(stream, 1)] == ["l:0"]
            assert stream.stats.dead_letter_failures == 1
            assert source.refused == 1
            assert source.refusals == {"layout": 1}
        # The event was acknowledged on leaving, the refused entry when it was refused.
        assert (await client.xpending(key, "sink-down"))["pending"] == 0
        (record,) = [fields for _, fields in await client.xrange(dead_key(key))]
        assert record[b"entry"] == junk_id
        assert b"not a relayed message" in record[b"reason"]
        assert record[b"group"] == b"sink-down"
    finally:
        await client.aclose()


def test_import_lockcloud_events_does_not_import_redis() -> None:
    code = (
        "import sys, lockcloud.events as events; assert 'redis' not in sys.modules; "
        "from lockcloud.events import *; assert 'redis' not in sys.modules; "
        "events.RedisRelaySource; assert 'redis' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

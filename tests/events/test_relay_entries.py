"""Entries of the Redis relay (real redis-server): only signed, fresh, bounded entries are delivered; refused ones
are acknowledged, kept and dead-lettered; closing ends a pending read; a closed forwarder stops; a raising
callback does not end the forwarder; an outage is named as the cause of the enrollment it ends."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st

from lockcloud.crypto import encrypt_message
from lockcloud.events import (
    EnrollmentProgress,
    EventStream,
    PulsarOptions,
    PulsarSource,
    RedisRelayForwarder,
    RedisRelaySource,
    SourceClosed,
    StatusReport,
    relay_key,
)
from lockcloud.events._relay import _signature, _signing_key, dead_key

from support import ACCESS_SECRET as SECRET
from support import ListSource, project_access_id

ACCESS_ID = project_access_id("relayentries")


def signed(
    fields: dict[bytes, bytes], *, stamp_ms: int | None = None, secret: str = SECRET
) -> dict[bytes, bytes]:
    """``fields`` as a forwarder of this project writes them: stamped (now, unless told) and signed."""
    stamped = {**fields, b"ts": str(stamp_ms if stamp_ms is not None else int(time.time() * 1000)).encode()}
    return {**stamped, b"sig": _signature(_signing_key(secret, relay_key(ACCESS_ID)), stamped)}


GOOD = {
    b"v": b"2",
    b"topic": b"persistent://t-partition-1",
    b"props": b'{"em":"aes_gcm"}',
    b"payload": b"{}",
}


@pytest.mark.parametrize("group", [None, "web-1"], ids=["unnamed", "named"])
async def test_closing_ends_a_pending_read_with_source_closed(redis_server: Any, group: str | None) -> None:
    # A long block, so that only closing can end the read.
    source = RedisRelaySource(redis_server.url, ACCESS_ID, access_secret=SECRET, group=group, block=30.0)
    await source.open()
    receiving = asyncio.ensure_future(source.receive())
    await asyncio.sleep(0.2)
    assert not receiving.done()
    async with asyncio.timeout(5):
        await source.close(1.0)
        with pytest.raises(SourceClosed):
            await receiving
    # The unnamed group was dropped on close, and the interrupted read did not create it again.
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        groups = [entry["name"].decode() for entry in await client.xinfo_groups(relay_key(ACCESS_ID))]
    finally:
        await client.aclose()
    assert groups == ([] if group is None else [group])


async def test_acknowledgements_lost_to_a_redis_outage_are_sent_once_it_is_back(redis_server: Any) -> None:
    """A named group must not keep acknowledged entries pending: a restarted reader would deliver them again."""
    key = relay_key(ACCESS_ID)
    client = aioredis.Redis.from_url(redis_server.url)
    source = RedisRelaySource(
        redis_server.url, ACCESS_ID, access_secret=SECRET, group="web-1", start="0", block=0.05, timeout=0.5
    )
    try:
        await source.open()
        entry = signed({**GOOD, b"id": b"(1,1,-1,-1)"})
        entry_id = await client.xadd(key, entry)
        async with asyncio.timeout(10):
            (message,) = await source.receive()
        # Redis goes away (the pool's connections with it) just as the stream acknowledges, and comes back.
        await client.connection_pool.disconnect()
        await asyncio.to_thread(redis_server.stop)
        source.acknowledge(message)
        # Longer than redis-py's own retries of the command (3, at most 1 + 2 + 4 s apart).
        await asyncio.sleep(8.0)
        await asyncio.to_thread(redis_server.start)
        # Back empty (no persistence): put the entry back, pending for this reader, as it was before.
        await client.xadd(key, entry, id=entry_id)
        await client.xgroup_create(key, "web-1", id="0")
        assert await client.xreadgroup("web-1", "reader", {key: ">"})
        assert (await client.xpending(key, "web-1"))["pending"] == 1
        # No more traffic comes: the
        # acknowledgement still reaches Redis, without waiting for the next one or for closing.
        async with asyncio.timeout(10):
            while (await client.xpending(key, "web-1"))["pending"]:  # noqa: ASYNC110 - polling Redis
                await asyncio.sleep(0.05)
    finally:
        await source.close(1.0)
        await client.aclose()


async def test_a_closed_forwarder_stops_retrying_and_acknowledges_nothing(
    broker: Any,
    producer: Any,
    push: Any,
    make_stream: Callable[..., EventStream],
    redis_server: Any,
    tmp_path: Path,
) -> None:
    source = PulsarSource(
        PulsarOptions(
            url=broker.url,
            access_id=push.ACCESS_ID,
            access_secret=push.SECRET,
            initial_position="earliest",
            log_file=str(tmp_path / "forwarder-pulsar.log"),
        )
    )
    forwarder = RedisRelayForwarder(
        source,
        redis_server.url,
        push.ACCESS_ID,
        access_secret=push.SECRET,
        redis_timeout=0.3,
        retry_delay=0.05,
        max_retry_delay=0.1,
    )
    await forwarder.open()
    await asyncio.to_thread(redis_server.kill)
    await producer.enrollment(1)
    running = asyncio.create_task(forwarder.run())
    try:
        async with asyncio.timeout(20):
            while forwarder.stats.retries < 2:  # noqa: ASYNC110 - a counter of another task
                await asyncio.sleep(0.02)
        # Closed while Redis is away: the run ends, rather than retry the batch for as long as the process lives.
        await forwarder.aclose()
        async with asyncio.timeout(5):
            await running
    finally:
        running.cancel()
        await asyncio.wait([running])
    assert forwarder.stats.relayed == 0
    # Nothing was acknowledged to Pulsar: the subscription's next consumer gets the message.
    async with make_stream() as stream:
        async with asyncio.timeout(20):
            event = await anext(stream)
    assert isinstance(event, EnrollmentProgress)
    assert event.period == 1


async def test_a_stream_stops_resubscribing_a_source_closed_behind_its_back(
    redis_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    source = RedisRelaySource(redis_server.url, ACCESS_ID, access_secret=SECRET, block=0.05, timeout=0.3)
    stream = EventStream(source, SECRET, resubscribe_delay=0.02, max_resubscribe_delay=0.05)
    await stream.open()
    try:
        await asyncio.to_thread(redis_server.kill)
        async with asyncio.timeout(20):
            while not _said(caplog, "subscribing failed"):  # noqa: ASYNC110 - polling the log
                await asyncio.sleep(0.05)
        # Closed by someone else while the stream is retrying: the stream stops, rather than retry a closed source
        # every few seconds for as long as it lives.
        await source.close(0.5)
        caplog.clear()
        await asyncio.sleep(1.0)
        assert not _said(caplog, "the relay source is closed")
    finally:
        await stream.aclose()


def _said(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


def _envelope(device: str, data_id: str) -> bytes:
    body = {
        "dataId": data_id,
        "devId": device,
        "productKey": "pk",
        "status": [{"code": "c", "value": 1, "t": 1}],
    }
    data = encrypt_message(json.dumps(body).encode(), SECRET, "aes_gcm")
    return json.dumps({"data": data, "protocol": 4, "pv": "2.0", "sign": "s", "t": 1}).encode()


async def test_an_entry_nested_too_deep_to_read_is_dead_lettered_and_the_stream_goes_on(
    redis_server: Any,
) -> None:
    key = relay_key(ACCESS_ID)
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        async with EventStream(
            RedisRelaySource(redis_server.url, ACCESS_ID, access_secret=SECRET, group="deep"), SECRET
        ) as stream:
            # Anyone who can write to Redis can write this: JSON nested past the interpreter's recursion limit.
            await client.xadd(key, signed({**GOOD, b"id": b"(1,1,-1,-1)", b"props": b"[" * 100_000}))
            await client.xadd(
                key, signed({**GOOD, b"id": b"(1,2,-1,-1)", b"payload": _envelope("lock-1", "lock-1:1")})
            )
            async with asyncio.timeout(20):
                event = await anext(stream)
            assert isinstance(event, StatusReport)
            assert event.data_id == "lock-1:1"
            assert stream.stats.dead_letters == 1
    finally:
        await client.aclose()


async def test_an_unnamed_reader_drops_the_groups_of_readers_killed_long_ago(redis_server: Any) -> None:
    # A killed process never closes its reader: its group would stay in Redis for good. Such a group and a live
    # reader's group differ only in how long their consumer has been idle.
    client = aioredis.Redis.from_url(redis_server.url)
    key = relay_key(ACCESS_ID)
    try:
        await client.xadd(key, GOOD)
        for name in ("lockcloud-reader-killed", "lockcloud-reader-alive", "web-named"):
            await client.xgroup_create(key, name, id="0", mkstream=True)
        await client.xreadgroup("lockcloud-reader-killed", "reader", {key: ">"}, count=1)
        await client.xreadgroup("web-named", "reader", {key: ">"}, count=1)
        await asyncio.sleep(1.3)
        await client.xreadgroup("lockcloud-reader-alive", "reader", {key: ">"}, count=1)
        source = RedisRelaySource(
            redis_server.url, ACCESS_ID, access_secret=SECRET, block=0.1, stale_after=1.0
        )
        await source.open()
        try:
            groups = {entry["name"].decode() for entry in await client.xinfo_groups(key)}
        finally:
            await source.close(1.0)
    finally:
        await client.aclose()
    # The long-idle unnamed group is gone; the one read just now, the named one and the opener's own are kept.
    assert "lockcloud-reader-killed" not in groups
    assert {"lockcloud-reader-alive", "web-named", source.group} <= groups


async def _relayed_events(stream: EventStream, count: int) -> list[Any]:
    taken = []
    async with asyncio.timeout(30):
        for _ in range(count):
            taken.append(await anext(stream))
    return taken


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda fields: {**fields, b"ts": str(int(time.time() * 1000)).encode()}, "signature"),
        (lambda fields: signed(fields, secret="another-project-secret-0123456789"), "signature"),
        (lambda fields: {**signed(fields), b"payload": b"{}"}, "signature"),
        (lambda fields: signed({**fields, b"v": b"1"}), "layout"),
        (lambda fields: signed(fields, stamp_ms=int(time.time() * 1000) - 3_600_000), "replay"),
        (lambda fields: signed(fields, stamp_ms=int(time.time() * 1000) + 3_600_000), "replay"),
    ],
    ids=[
        "unsigned",
        "other-secret",
        "tampered",
        "old-layout",
        "replayed-an-hour-later",
        "stamped-in-the-future",
    ],
)
async def test_an_entry_not_signed_fresh_by_this_project_is_refused_kept_and_acknowledged(
    redis_server: Any, make: Callable[[dict[bytes, bytes]], dict[bytes, bytes]], reason: str
) -> None:
    """Whoever can write to Redis cannot inject progress, or replay a captured entry."""
    key = relay_key(ACCESS_ID)
    client = aioredis.Redis.from_url(redis_server.url)
    forged = {**GOOD, b"id": b"(7,1,-1,-1)", b"payload": _envelope("lock-1", "lock-1:forged")}
    real = {**GOOD, b"id": b"(7,2,-1,-1)", b"payload": _envelope("lock-1", "lock-1:real")}
    source = RedisRelaySource(redis_server.url, ACCESS_ID, access_secret=SECRET, group="web", start="0")
    try:
        refused_id = await client.xadd(key, make(forged))
        await client.xadd(key, signed(real))
        async with EventStream(source, SECRET) as stream:
            (event,) = await _relayed_events(stream, 1)
            assert isinstance(event, StatusReport)
            assert event.data_id == "lock-1:real"
            assert source.refused == 1
            assert source.refusals == {reason: 1}
            (letter,) = stream.dead_letters.letters  # type: ignore[attr-defined]
            assert letter.message_id == f"relay:{refused_id.decode()}"
            assert "relay entry refused" in letter.reason
        assert (await client.xpending(key, "web"))["pending"] == 0
        (record,) = [fields for _, fields in await client.xrange(dead_key(key))]
        assert record[b"entry"] == refused_id
    finally:
        await client.aclose()


async def test_an_oversized_entry_is_refused_without_being_sent_to_the_reader(redis_server: Any) -> None:
    key = relay_key(ACCESS_ID)
    client = aioredis.Redis.from_url(redis_server.url)
    huge = signed({**GOOD, b"id": b"(8,1,-1,-1)", b"payload": b"x" * (8 * 1024 * 1024)})
    source = RedisRelaySource(redis_server.url, ACCESS_ID, access_secret=SECRET, group="web", start="0")
    try:
        await client.xadd(key, huge)
        await client.xadd(
            key, signed({**GOOD, b"id": b"(8,2,-1,-1)", b"payload": _envelope("lock-1", "lock-1:2")})
        )
        sent_before = int((await client.info("stats"))["total_net_output_bytes"])
        async with EventStream(source, SECRET) as stream:
            (event,) = await _relayed_events(stream, 1)
            assert isinstance(event, StatusReport)
            assert source.refusals == {"oversized": 1}
            (letter,) = stream.dead_letters.letters  # type: ignore[attr-defined]
            assert "larger than max_entry_bytes" in letter.reason
            assert len(letter.payload) < 1024
        # What Redis sent over all its connections meanwhile: the small entry, not the 8 MiB one.
        sent = int((await client.info("stats"))["total_net_output_bytes"]) - sent_before
        assert sent < 1024 * 1024
        assert (await client.xpending(key, "web"))["pending"] == 0
    finally:
        await client.aclose()


async def test_a_forwarders_entries_are_accepted_end_to_end(redis_server: Any) -> None:
    from lockcloud.events import SourceMessage

    messages = [
        SourceMessage(
            _envelope("lock-1", f"lock-1:{n}"),
            {"em": "aes_gcm"},
            ("t", f"(9,{n},0,-1)"),
            message_id=f"(9,{n},0,-1)",
            topic="persistent://t-partition-0",
        )
        for n in range(3)
    ]
    called: list[str | None] = []

    def on_relayed(message: SourceMessage) -> None:
        called.append(message.message_id)
        raise RuntimeError("the callback is broken")

    source = RedisRelaySource(redis_server.url, ACCESS_ID, access_secret=SECRET)
    async with EventStream(source, SECRET) as stream:
        forwarder = RedisRelayForwarder(
            ListSource(messages), redis_server.url, ACCESS_ID, access_secret=SECRET, on_relayed=on_relayed
        )
        async with forwarder:
            # Ends only because the source closes after handing its messages over: the raising callback did not
            # end it.
            async with asyncio.timeout(30):
                await forwarder.run()
        assert forwarder.stats.relayed == 3
        assert forwarder.stats.callback_errors == 3
        assert called == ["(9,0,0,-1)", "(9,1,0,-1)", "(9,2,0,-1)"]
        events = await _relayed_events(stream, 3)
        assert [e.data_id for e in events] == ["lock-1:0", "lock-1:1", "lock-1:2"]
        assert source.refused == 0


async def test_redis_gone_mid_enrollment_is_the_error_the_caller_sees(redis_server: Any) -> None:
    from lockcloud import RelayError, UnlockType, UserType
    from lockcloud.sim import running

    async with running(broker=False) as server:
        user = server.simulator.home_user
        assert user is not None
        async with server.client() as cloud, cloud.events(relay=redis_server.url, firehose=False) as stream:
            enrollment = cloud.enroll(
                server.devices["front_door"],
                user_id=user,
                user_type=UserType.HOME_USER,
                unlock_type=UnlockType.FINGERPRINT,
                events=stream,
                idle_timeout=3.0,
            )
            async with enrollment:
                await asyncio.to_thread(redis_server.kill)
                with pytest.raises(RelayError, match=rf"127\.0\.0\.1:{redis_server.port}") as caught:
                    await _drain(enrollment)
            assert caught.value.address == f"127.0.0.1:{redis_server.port}"
            reason = enrollment.result.reason or ""
            assert "no progress from the lock" not in reason
            assert "unavailable" in reason


async def _drain(enrollment: Any) -> None:
    async with asyncio.timeout(60):
        async for _ in enrollment:
            pass


@pytest.mark.parametrize("side", ["source", "forwarder"])
def test_plain_redis_to_another_host_warns(side: str) -> None:
    import secrets
    import warnings

    from lockcloud import InsecureTransportWarning

    url = f"redis://:pass-word-xyz@relay-{secrets.token_hex(4)}.corp:6379/0"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if side == "source":
            RedisRelaySource(url, ACCESS_ID, access_secret=SECRET)
        else:
            RedisRelayForwarder(ListSource([]), url, ACCESS_ID, access_secret=SECRET)
    (warning,) = [w for w in caught if issubclass(w.category, InsecureTransportWarning)]
    assert "pass-word-xyz" not in str(warning.message)
    assert "rediss://" in str(warning.message)


_FIELD_NAMES = st.sampled_from(
    [b"v", b"topic", b"id", b"props", b"payload", b"published", b"defect", b"ts", b"sig"]
)


@settings(max_examples=300, deadline=None)
@given(
    fields=st.dictionaries(_FIELD_NAMES | st.binary(max_size=8), st.binary(max_size=64), max_size=10),
    sign=st.booleans(),
    skew_ms=st.integers(min_value=-(10**9), max_value=10**9),
)
def test_whatever_is_in_an_entry_it_is_delivered_only_when_signed_and_fresh(
    fields: dict[bytes, bytes], sign: bool, skew_ms: int
) -> None:
    source = RedisRelaySource("redis://127.0.0.1:1/0", ACCESS_ID, access_secret=SECRET)
    now_ms = int(time.time() * 1000)
    if sign:
        fields = signed(fields, stamp_ms=max(0, now_ms + skew_ms))
    message = source._accept(f"{now_ms}-0".encode(), fields)
    if message.defect is not None and message.defect.startswith("relay entry refused"):
        assert source.refused == 1
        assert source._acks == [f"{now_ms}-0".encode()]
    else:
        assert sign
        assert abs(skew_ms) <= 300_000
        assert fields.get(b"v") == b"2"
        assert source.refused == 0


async def test_a_message_too_large_to_relay_is_relayed_as_what_it_was(redis_server: Any) -> None:
    from lockcloud.events import SourceMessage

    big = SourceMessage(
        b"x" * (2 * 1024 * 1024), {"em": "aes_gcm"}, ("t", "(10,0,0,-1)"), message_id="(10,0,0,-1)", topic="t"
    )
    good = SourceMessage(
        _envelope("lock-1", "lock-1:after"),
        {"em": "aes_gcm"},
        ("t", "(10,1,0,-1)"),
        message_id="(10,1,0,-1)",
        topic="t",
    )
    source = RedisRelaySource(redis_server.url, ACCESS_ID, access_secret=SECRET)
    async with EventStream(source, SECRET) as stream:
        async with RedisRelayForwarder(
            ListSource([big, good]), redis_server.url, ACCESS_ID, access_secret=SECRET
        ) as forwarder:
            async with asyncio.timeout(30):
                await forwarder.run()
        (event,) = await _relayed_events(stream, 1)
        assert isinstance(event, StatusReport)
        assert event.data_id == "lock-1:after"
        (letter,) = stream.dead_letters.letters  # type: ignore[attr-defined]
        assert letter.message_id == "(10,0,0,-1)"
        assert "too large to relay" in letter.reason
        assert source.refused == 0

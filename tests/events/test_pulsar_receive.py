"""PulsarSource's receive path against a real pulsar-lite broker: batches, order, cancelled waits, a prompt close."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from lockcloud.events import PulsarOptions, PulsarSource, SourceMessage
from lockcloud.sim.broker import LocalBroker

# Bounds that only stop a broken test from hanging.
GUARD = 30.0


@pytest.fixture
async def source(broker: LocalBroker, push: Any) -> AsyncIterator[PulsarSource]:
    options = PulsarOptions(
        url=broker.url,
        access_id=push.ACCESS_ID,
        access_secret=push.SECRET,
        initial_position="earliest",
        receive_window=10,
        log_level="error",
    )
    opened = PulsarSource(options)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close(5.0)


async def receive_count(source: PulsarSource, count: int) -> list[list[SourceMessage]]:
    batches: list[list[SourceMessage]] = []
    async with asyncio.timeout(GUARD):
        while sum(map(len, batches)) < count:
            batches.append(list(await source.receive()))
    return batches


async def test_a_backlog_comes_in_batches_no_larger_than_the_window_in_publish_order(
    source: PulsarSource, producer: Any, push: Any
) -> None:
    sent = [push.enrollment(index, em="aes_gcm" if index % 2 else "aes_ecb") for index in range(45)]
    for payload in sent:
        await producer.send(payload)
    batches = await receive_count(source, 45)
    received = [message for batch in batches for message in batch]
    assert max(map(len, batches)) <= 10
    assert len(batches) >= 5
    assert [message.payload for message in received] == sent
    assert len({message.key for message in received}) == 45
    for message in received:
        source.acknowledge(message)


async def test_a_cancelled_wait_keeps_what_its_receive_brings_and_the_order(
    source: PulsarSource, producer: Any, push: Any
) -> None:
    # Each round leaves a receive pending on an empty queue (the wait is cancelled), then publishes: the first
    # message goes to that pending receive, the others queue behind it; all must come, in order.
    sent: list[bytes] = []
    received: list[SourceMessage] = []
    for round_ in range(4):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await source.receive()
        batch = [push.enrollment(round_ * 10 + index) for index in range(3)]
        for payload in batch:
            await producer.send(payload, {"em": "aes_gcm"})
        sent += batch
        for got in await receive_count(source, 3):
            received += got
    assert [message.payload for message in received] == sent
    assert all(message.properties == {"em": "aes_gcm"} for message in received)


async def test_a_stream_that_received_closes_at_once(make_stream: Any, producer: Any) -> None:
    # A cancelled pump used to keep the consumer alive from its traceback, and with it one of pulsar-client's
    # threads: every close waited the whole second it allows those threads to finish.
    for index in range(5):
        await producer.enrollment(index)
    stream = make_stream()
    async with stream:
        async with asyncio.timeout(GUARD):
            for _ in range(5):
                await anext(stream)
        started = time.monotonic()
    elapsed = time.monotonic() - started
    assert elapsed < 0.5, f"closing took {elapsed:.2f} s"

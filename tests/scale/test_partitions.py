"""The simulator's broker serves Tuya's production topic with 11 partitions, keyed by device."""

from __future__ import annotations

import asyncio
import collections
import json
from pathlib import Path

import pulsar
import pytest

from lockcloud._core.wire import topic_for
from lockcloud.crypto import decrypt_message
from lockcloud.sim import running
from lockcloud.sim._publisher import PulsarPublisher
from lockcloud.sim._push import PushMessage
from lockcloud.sim.broker import TUYA_PARTITIONS, BrokerError, LocalBroker, full_topic_name

from support import ACCESS_SECRET

pytestmark = pytest.mark.broker


def _topic_partitions(url: str, topic: str) -> list[str]:
    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    try:
        return list(client.get_topic_partitions(topic))
    finally:
        client.close()


def test_full_topic_names() -> None:
    assert full_topic_name("abc/out/event") == "persistent://abc/out/event"
    assert full_topic_name("plain") == "persistent://public/default/plain"
    assert full_topic_name("non-persistent://a/b/c") == "non-persistent://a/b/c"
    with pytest.raises(BrokerError):
        full_topic_name("a/b")


def test_bad_partition_counts_are_refused() -> None:
    with pytest.raises(BrokerError):
        LocalBroker("unused", partitioned_topics={"a/out/event": 0})
    with pytest.raises(BrokerError):
        LocalBroker("unused", default_partitions=-1)


def test_a_declared_topic_is_partitioned_across_restarts_and_others_are_not(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path / "b", partitioned_topics={"acc/out/event": TUYA_PARTITIONS})
    with broker:
        expected = [f"persistent://acc/out/event-partition-{index}" for index in range(TUYA_PARTITIONS)]
        assert _topic_partitions(broker.url, "acc/out/event") == expected
        assert broker.partitions("acc/out/event") == expected
        assert _topic_partitions(broker.url, "acc/out/event-test") == ["persistent://acc/out/event-test"]
        broker.restart()
        assert _topic_partitions(broker.url, "acc/out/event") == expected
    # The count is the broker's for good: another one for the same data is an error, not a silent change.
    with pytest.raises(BrokerError, match="already has 11 partitions"):
        LocalBroker(tmp_path / "b", partitioned_topics={"acc/out/event": 3}).start()


async def test_pushes_of_one_lock_stay_in_order_on_one_partition(tmp_path: Path) -> None:
    access_id = "keyedpushproject0"
    topic = topic_for(access_id)
    with LocalBroker(tmp_path / "b", partitioned_topics={topic: TUYA_PARTITIONS}) as broker:
        publisher = PulsarPublisher(
            broker.url, access_id, ACCESS_SECRET, log_file=str(tmp_path / "client.log")
        )
        await publisher.start()
        devices = [f"lock-{index:02d}" for index in range(20)]
        try:
            for seq in range(10):
                for device in devices:
                    body = {"devId": device, "dataId": f"{device}-{seq}", "productKey": "pk", "status": []}
                    publisher.submit(PushMessage(protocol=4, body=body, t=seq))
            await publisher.drain()
        finally:
            await publisher.close()
        assert publisher.sent == 200
        received = await asyncio.to_thread(_drain, broker.url, topic, 200)
    partitions: dict[str, set[str]] = collections.defaultdict(set)
    sequence: dict[str, list[int]] = collections.defaultdict(list)
    for partition, payload in received:
        body = json.loads(decrypt_message(json.loads(payload)["data"], ACCESS_SECRET, "aes_gcm"))
        partitions[body["devId"]].add(partition)
        sequence[body["devId"]].append(int(body["dataId"].rsplit("-", 1)[1]))
    assert set(partitions) == set(devices)
    assert all(len(used) == 1 for used in partitions.values()), partitions
    assert all(seqs == list(range(10)) for seqs in sequence.values()), sequence
    # Twenty keys spread over more than one partition (the router hashes the key).
    assert len(set().union(*partitions.values())) > 1


def _drain(url: str, topic: str, count: int) -> list[tuple[str, bytes]]:
    client = pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
    try:
        consumer = client.subscribe(
            topic,
            "drain",
            initial_position=pulsar.InitialPosition.Earliest,
            consumer_type=pulsar.ConsumerType.Failover,
        )
        received = []
        while len(received) < count:
            message = consumer.receive(30_000)
            received.append((message.topic_name(), message.data()))
            consumer.acknowledge(message)
        return received
    finally:
        client.close()


async def test_the_simulator_serves_production_partitioned_and_the_test_channel_not(tmp_path: Path) -> None:
    async with running(data_dir=tmp_path / "prod") as server:
        assert server.env == "event"
        production = topic_for(server.access_id)
        assert len(_topic_partitions(server.pulsar_url or "", production)) == TUYA_PARTITIONS
        assert server.simulator._publisher is not None
        assert server.simulator._publisher.topic == production
    async with running(data_dir=tmp_path / "test", env="event-test") as server:
        assert server.env == "event-test"
        channel = topic_for(server.access_id, "event-test")
        assert _topic_partitions(server.pulsar_url or "", channel) == [full_topic_name(channel)]
        assert server.simulator._publisher is not None
        assert server.simulator._publisher.topic == channel

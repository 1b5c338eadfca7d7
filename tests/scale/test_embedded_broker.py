"""What the embedded broker (pulsar-lite, as ``lockcloud.sim`` serves it) does that Tuya's brokers do not.

docs/guide/many-processes.md describes these differences; the tests pin them, so that the page changes when the
broker does. On Tuya's 11-partition Failover topic each consumer is given some of the partitions, acknowledgements
are kept by the broker, and a wrong password is refused. On pulsar-lite:

* one consumer of a Failover subscription is active on every partition, the others stand by;
* acknowledgements on a partitioned topic are forgotten once the consumer that sent them goes: the next consumer
  is given those messages again;
* there is no authentication: any credentials subscribe.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import pulsar
import pytest

from lockcloud._core.wire import subscription_for, topic_for
from lockcloud.events import PulsarOptions, PulsarSource
from lockcloud.sim.broker import TUYA_PARTITIONS, LocalBroker
from lockcloud.testing import PushBuilder

from support import ACCESS_SECRET, project_access_id

pytestmark = [pytest.mark.broker]

ACCESS_ID = project_access_id("embedded")
TOPIC = topic_for(ACCESS_ID)
SUBSCRIPTION = subscription_for(ACCESS_ID)
BUILD = PushBuilder(ACCESS_SECRET)
RECEIVE_MS = 5_000


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    # The layout lockcloud.sim.running() serves: Tuya's production topic with its 11 partitions.
    with LocalBroker(tmp_path / "broker", partitioned_topics={TOPIC: TUYA_PARTITIONS}) as local:
        yield local


def _client(url: str) -> Any:
    return pulsar.Client(url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))


def _subscribe(client: Any, name: str) -> Any:
    return client.subscribe(
        TOPIC,
        SUBSCRIPTION,
        consumer_type=pulsar.ConsumerType.Failover,
        consumer_name=name,
        initial_position=pulsar.InitialPosition.Earliest,
    )


def _publish_to_every_partition(client: Any) -> int:
    for partition in range(TUYA_PARTITIONS):
        producer = client.create_producer(f"{TOPIC}-partition-{partition}", batching_enabled=False)
        payload, properties = BUILD.encode(BUILD.enrollment(f"lock-{partition}", partition))
        producer.send(payload, properties=properties)
        producer.close()
    return TUYA_PARTITIONS


def _drain(consumer: Any, count: int) -> list[Any]:
    return [consumer.receive(timeout_millis=RECEIVE_MS) for _ in range(count)]


def test_one_consumer_of_a_failover_subscription_receives_every_partition(broker: LocalBroker) -> None:
    client = _client(broker.url)
    try:
        first, second = _subscribe(client, "a-first"), _subscribe(client, "b-second")
        count = _publish_to_every_partition(client)
        # Whichever is active gets all 11 partitions; the other gets nothing (on Tuya each would get some).
        taken: dict[str, list[Any]] = {"a-first": [], "b-second": []}
        deadline = time.monotonic() + RECEIVE_MS / 1000 * 4
        while sum(map(len, taken.values())) < count and time.monotonic() < deadline:
            for name, consumer in (("a-first", first), ("b-second", second)):
                with contextlib.suppress(pulsar.Timeout):
                    taken[name].append(consumer.receive(timeout_millis=50))
        assert sum(map(len, taken.values())) == count
        active = [name for name, messages in taken.items() if messages]
        assert len(active) == 1
        partitions = {message.topic_name().rsplit("-", 1)[1] for message in taken[active[0]]}
        assert len(partitions) == TUYA_PARTITIONS
        first.close()
        second.close()
    finally:
        client.close()


def test_acknowledgements_on_a_partitioned_topic_are_forgotten_when_the_consumer_goes(
    broker: LocalBroker,
) -> None:
    client = _client(broker.url)
    try:
        consumer = _subscribe(client, "acknowledger")
        count = _publish_to_every_partition(client)
        messages = _drain(consumer, count)
        for message in messages:
            consumer.acknowledge(message)
        consumer.close()
        # On Tuya nothing would come: every message was acknowledged. Here all of them come again.
        again = _subscribe(client, "next")
        redelivered = _drain(again, count)
        assert {m.data() for m in redelivered} == {m.data() for m in messages}
        again.close()
    finally:
        client.close()


async def test_any_credentials_subscribe(broker: LocalBroker) -> None:
    # Tuya refuses a wrong password (StreamAuthenticationError); the embedded broker checks nothing.
    source = PulsarSource(
        PulsarOptions(
            url=broker.url, access_id="not-the-project", access_secret="wrong" * 7, log_level="error"
        )
    )
    try:
        await source.open()
        assert source.subscription == "not-the-project-sub"
    finally:
        await source.close(5)

"""The Redis relay on a real 3-node Redis Cluster and behind a real Sentinel: forward → read → acknowledge, every
consumer group sees every entry, refused entries are dead-lettered, the stream and its companions share one hash
slot, and a Sentinel failover loses nothing that was relayed."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from lockcloud.crypto import encrypt_message
from lockcloud.events import (
    EventStream,
    RedisRelayForwarder,
    RedisRelaySource,
    SourceMessage,
    StatusReport,
    relay_key,
)
from lockcloud.events._relay import _signature, _signing_key, bell_key, dead_key

from support import ACCESS_SECRET as SECRET
from support import ListSource


class Deployment:
    """Where the relay runs (``url``) and a client of its own to look at what is stored (``raw``)."""

    def __init__(self, url: str, raw: aioredis.Redis | RedisCluster, setup: Any) -> None:
        self.url = url
        self.raw = raw
        self.setup = setup


@pytest.fixture(params=["cluster", "tls-cluster", "sentinel"])
async def deployment(request: pytest.FixtureRequest) -> AsyncIterator[Deployment]:
    if request.param in ("cluster", "tls-cluster"):
        cluster = request.getfixturevalue(
            "redis_cluster" if request.param == "cluster" else "redis_tls_cluster"
        )
        tls: dict[str, Any] = {} if cluster.ca is None else {"ssl": True, "ssl_ca_certs": str(cluster.ca)}
        raw: aioredis.Redis | RedisCluster = RedisCluster(host="127.0.0.1", port=cluster.ports[2], **tls)
        yield Deployment(cluster.url, raw, cluster)
    else:
        sentinel = request.getfixturevalue("redis_sentinel")
        raw = aioredis.Redis(host="127.0.0.1", port=sentinel.master_port)
        yield Deployment(sentinel.url, raw, sentinel)
    await raw.aclose()


def _project() -> str:
    return f"haproject{secrets.token_hex(4)}"


def _envelope(device: str, data_id: str) -> bytes:
    body = {
        "dataId": data_id,
        "devId": device,
        "productKey": "pk",
        "status": [{"code": "c", "value": 1, "t": 1}],
    }
    data = encrypt_message(json.dumps(body).encode(), SECRET, "aes_gcm")
    return json.dumps({"data": data, "protocol": 4, "pv": "2.0", "sign": "s", "t": 1}).encode()


def _messages(first: int, count: int) -> list[SourceMessage]:
    return [
        SourceMessage(
            _envelope("lock-1", f"lock-1:{n}"),
            {"em": "aes_gcm"},
            ("t", f"(9,{n},0,-1)"),
            message_id=f"(9,{n},0,-1)",
            topic="persistent://t-partition-0",
        )
        for n in range(first, first + count)
    ]


async def _forward(url: str, project: str, messages: list[SourceMessage]) -> RedisRelayForwarder:
    forwarder = RedisRelayForwarder(ListSource(messages), url, project, access_secret=SECRET)
    async with forwarder, asyncio.timeout(30):
        await forwarder.run()  # ends when the list is handed over
    return forwarder


async def _events(stream: EventStream, count: int) -> list[Any]:
    async with asyncio.timeout(30):
        return [await anext(stream) for _ in range(count)]


async def test_forwarded_entries_are_read_and_acknowledged(deployment: Deployment) -> None:
    project = _project()
    key = relay_key(project)
    source = RedisRelaySource(deployment.url, project, access_secret=SECRET, group="web", start="0")
    async with EventStream(source, SECRET) as stream:
        forwarder = await _forward(deployment.url, project, _messages(0, 3))
        assert forwarder.stats.relayed == 3
        events = await _events(stream, 3)
        assert [event.data_id for event in events] == ["lock-1:0", "lock-1:1", "lock-1:2"]
        for event in events:
            stream.ack(event)
    assert source.refused == 0
    assert await deployment.raw.xlen(key) == 3
    assert (await deployment.raw.xpending(key, "web"))["pending"] == 0
    # The bell was rung beside the stream.
    assert await deployment.raw.xlen(bell_key(key)) == 1


async def test_every_consumer_group_sees_every_entry(deployment: Deployment) -> None:
    project = _project()
    readers = [RedisRelaySource(deployment.url, project, access_secret=SECRET) for _ in range(2)]
    async with EventStream(readers[0], SECRET) as first, EventStream(readers[1], SECRET) as second:
        await _forward(deployment.url, project, _messages(10, 4))
        seen = [[event.data_id for event in await _events(stream, 4)] for stream in (first, second)]
    expected = [f"lock-1:{n}" for n in range(10, 14)]
    assert seen == [expected, expected]
    # Unnamed readers drop their groups when they close.
    assert await deployment.raw.xinfo_groups(relay_key(project)) == []


async def test_a_forged_entry_is_dead_lettered_and_the_stream_goes_on(deployment: Deployment) -> None:
    project = _project()
    key = relay_key(project)
    good = {
        b"v": b"2",
        b"topic": b"persistent://t-partition-1",
        b"props": b'{"em":"aes_gcm"}',
        b"id": b"(7,2,-1,-1)",
        b"payload": _envelope("lock-1", "lock-1:real"),
    }
    stamped = {**good, b"ts": str(int(time.time() * 1000)).encode()}
    real = {**stamped, b"sig": _signature(_signing_key(SECRET, key), stamped)}
    forged = {**real, b"id": b"(7,1,-1,-1)", b"payload": _envelope("lock-1", "lock-1:forged")}
    source = RedisRelaySource(deployment.url, project, access_secret=SECRET, group="web", start="0")
    refused_id = await deployment.raw.xadd(key, forged)
    await deployment.raw.xadd(key, real)
    async with EventStream(source, SECRET) as stream:
        (event,) = await _events(stream, 1)
        assert isinstance(event, StatusReport)
        assert event.data_id == "lock-1:real"
        assert source.refusals == {"signature": 1}
        (letter,) = stream.dead_letters.letters  # type: ignore[attr-defined]
        assert letter.message_id == f"relay:{refused_id.decode()}"
    assert (await deployment.raw.xpending(key, "web"))["pending"] == 0
    (record,) = [fields for _, fields in await deployment.raw.xrange(dead_key(key))]
    assert record[b"entry"] == refused_id


async def test_a_named_group_resumes_where_it_stopped(deployment: Deployment) -> None:
    project = _project()
    async with EventStream(
        RedisRelaySource(deployment.url, project, access_secret=SECRET, group="web", start="0"), SECRET
    ) as stream:
        await _forward(deployment.url, project, _messages(20, 2))
        for event in await _events(stream, 2):
            stream.ack(event)
    await _forward(deployment.url, project, _messages(22, 2))
    async with EventStream(
        RedisRelaySource(deployment.url, project, access_secret=SECRET, group="web"), SECRET
    ) as stream:
        assert [event.data_id for event in await _events(stream, 2)] == ["lock-1:22", "lock-1:23"]


def test_a_relay_stream_and_its_companions_share_one_cluster_slot(redis_cluster: Any) -> None:
    keys = [relay_key(f"project{n}") for n in range(12)]
    for key in keys:
        assert redis_cluster.keyslot(bell_key(key)) == redis_cluster.keyslot(key)
        assert redis_cluster.keyslot(dead_key(key)) == redis_cluster.keyslot(key)
    # ... while the streams of different projects spread over the nodes.
    assert len({redis_cluster.port_of(key) for key in keys}) == 3
    # A key of one's own with a hash tag keeps its companions' old names: they share its tag.
    assert bell_key("myapp:{tuya}:events") == "myapp:{tuya}:events:bell"
    assert redis_cluster.keyslot(dead_key("myapp:{tuya}:events")) == redis_cluster.keyslot(
        "myapp:{tuya}:events"
    )


@pytest.mark.parametrize("key", ["myapp}events", "myapp:{}:events}"])
def test_a_key_whose_companions_cannot_share_its_slot_is_refused(key: str) -> None:
    from lockcloud import RedisTokenStore, ValidationError

    with pytest.raises(ValidationError, match="hash tag"):
        RedisRelaySource("redis://127.0.0.1:6379/0", "p", access_secret=SECRET, key=key)
    with pytest.raises(ValidationError, match="hash tag"):
        RedisTokenStore("redis://127.0.0.1:6379/0", key=key, secret=SECRET)


async def test_a_sentinel_failover_loses_nothing_relayed(redis_sentinel: Any) -> None:
    project = _project()
    url = redis_sentinel.url
    source = RedisRelaySource(url, project, access_secret=SECRET, group="web", start="0", block=0.2)
    async with EventStream(source, SECRET) as stream:
        await _forward(url, project, _messages(30, 2))
        for event in await _events(stream, 2):
            stream.ack(event)
        # The replica has everything the master took before it is promoted.
        raw = aioredis.Redis(host="127.0.0.1", port=redis_sentinel.master_port)
        try:
            assert await raw.wait(1, 5000) == 1
        finally:
            await raw.aclose()
        promoted = await asyncio.to_thread(redis_sentinel.failover)
        await _forward(url, project, _messages(32, 2))
        assert [event.data_id for event in await _events(stream, 2)] == ["lock-1:32", "lock-1:33"]
    raw = aioredis.Redis(host="127.0.0.1", port=promoted)
    try:
        assert await raw.xlen(relay_key(project)) == 4
    finally:
        await raw.aclose()


async def test_a_cluster_gone_down_is_an_outage_the_reader_names(make_redis_cluster: Any) -> None:
    from lockcloud import RelayError

    cluster = make_redis_cluster(node_timeout_ms=1000)
    project = "haprojectclusterdown"
    source = RedisRelaySource(cluster.url, project, access_secret=SECRET, group="web", start="0", block=0.1)
    await source.open()
    try:
        await _forward(cluster.url, project, _messages(40, 1))
        async with asyncio.timeout(30):
            assert len(await source.receive()) == 1
        # Kill a node that does not hold the stream: the survivors answer CLUSTERDOWN for every slot.
        victim = next(port for port in cluster.ports if port != cluster.port_of(relay_key(project)))
        await asyncio.to_thread(cluster.kill, victim)
        async with asyncio.timeout(60):
            with pytest.raises(RelayError, match="cannot be reached") as caught:
                await _receive_until_it_fails(source)
        assert "cluster 127.0.0.1:" in str(caught.value)
        assert source.outage is caught.value
    finally:
        await source.close(0.5)


async def _receive_until_it_fails(source: RedisRelaySource) -> None:
    while True:
        await source.receive()

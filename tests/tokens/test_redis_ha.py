"""RedisTokenStore on a real 3-node Redis Cluster and behind a real Sentinel: one token call for a crowd of
clients, projects spread over the cluster's nodes with each one's token and lock in one slot, sealed values,
imposed leases, outages named by the deployment, and a Sentinel failover survived."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from lockcloud import RedisTokenStore, TokenStoreError
from lockcloud._core.clock import ServerClock
from lockcloud._core.tokens import TokenManager

SECRET = "ha-store-secret-0123456789abcdef"
CLOUD = "https://openapi.tuyaeu.com"
PROJECTS = [f"hatokenproject{n:02d}" for n in range(9)]


@pytest.fixture
async def stores() -> AsyncIterator[Callable[..., RedisTokenStore]]:
    """``stores(url, access_id=None, **options)``: stores (each with its own client), bound to ``access_id``'s
    project on CLOUD when given, closed at the end of the test."""
    made: list[RedisTokenStore] = []

    def factory(url: str, access_id: str | None = None, **options: Any) -> RedisTokenStore:
        store = RedisTokenStore(url, **options)
        if access_id is not None:
            store.bind_cloud(access_id, SECRET, CLOUD)
        made.append(store)
        return store

    yield factory
    for store in made:
        await store.aclose()


async def test_projects_spread_over_the_nodes_and_each_makes_one_token_call(
    redis_cluster: Any, stores: Callable[..., RedisTokenStore], endpoint: Any
) -> None:
    suffix = secrets.token_hex(3)
    projects = [f"{name}{suffix}" for name in PROJECTS]
    made = {project: [stores(redis_cluster.url, project) for _ in range(2)] for project in projects}
    managers = [
        TokenManager(endpoint, ServerClock(), store=store) for pair in made.values() for store in pair
    ]
    tokens = await asyncio.gather(*(manager.get() for manager in managers for _ in range(5)))
    # One token call per project, although each had two clients (two connections to the cluster) asking ten times.
    assert endpoint.calls == len(projects)
    assert len({token.access_token for token in tokens}) == len(projects)
    stored = [pair[0] for pair in made.values()]
    assert len({redis_cluster.port_of(store.key) for store in stored}) == 3
    raw = RedisCluster(host="127.0.0.1", port=redis_cluster.ports[2])
    try:
        for store in stored:
            assert (await raw.get(store.key)).startswith(b"lockcloud-token-v2:")
    finally:
        await raw.aclose()


async def test_a_crowd_healing_on_the_cluster_makes_one_refresh_per_project(
    redis_cluster: Any, stores: Callable[..., RedisTokenStore], endpoint: Any
) -> None:
    projects = [f"{name}heal{secrets.token_hex(3)}" for name in PROJECTS[:3]]
    for project in projects:
        first, second = (
            TokenManager(endpoint, ServerClock(), store=stores(redis_cluster.url, project)) for _ in range(2)
        )
        stale = await first.get()
        assert await second.get() == stale
        healed = await asyncio.gather(
            *(manager.heal(stale) for manager in (first, second) for _ in range(20))
        )
        assert len({token.access_token for token in healed}) == 1
        assert healed[0] != stale
    assert endpoint.grants == len(projects)
    assert endpoint.refreshes == len(projects)
    assert endpoint.failed_refreshes == 0


def test_a_token_and_its_renewal_lock_share_one_cluster_slot(redis_cluster: Any) -> None:
    for project in PROJECTS:
        store = RedisTokenStore(redis_cluster.url)
        store.bind_cloud(project, SECRET, CLOUD)
        assert redis_cluster.keyslot(store.lock_key) == redis_cluster.keyslot(store.key)
    # A key of one's own without a hash tag: its lock is named to hash like it.
    custom = RedisTokenStore(redis_cluster.url, key="myapp:tuya-token", secret=SECRET)
    assert custom.lock_key == "{myapp:tuya-token}:renewal"
    assert redis_cluster.keyslot(custom.lock_key) == redis_cluster.keyslot(custom.key)


async def test_a_lock_planted_without_a_lease_on_the_cluster_gets_one(
    redis_cluster: Any, stores: Callable[..., RedisTokenStore], endpoint: Any
) -> None:
    store = stores(redis_cluster.url, f"hatokenplanted{secrets.token_hex(3)}", lease=0.3, lock_timeout=10)
    raw = RedisCluster(host="127.0.0.1", port=redis_cluster.ports[0])
    try:
        await raw.set(store.lock_key, "somebody")
        manager = TokenManager(endpoint, ServerClock(), store=store)
        async with asyncio.timeout(10):
            await manager.get()
    finally:
        await raw.aclose()
    assert store.leases_imposed == 1
    assert endpoint.calls == 1


def _closed_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.parametrize("kind", ["cluster", "sentinel"])
async def test_an_unreachable_deployment_is_a_typed_error_naming_it(
    kind: str, stores: Callable[..., RedisTokenStore], endpoint: Any
) -> None:
    first, second = _closed_ports(2)
    url = (
        f"redis+cluster://127.0.0.1:{first},127.0.0.1:{second}/"
        if kind == "cluster"
        else f"redis+sentinel://127.0.0.1:{first},127.0.0.1:{second}/mymaster/0"
    )
    store = stores(url, "hatokenaway", timeout=2)
    named = (
        f"{kind} " + ("" if kind == "cluster" else "mymaster at ") + f"127.0.0.1:{first},127.0.0.1:{second}"
    )
    async with asyncio.timeout(20):
        with pytest.raises(TokenStoreError) as caught:
            await store.load()
    assert named in str(caught.value)
    local = stores(url, "hatokenaway", timeout=2, fallback="local")
    async with asyncio.timeout(20):
        assert await TokenManager(endpoint, ServerClock(), store=local).get() is not None


async def test_the_token_is_shared_behind_sentinel_across_a_failover(
    redis_sentinel: Any, stores: Callable[..., RedisTokenStore], endpoint: Any
) -> None:
    project = f"hatokenfailover{secrets.token_hex(3)}"
    first, second = (
        TokenManager(endpoint, ServerClock(), store=stores(redis_sentinel.url, project)) for _ in range(2)
    )
    token = await first.get()
    assert await second.get() == token
    raw = aioredis.Redis(host="127.0.0.1", port=redis_sentinel.master_port)
    try:
        assert await raw.wait(1, 5000) == 1  # the replica has the token before it is promoted
    finally:
        await raw.aclose()
    await asyncio.to_thread(redis_sentinel.failover)
    async with asyncio.timeout(20):
        healed = await first.heal(token)  # renewed through the new master
        assert await second.heal(token) == healed  # ...and adopted from it: no second call
    assert endpoint.grants == 1
    assert endpoint.refreshes == 1


async def test_a_cluster_gone_down_is_an_outage_not_a_refusal(
    make_redis_cluster: Callable[..., Any], stores: Callable[..., RedisTokenStore], endpoint: Any
) -> None:
    cluster = make_redis_cluster(node_timeout_ms=1000)
    project = "hatokenclusterdown"
    shared = stores(cluster.url, project, fallback="local", timeout=2)
    # A client of one's own that does not retry: what redis-py raises reaches the store at once.
    impatient = RedisCluster(host="127.0.0.1", port=cluster.ports[0], retry=Retry(NoBackoff(), 0))
    strict = stores(impatient, project, timeout=5)
    manager = TokenManager(endpoint, ServerClock(), store=shared)
    token = await manager.get()
    assert await strict.load() == token
    # Kill a node that does not hold the token: the survivors answer CLUSTERDOWN for every slot.
    victim = next(port for port in cluster.ports if port != cluster.port_of(shared.key))
    await asyncio.to_thread(cluster.kill, victim)
    async with asyncio.timeout(30):
        with pytest.raises(TokenStoreError, match="unreachable") as caught:
            await strict.load()
        assert "cluster 127.0.0.1:" in str(caught.value)
        assert "ClusterDownError" in str(caught.value)
    await impatient.aclose()
    async with asyncio.timeout(30):
        # fallback="local" keeps working on this process's own token, as with a single server gone.
        assert await manager.get() == token
        assert await shared.load() == token


async def test_sentinels_and_a_master_with_passwords_of_their_own(
    make_redis_sentinel: Callable[..., Any], stores: Callable[..., RedisTokenStore], endpoint: Any
) -> None:
    setup = make_redis_sentinel(password="master-pass-0123", sentinel_password="sentinel-pass-4567")
    project = "hatokenpasswords"
    token = await TokenManager(endpoint, ServerClock(), store=stores(setup.url, project)).get()
    assert await stores(setup.url, project).load() == token
    # Without the sentinels' password the master cannot be found; neither password is ever told.
    without = setup.url.split("?", 1)[0]
    async with asyncio.timeout(20):
        with pytest.raises(TokenStoreError) as caught:
            await stores(without, project, timeout=2).load()
    assert "sentinel lockcloud-test at 127.0.0.1:" in str(caught.value)
    assert "pass-" not in str(caught.value)


async def test_a_tls_cluster_is_verified_against_the_ca_named_and_no_other(
    redis_tls_cluster: Any, stores: Callable[..., RedisTokenStore], endpoint: Any
) -> None:
    project = f"hatokentls{secrets.token_hex(3)}"
    managers = [
        TokenManager(endpoint, ServerClock(), store=stores(redis_tls_cluster.url, project)) for _ in range(2)
    ]
    tokens = await asyncio.gather(*(manager.get() for manager in managers for _ in range(5)))
    assert endpoint.calls == 1
    assert len({token.access_token for token in tokens}) == 1
    # The same cluster without its CA named: the system's CAs do not know it, so nothing is sent.
    untrusting = stores(redis_tls_cluster.url.split("?", 1)[0], project, timeout=2)
    async with asyncio.timeout(20):
        with pytest.raises(TokenStoreError, match="unreachable"):
            await untrusting.load()

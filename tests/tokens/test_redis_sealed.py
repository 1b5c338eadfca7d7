"""RedisTokenStore trusts nothing it reads (real redis-server): tokens are sealed at rest, keyed by cloud, a planted
or tampered value is refused and replaced, a lock without a lease is not waited for for ever, plain redis:// to
another host warns."""

from __future__ import annotations

import json
import logging
import secrets
import time
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from lockcloud import InsecureTransportWarning, RedisTokenStore, Token
from lockcloud._core.clock import ServerClock
from lockcloud._core.tokens import TokenManager
from lockcloud._core.wire import TOKEN_PATH
from lockcloud.sim import Simulator

from support import ACCESS_SECRET as SECRET
from support import project_access_id

ACCESS_ID = project_access_id("sealed")
PATH = "/v1.0/devices/{device}/door-lock/remote-unlocks"


@pytest.fixture
async def stores() -> AsyncIterator[Callable[..., RedisTokenStore]]:
    made: list[RedisTokenStore] = []

    def factory(url: str, **options: Any) -> RedisTokenStore:
        options.setdefault("key", f"test:{secrets.token_hex(6)}")
        options.setdefault("secret", SECRET)
        made.append(RedisTokenStore(url, **options))
        return made[-1]

    yield factory
    for store in made:
        await store.aclose()


@pytest.fixture
async def raw(session_redis: Any) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(session_redis.url)
    yield client
    await client.aclose()


class Grants:
    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, path: str, params: Any) -> tuple[Any, Any]:
        self.paths.append(path)
        token = {"access_token": "at" + secrets.token_hex(16), "refresh_token": "rt" + secrets.token_hex(16)}
        return {**token, "expire_time": 7200}, int(time.time() * 1000)


def _token() -> Token:
    return Token("at" + secrets.token_hex(16), "rt" + secrets.token_hex(16), time.time() + 3600)


async def test_a_token_planted_as_plain_json_is_refused_and_replaced(
    raw: aioredis.Redis, session_redis: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    """Whoever can write to Redis cannot make every process use a token of their choosing."""
    store = stores(session_redis.url)
    planted = _token()
    await raw.set(store.key, json.dumps(planted.to_dict()))
    grants = Grants()
    token = await TokenManager(grants, ServerClock(), store=store).get()
    assert token != planted
    assert grants.paths == [TOKEN_PATH]  # a grant, not a refresh with the planted refresh token
    assert store.rejected >= 1
    assert await store.load() == token
    value = await raw.get(store.key)
    assert token.access_token.encode() not in value
    with pytest.raises(ValueError):
        json.loads(value)


async def test_a_tampered_value_is_refused(
    raw: aioredis.Redis,
    session_redis: Any,
    stores: Callable[..., RedisTokenStore],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = stores(session_redis.url)
    await store.save(_token())
    value = bytearray(await raw.get(store.key))
    value[-1] ^= 1
    await raw.set(store.key, bytes(value))
    with caplog.at_level(logging.WARNING, logger="lockcloud.auth"):
        assert await store.load() is None
    assert store.rejected == 1
    assert any("does not open" in record.getMessage() for record in caplog.records)


async def test_a_value_sealed_under_another_secret_or_copied_from_another_key_is_refused(
    raw: aioredis.Redis, session_redis: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    store = stores(session_redis.url)
    other_secret = stores(session_redis.url, key=store.key, secret="another-project-secret-0123456789")
    await other_secret.save(_token())
    assert await store.load() is None
    elsewhere = stores(session_redis.url)
    await elsewhere.save(_token())
    await raw.set(store.key, await raw.get(elsewhere.key))
    assert await store.load() is None
    assert store.rejected == 2


async def test_a_sealed_token_of_the_wrong_shape_is_refused(
    session_redis: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    store = stores(session_redis.url)
    await store.save(Token("tökenvalue0123456789", "../../v1.0/devices", time.time() + 3600))
    assert await store.load() is None
    assert store.rejected == 1


async def test_a_huge_value_is_not_read_and_is_replaced(
    raw: aioredis.Redis, session_redis: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    store = stores(session_redis.url)
    await raw.set(store.key, b"x" * (8 * 1024 * 1024))
    token = await TokenManager(Grants(), ServerClock(), store=store).get()
    assert store.rejected >= 1
    assert await store.load() == token


async def test_one_access_id_on_two_clouds_keeps_two_tokens(
    raw: aioredis.Redis, session_redis: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    eu = stores(session_redis.url, key=None)
    us = stores(session_redis.url, key=None)
    eu_tokens = TokenManager(
        Grants(),
        ServerClock(),
        store=eu,
        access_id=ACCESS_ID,
        access_secret=SECRET,
        cloud="https://openapi.tuyaeu.com",
    )
    us_tokens = TokenManager(
        Grants(),
        ServerClock(),
        store=us,
        access_id=ACCESS_ID,
        access_secret=SECRET,
        cloud="https://openapi.tuyaus.com",
    )
    eu_token, us_token = await eu_tokens.get(), await us_tokens.get()
    assert eu.key != us.key
    assert await eu.load() == eu_token
    assert await us.load() == us_token
    await raw.delete(eu.key, us.key)


async def test_lockcloud_hands_the_store_its_secret_and_cloud(
    raw: aioredis.Redis, session_redis: Any
) -> None:
    sim = Simulator()
    async with RedisTokenStore(session_redis.url) as store:
        async with sim.client(token_store=store) as cloud:
            await cloud.request("GET", PATH.format(device=sim.devices["front_door"]))
            token = await cloud.tokens.get()
        assert store.key == f"lockcloud:token:v2:{{{sim.access_id}}}:lockcloud-sim.localhost"
        value = await raw.get(store.key)
        assert token.access_token.encode() not in value
        # A second process of the same project and cloud opens it.
        async with RedisTokenStore(session_redis.url) as again:
            again.bind_cloud(sim.access_id, sim.access_secret, "http://lockcloud-sim.localhost")
            assert await again.load() == token
        await raw.delete(store.key)


def test_a_store_without_a_secret_says_how_to_get_one() -> None:
    from lockcloud import ValidationError

    store = RedisTokenStore("redis://127.0.0.1:6379/0", key="k")
    with pytest.raises(ValidationError, match="secret"):
        store._check_sealing()


@pytest.mark.parametrize("ttl_ms", [None, 10 * 24 * 3600 * 1000], ids=["no-ttl", "ten-days"])
async def test_a_lock_without_a_sane_lease_is_given_one_and_then_taken(
    ttl_ms: int | None,
    raw: aioredis.Redis,
    session_redis: Any,
    stores: Callable[..., RedisTokenStore],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = stores(session_redis.url, lease=0.5, lock_timeout=20)
    await raw.set(store.lock_key, "ghost:4242:abcd", px=ttl_ms)
    with caplog.at_level(logging.WARNING, logger="lockcloud.auth"):
        async with store.renewal() as renewal:
            assert renewal.stored is None
            assert await raw.get(store.lock_key) != b"ghost:4242:abcd"
    assert store.leases_imposed == 1
    assert any("had no lease" in record.getMessage() for record in caplog.records)


async def test_a_live_holder_with_a_longer_lease_is_not_cut_short(
    raw: aioredis.Redis, session_redis: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    holder = stores(session_redis.url, lease=30.0)
    waiter = stores(session_redis.url, key=holder.key, lease=0.5, lock_timeout=0.5)
    async with holder.renewal():
        from lockcloud import TokenStoreError

        with pytest.raises(TokenStoreError, match="held by"):
            async with waiter.renewal():
                pytest.fail("two holders at once")
        assert waiter.leases_imposed == 0
        assert await raw.pttl(holder.lock_key) > 5000


@pytest.mark.parametrize(
    ("url", "warns"),
    [
        ("redis://:pass-word-xyz@redis-{n}.corp:6379/0", True),
        ("redis://redis-{n}.internal:6379/0", True),
        ("rediss://:pass-word-xyz@10.1.2.4:6379/0", False),
        ("redis://127.0.0.1:6379/0", False),
        ("redis://localhost:6379/0", False),
        ("unix:///tmp/redis.sock", False),
    ],
)
async def test_plain_redis_to_another_host_warns(url: str, warns: bool) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Warned once per host and process: a host of this test's own.
        store = RedisTokenStore(url.format(n=secrets.token_hex(4)))
        await store.aclose()
    found = [w for w in caught if issubclass(w.category, InsecureTransportWarning)]
    assert bool(found) == warns
    for warning in found:
        assert "pass-word-xyz" not in str(warning.message)
        assert "rediss://" in str(warning.message)

"""RedisTokenStore on a real redis-server: bad input, corrupt values, secrets, leases, outages and restarts."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from lockcloud import RedisTokenStore, Token, TokenStoreError, ValidationError
from lockcloud._core.clock import ServerClock
from lockcloud._core.tokens import TokenManager
from lockcloud.sim import Simulator

from support import ACCESS_SECRET as SECRET
from support import free_port

PATH = "/v1.0/devices/{device}/door-lock/remote-unlocks"


@pytest.fixture
async def stores() -> AsyncIterator[Callable[..., RedisTokenStore]]:
    """``stores(url, **options)``: RedisTokenStores closed at the end of the test."""
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


async def test_an_unreachable_redis_is_a_typed_error_naming_it(
    stores: Callable[..., RedisTokenStore],
) -> None:
    port = free_port()
    store = stores(f"redis://127.0.0.1:{port}/0")
    async with asyncio.timeout(20):
        with pytest.raises(TokenStoreError, match=rf"127\.0\.0\.1:{port}"):
            await store.load()
        manager = TokenManager(_never_called, ServerClock(), store=store)
        with pytest.raises(TokenStoreError, match=rf"127\.0\.0\.1:{port}"):
            await manager.get()


async def _never_called(path: str, params: Any) -> tuple[Any, Any]:
    raise AssertionError("no token call may be made when the store cannot be reached")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:6379", "not a url", "redis://127.0.0.1:notaport/0"],
    ids=["scheme", "text", "port"],
)
def test_a_malformed_url_is_refused_at_once(url: str) -> None:
    with pytest.raises(ValidationError):
        RedisTokenStore(url)


@pytest.mark.parametrize(
    "options",
    [
        {"fallback": "silent"},
        {"lease": 0},
        {"lease": float("nan")},
        {"max_lease": float("inf")},
        {"max_lease": 1.0},
        {"lock_timeout": -1},
        {"timeout": 0},
        {"key": ""},
    ],
    ids=[
        "fallback",
        "lease",
        "lease-nan",
        "max-lease-inf",
        "max-lease-below-lease",
        "lock-timeout",
        "timeout",
        "key",
    ],
)
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RedisTokenStore("redis://127.0.0.1:6379/0", **options)


def test_a_store_without_a_key_says_how_to_get_one() -> None:
    store = RedisTokenStore("redis://127.0.0.1:6379/0")
    with pytest.raises(ValidationError, match="key"):
        _ = store.key
    store.bind("projectid123")
    assert store.key == "lockcloud:token:v2:{projectid123}"
    store.bind("projectid123")
    with pytest.raises(ValidationError, match="one project"):
        store.bind("another-project")
    bound = RedisTokenStore("redis://127.0.0.1:6379/0")
    bound.bind_cloud("projectid123", SECRET, "https://openapi.tuyaeu.com")
    assert bound.key == "lockcloud:token:v2:{projectid123}:openapi.tuyaeu.com"
    assert bound.lock_key == "lockcloud:token:v2:{projectid123}:openapi.tuyaeu.com:renewal"
    with pytest.raises(ValidationError, match="one project"):
        bound.bind_cloud("projectid123", SECRET, "https://openapi.tuyaus.com")


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"[" * 1200 + b"]" * 1200,
        json.dumps({"access_token": None, "refresh_token": "r", "expires_at": 1e10}).encode(),
        json.dumps({"access_token": "a", "refresh_token": "r", "expires_at": "soon"}).encode(),
        b'{"access_token": "a", "refresh_token": "r", "expires_at": NaN}',
        b"\xff\xfe",
        b"null",
        {"access_token": "x"},  # a hash in the key: Redis answers WRONGTYPE to GET
    ],
    ids=["text", "nested-1200", "access-null", "expiry-text", "expiry-nan", "binary", "null", "a-hash"],
)
async def test_a_corrupt_value_is_absent_with_a_warning_and_replaced(
    value: bytes | dict[str, str],
    raw: aioredis.Redis,
    session_redis: Any,
    stores: Callable[..., RedisTokenStore],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = stores(session_redis.url)
    if isinstance(value, dict):
        await raw.hset(store.key, mapping=value)
    else:
        await raw.set(store.key, value)
    with caplog.at_level(logging.WARNING, logger="lockcloud"):
        assert await store.load() is None
    assert any("ignoring" in record.getMessage() for record in caplog.records)
    assert store.rejected == 1
    manager = TokenManager(_endpoint(), ServerClock(), store=store)
    token = await manager.get()
    assert await store.load() == token


def _endpoint() -> Any:
    async def grant(path: str, params: Any) -> tuple[Any, Any]:
        token = {
            "access_token": secrets.token_hex(16),
            "refresh_token": secrets.token_hex(16),
            "expire_time": 7200,
        }
        return token, None

    return grant


async def test_secrets_stay_out_of_reprs_keys_and_logs(
    session_redis: Any, raw: aioredis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    sim = Simulator()
    store = RedisTokenStore(session_redis.url.replace("redis://", "redis://:not-the-password-xyz@"))
    assert "not-the-password-xyz" not in repr(store)
    with caplog.at_level(logging.DEBUG):
        async with sim.client(token_store=RedisTokenStore(session_redis.url)) as cloud:
            await cloud.request("GET", PATH.format(device=sim.devices["front_door"]))
            token = await cloud.tokens.get()
            sim.expire_tokens()
            await cloud.request("GET", PATH.format(device=sim.devices["front_door"]))
            renewed = await cloud.tokens.get()
            assert renewed != token
            keys = [key.decode() for key in await raw.keys(f"lockcloud:token:v2:{{{sim.access_id}}}*")]
            assert keys == [f"lockcloud:token:v2:{{{sim.access_id}}}:lockcloud-sim.localhost"]
            assert sim.access_secret not in "".join(keys)
            stored = await raw.get(keys[0])
            # Sealed: the token is there, but not readable by whoever reads Redis.
            assert await cloud.tokens._store.load() == renewed
            assert renewed.access_token.encode() not in stored
            assert renewed.refresh_token.encode() not in stored
            assert renewed.access_token not in repr(cloud.tokens)
    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (token.access_token, token.refresh_token, renewed.access_token, sim.access_secret):
        assert secret not in text
    await store.aclose()


async def test_a_crashed_holder_loses_the_lock_within_its_lease(
    raw: aioredis.Redis, session_redis: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    store = stores(session_redis.url, lease=0.5)
    # What a holder that died mid-renewal leaves behind: its lock, with the lease it had.
    await raw.set(store.lock_key, "deadhost:4242:abcd", px=800)
    loop = asyncio.get_running_loop()
    remaining = await raw.pttl(store.lock_key) / 1000
    started = loop.time()
    async with asyncio.timeout(10), store.renewal() as renewal:
        waited = loop.time() - started
        assert renewal.stored is None
    assert waited >= remaining - 0.05  # it could only start once the dead holder's lease ran out
    assert await raw.get(store.lock_key) is None  # released on exit


async def test_a_live_holder_past_the_lock_timeout_is_a_typed_error_naming_it(
    raw: aioredis.Redis, session_redis: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    store = stores(session_redis.url, lock_timeout=0.3)
    await raw.set(store.lock_key, "otherhost:4242:abcd")
    async with asyncio.timeout(10):
        with pytest.raises(TokenStoreError, match="otherhost pid 4242"):
            async with store.renewal():
                pytest.fail("two holders at once")


async def test_a_slow_holder_keeps_its_lease(
    raw: aioredis.Redis, session_redis: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    holder = stores(session_redis.url, lease=1.0)
    waiter = stores(session_redis.url, key=holder.key, lock_timeout=0.2)
    async with holder.renewal():
        await asyncio.sleep(3.5)  # more than three leases: only the holder's extensions keep the lock
        with pytest.raises(TokenStoreError, match="held by"):
            async with waiter.renewal():
                pytest.fail("the lease ran out under a live holder")
    async with asyncio.timeout(5), waiter.renewal():
        pass


async def test_a_commit_never_overwrites_a_newer_token(
    raw: aioredis.Redis, session_redis: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    store = stores(session_redis.url)
    other = stores(session_redis.url, key=store.key)
    newer = Token("n" * 20, "n" * 20, 1e10)
    async with store.renewal() as renewal:
        # Someone who did not hold the lock (its lease ran out while it was paused) wrote meanwhile.
        await other.save(newer)
        await renewal.commit(Token("o" * 20, "o" * 20, 1e10))
    assert await store.load() == newer


async def test_without_fallback_an_outage_fails_typed_and_nothing_hangs(
    redis_server: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    sim = Simulator()
    path = PATH.format(device=sim.devices["front_door"])
    async with sim.client(token_store=stores(redis_server.url, timeout=2)) as cloud:
        await cloud.request("GET", path)
        redis_server.kill()
        await cloud.request("GET", path)  # the token in memory still works
        sim.expire_tokens()
        async with asyncio.timeout(30):
            outcomes = await asyncio.gather(
                *(cloud.request("GET", path) for _ in range(20)), return_exceptions=True
            )
        assert all(isinstance(outcome, TokenStoreError) for outcome in outcomes), outcomes
        assert f"127.0.0.1:{redis_server.port}" in str(outcomes[0])
        assert (
            len(sim.executed("refresh_token")) + len(sim.executed("token")) == 1
        )  # no 1010 storm of token calls
        redis_server.start()
        await cloud.request("GET", path)  # back: renewed through the store


async def test_with_fallback_local_an_outage_degrades_with_a_warning(
    redis_server: Any, stores: Callable[..., RedisTokenStore], caplog: pytest.LogCaptureFixture
) -> None:
    sim = Simulator()
    path = PATH.format(device=sim.devices["front_door"])
    store = stores(redis_server.url, timeout=2, fallback="local")
    async with sim.client(token_store=store) as cloud:
        await cloud.request("GET", path)
        redis_server.kill()
        sim.expire_tokens()
        with caplog.at_level(logging.WARNING, logger="lockcloud"):
            async with asyncio.timeout(30):
                await asyncio.gather(*(cloud.request("GET", path) for _ in range(20)))
        warnings = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(warnings) == 1
        assert f"127.0.0.1:{redis_server.port}" in warnings[0]
        assert len(sim.executed("refresh_token")) == 1
        redis_server.start()
        sim.expire_tokens()
        await cloud.request("GET", path)
        assert any("answers again" in r.getMessage() for r in caplog.records)


async def test_a_redis_restart_mid_run_keeps_calls_working(
    redis_server: Any, stores: Callable[..., RedisTokenStore]
) -> None:
    sim = Simulator()
    path = PATH.format(device=sim.devices["front_door"])
    async with (
        sim.client(token_store=stores(redis_server.url, key="shared", timeout=2)) as first,
        sim.client(token_store=stores(redis_server.url, key="shared", timeout=2)) as second,
    ):
        await asyncio.gather(first.request("GET", path), second.request("GET", path))
        for _ in range(3):
            redis_server.restart()  # empty again: no token, no lock
            sim.expire_tokens()
            async with asyncio.timeout(30):
                await asyncio.gather(
                    *(client.request("GET", path) for client in (first, second) for _ in range(20))
                )
    assert len(sim.executed("token")) == 1
    assert len(sim.executed("refresh_token")) == 3  # one renewal per restart, for both clients
    assert first.tokens.adopted + second.tokens.adopted >= 3  # the other client adopted each renewal


def test_import_lockcloud_does_not_import_redis() -> None:
    import subprocess
    import sys

    code = "import sys, lockcloud; assert 'redis' not in sys.modules; lockcloud.RedisTokenStore; assert 'redis' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

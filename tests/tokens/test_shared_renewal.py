"""Several clients sharing one store make one token call between them, adopt what another stored, and fetch only
when the stored token is the one that failed (in one process here; across processes in test_fleet.py)."""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lockcloud import FileTokenStore, MemoryTokenStore, Token, TokenStore, TokenStoreError
from lockcloud._core.clock import ServerClock
from lockcloud._core.tokens import TokenManager

StoreFactory = Callable[[], TokenStore]


@pytest.fixture(params=["memory", "file", "redis", "redis-cluster", "redis-sentinel"])
async def shared(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """A factory of stores that all see the same token: one MemoryTokenStore, FileTokenStores on one path, or
    RedisTokenStores (each with its own client) on one key, on one server, a Redis Cluster or behind Sentinel."""
    if request.param == "memory":
        store = MemoryTokenStore()
        yield lambda: store
    elif request.param == "file":
        yield lambda: FileTokenStore(tmp_path / "token.json")
    else:
        from lockcloud import RedisTokenStore

        server = request.getfixturevalue(
            {"redis": "session_redis", "redis-cluster": "redis_cluster", "redis-sentinel": "redis_sentinel"}[
                request.param
            ]
        )
        key = f"test:{secrets.token_hex(6)}"
        made: list[RedisTokenStore] = []

        def factory() -> TokenStore:
            made.append(RedisTokenStore(server.url, key=key, secret="shared-renewal-secret-0123456789"))
            return made[-1]

        yield factory
        for redis_store in made:
            await redis_store.aclose()


def _managers(endpoint: Any, shared: StoreFactory, count: int) -> list[TokenManager]:
    return [TokenManager(endpoint, ServerClock(), store=shared()) for _ in range(count)]


async def test_a_crowd_of_clients_makes_one_grant(endpoint: Any, shared: StoreFactory) -> None:
    managers = _managers(endpoint, shared, 4)
    tokens = await asyncio.gather(*(manager.get() for manager in managers for _ in range(50)))
    assert endpoint.calls == 1
    assert len({token.access_token for token in tokens}) == 1


async def test_a_crowd_healing_the_same_token_makes_one_refresh(endpoint: Any, shared: StoreFactory) -> None:
    managers = _managers(endpoint, shared, 4)
    stale = await managers[0].get()
    for manager in managers[1:]:
        assert await manager.get() == stale
    healed = await asyncio.gather(*(manager.heal(stale) for manager in managers for _ in range(50)))
    assert endpoint.grants == 1
    assert endpoint.refreshes == 1
    assert endpoint.failed_refreshes == 0
    assert len({token.access_token for token in healed}) == 1
    assert healed[0] != stale
    assert sum(manager.adopted for manager in managers) == 3


async def test_a_rejected_token_is_refetched_only_when_the_store_still_holds_it(
    endpoint: Any, shared: StoreFactory
) -> None:
    first, second = _managers(endpoint, shared, 2)
    old = await first.get()
    await second.get()
    new = await first.heal(old)  # the store now holds new
    assert await second.heal(old) == new  # adopted: no call
    assert endpoint.calls == 2
    newest = await second.heal(new)  # new itself failed: the store holds it, so it is replaced
    assert newest not in (old, new)
    assert endpoint.refreshes == 2
    assert endpoint.failed_refreshes == 0


async def test_the_refresh_uses_the_newest_stored_pair(endpoint: Any, shared: StoreFactory) -> None:
    # second's own pair was retired by first's refresh; refreshing with it would fail and cost a grant.
    first, second = _managers(endpoint, shared, 2)
    old = await first.get()
    await second.get()
    await first.heal(old)
    clock = ServerClock()
    clock.offset = 7200  # two hours on: every token this process knows is due
    late = TokenManager(endpoint, clock, store=shared())
    await late.get()
    assert endpoint.refreshes == 2
    assert endpoint.failed_refreshes == 0
    assert endpoint.grants == 1


async def test_the_file_lock_is_private_and_names_its_holder(endpoint: Any, tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "token.json")
    async with store.renewal() as renewal:
        assert renewal.stored is None
        assert stat.S_IMODE(os.stat(store.lock_path).st_mode) == 0o600
        assert f"pid {os.getpid()}" in store.lock_path.read_text()
        await renewal.commit(Token("a" * 20, "r" * 20, 1e10))
    assert await store.load() == Token("a" * 20, "r" * 20, 1e10)


async def test_a_held_file_lock_is_waited_for_a_bounded_time(tmp_path: Path) -> None:
    holder = FileTokenStore(tmp_path / "token.json")
    waiter = FileTokenStore(tmp_path / "token.json", lock_timeout=0.3)
    async with holder.renewal():
        with pytest.raises(TokenStoreError, match=rf"held by .* pid {os.getpid()}"):
            async with waiter.renewal():
                pytest.fail("two holders at once")
        # A cancelled waiter leaves no lock behind.
        task = asyncio.create_task(waiter.renewal().__aenter__())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with asyncio.timeout(5), waiter.renewal():
        pass


async def test_a_file_lock_is_released_when_the_renewal_fails(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "token.json", lock_timeout=1)
    with pytest.raises(RuntimeError):
        async with store.renewal():
            raise RuntimeError("token call failed")
    async with asyncio.timeout(5), store.renewal():
        pass


def test_a_lock_timeout_must_be_positive(tmp_path: Path) -> None:
    from lockcloud import ValidationError

    with pytest.raises(ValidationError):
        FileTokenStore(tmp_path / "t.json", lock_timeout=0)


async def test_a_file_store_where_nothing_can_be_written_still_works(
    endpoint: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileTokenStore(tmp_path / "missing-directory" / "token.json")
    manager = TokenManager(endpoint, ServerClock(), store=store)
    token = await manager.get()
    assert await manager.heal(token) != token
    assert any("lock file" in record.getMessage() for record in caplog.records)
    assert any("could not write token file" in record.getMessage() for record in caplog.records)

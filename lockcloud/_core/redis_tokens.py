"""``RedisTokenStore``: one access token for every process and host of a project (extra ``lockcloud[redis]``).

Imported only when ``lockcloud.RedisTokenStore`` is first used, so ``import lockcloud`` never imports redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal, TypeVar

try:
    import redis.asyncio as aioredis
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError, ResponseError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("RedisTokenStore needs the redis package: pip install 'lockcloud[redis]'") from exc

from lockcloud._core.errors import TokenStoreError, ValidationError
from lockcloud._core.tokens import MemoryTokenStore, StoredRenewal, Token, TokenRenewal

__all__ = ["RedisTokenStore"]

logger = logging.getLogger("lockcloud.auth")

T = TypeVar("T")

_POLL_FIRST = 0.005
_POLL_MAX = 0.05

# Release and extend only a lock that is still ours: after a lease ran out, another holder's lock must stay.
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_EXTEND = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
# Write the new token only over the value read under the lock, never over a newer one written meanwhile. ARGV[1]
# says what was read: '0' nothing, '1' the string ARGV[2], '2' a value of another type (corrupt, replaced).
_COMMIT = """
local kind = redis.call('TYPE', KEYS[1]).ok
local matches
if ARGV[1] == '0' then
    matches = kind == 'none'
elseif ARGV[1] == '1' then
    matches = kind == 'string' and redis.call('GET', KEYS[1]) == ARGV[2]
else
    matches = kind ~= 'none' and kind ~= 'string'
end
if matches then
    redis.call('SET', KEYS[1], ARGV[3])
    return 1
end
return 0
"""
_WRONG_TYPE = object()


class RedisTokenStore:
    """The project's access token in Redis, renewed by one process at a time across all that share it.

    ``url_or_client`` is a ``redis://`` / ``rediss://`` / ``unix://`` URL (a client is then made with
    ``timeout``-second socket timeouts; close it with :meth:`aclose`) or a ``redis.asyncio.Redis`` of your own
    (left open). The token lives under ``key``, by default ``lockcloud:token:<access id>`` (the access id, never
    the secret; ``LockCloud`` hands it over), and the renewal lock under ``<key>:renewal``.

    A renewal takes the lock (``SET NX`` with a ``lease`` of seconds that its holder keeps extending while it
    works, so a slow token call keeps it and a crashed holder loses it within ``lease``), reads the token, and
    either adopts a newer one or makes the token call and writes the result. Others poll the lock every 5 to 50 ms,
    at most ``lock_timeout`` seconds, then raise :class:`~lockcloud.TokenStoreError`.

    When Redis cannot be reached (or answers nothing within ``timeout``), ``fallback="error"`` (the default) raises
    :class:`~lockcloud.TokenStoreError` naming the server; ``fallback="local"`` logs a warning and keeps a token
    for this process alone until Redis answers again. A value in the key that is not a token is treated as absent,
    with a warning. Tokens never appear in logs, reprs or messages.
    """

    def __init__(
        self,
        url_or_client: str | aioredis.Redis,
        *,
        key: str | None = None,
        fallback: Literal["error", "local"] = "error",
        lease: float = 15.0,
        lock_timeout: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        if fallback not in ("error", "local"):
            raise ValidationError("fallback must be 'error' or 'local'")
        if not lease > 0 or not lock_timeout > 0 or not timeout > 0:
            raise ValidationError("lease, lock_timeout and timeout must be positive")
        if key is not None and not key:
            raise ValidationError("key must not be empty")
        if isinstance(url_or_client, str):
            try:
                client = aioredis.Redis.from_url(
                    url_or_client, socket_connect_timeout=timeout, socket_timeout=timeout
                )
            except ValueError as exc:
                raise ValidationError(f"not a Redis URL ({exc})") from None
            self._owns_client = True
        else:
            client = url_or_client
            self._owns_client = False
        self._redis = client
        self.address = _address(client)
        self._key = key
        self.fallback = fallback
        self.lease = lease
        self.lock_timeout = lock_timeout
        self.timeout = timeout
        self._bound_to: str | None = None
        self._local = MemoryTokenStore()
        self._degraded = False

    @property
    def key(self) -> str:
        if self._key is None:
            raise ValidationError("RedisTokenStore has no key: pass key=..., or give the store to LockCloud")
        return self._key

    @property
    def lock_key(self) -> str:
        return f"{self.key}:renewal"

    def bind(self, access_id: str) -> None:
        """Called by the client with its project's access id: the default key is derived from it."""
        if self._bound_to is not None and self._bound_to != access_id:
            raise ValidationError("one RedisTokenStore serves one project; make one per access id")
        self._bound_to = access_id
        if self._key is None:
            self._key = f"lockcloud:token:{access_id}"

    def __repr__(self) -> str:
        return f"RedisTokenStore({self.address!r}, key={self._key!r}, fallback={self.fallback!r})"

    async def aclose(self) -> None:
        """Close the Redis client if this store made it."""
        if self._owns_client:
            await self._redis.aclose()

    async def __aenter__(self) -> RedisTokenStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- TokenStore -----------------------------------------------------------------------------------------------

    async def load(self) -> Token | None:
        try:
            raw = await self._read()
        except _Unreachable:
            if self.fallback == "error":
                raise
            return await self._local.load()
        token = self._parse(raw)
        await self._local.save(token)
        return token

    async def save(self, token: Token | None) -> None:
        await self._local.save(token)
        try:
            if token is None:
                await self._call(lambda: self._redis.delete(self.key))
            else:
                value = json.dumps(token.to_dict())
                await self._call(lambda: self._redis.set(self.key, value))
        except _Unreachable:
            if self.fallback == "error":
                raise

    @contextlib.asynccontextmanager
    async def renewal(self) -> AsyncIterator[TokenRenewal]:
        holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(8)}"
        try:
            await self._acquire(holder)
        except _Unreachable:
            if self.fallback == "error":
                raise
            shared = False
        else:
            shared = True
        if not shared:
            async with self._local.renewal() as local:
                yield local
            return
        keeper = asyncio.create_task(self._keep_lease(holder), name="lockcloud-token-lease")
        try:
            try:
                raw = await self._read()
            except _Unreachable:
                if self.fallback == "error":
                    raise
                raw, stored = None, await self._local.load()  # lost between the lock and the read
            else:
                stored = self._parse(raw)
            yield StoredRenewal(stored, lambda token: self._commit(raw, token))
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            try:
                await self._call(lambda: self._redis.eval(_RELEASE, 1, self.lock_key, holder))
            except TokenStoreError:
                # The lease runs out by itself; the next holder only waits for that.
                logger.warning("could not release the token renewal lock on Redis at %s", self.address)

    # -- internals ------------------------------------------------------------------------------------------------

    async def _acquire(self, holder: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_timeout
        lease_ms = max(1, int(self.lease * 1000))
        delay = _POLL_FIRST
        while True:
            taken = await self._call(lambda: self._redis.set(self.lock_key, holder, nx=True, px=lease_ms))
            if taken:
                return
            if loop.time() >= deadline:
                current = await self._call(lambda: self._redis.get(self.lock_key))
                who = _holder_name(current)
                raise TokenStoreError(
                    f"the token renewal lock {self.lock_key!r} on {self.address} has been held by {who} "
                    f"for more than {self.lock_timeout:g} s"
                )
            await asyncio.sleep(delay * (0.5 + secrets.randbelow(1000) / 1000))
            delay = min(_POLL_MAX, delay * 2)

    async def _keep_lease(self, holder: str) -> None:
        lease_ms = max(1, int(self.lease * 1000))
        pause = self.lease / 4
        while True:
            await asyncio.sleep(pause)
            try:
                kept = await self._call(lambda: self._redis.eval(_EXTEND, 1, self.lock_key, holder, lease_ms))
            except TokenStoreError:
                # A busy event loop or a Redis hiccup: try again soon, while the lease still has time to run.
                pause = min(self.lease / 4, 0.2)
                continue
            pause = self.lease / 4
            if not kept:
                logger.warning("the token renewal lease on Redis at %s ran out while renewing", self.address)
                return

    async def _read(self) -> object:
        """The raw value under the key (``None`` when absent); a value of another type reads as corrupt."""
        try:
            return await self._call(lambda: self._redis.get(self.key))
        except _Refused as exc:
            if "WRONGTYPE" not in str(exc):
                raise
            return _WRONG_TYPE

    async def _commit(self, raw: object, token: Token) -> None:
        await self._local.save(token)
        value = json.dumps(token.to_dict())
        if raw is None:
            expected: tuple[str, bytes | str] = ("0", "")
        elif isinstance(raw, bytes | str):
            expected = ("1", raw)
        else:
            expected = ("2", "")
        try:
            written = await self._call(
                lambda: self._redis.eval(_COMMIT, 1, self.key, expected[0], expected[1], value)
            )
        except _Unreachable:
            # The new token works; failing the callers would waste it (the refresh retired the old pair).
            logger.warning("could not store the new access token on Redis at %s", self.address)
            return
        if not written:
            logger.info(
                "a newer access token was stored meanwhile; this process keeps its own until it fails"
            )

    def _parse(self, raw: object) -> Token | None:
        if raw is None:
            return None
        try:
            if not isinstance(raw, bytes | str):
                raise TypeError("not a string value")
            return Token.from_dict(json.loads(raw))
        except (ValueError, TypeError, RecursionError) as exc:
            logger.warning(
                "ignoring a value in Redis key %r that is not a token (%s)", self._key, type(exc).__name__
            )
            return None

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        refused = reason = ""
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    result = await operation()
                except RedisConnectionError:
                    # A pooled connection that a Redis restart broke fails once; a new one may well work.
                    result = await operation()
        except ResponseError as exc:
            # Redis answered, with an error (a key of another type, a refused command): not an outage.
            refused = str(exc).split(" ", 1)[0]
        except (RedisError, OSError, TimeoutError) as exc:
            reason = type(exc).__name__
        else:
            if self._degraded:
                self._degraded = False
                logger.warning("Redis at %s answers again; the token is shared again", self.address)
            return result
        # Raised outside the except blocks: redis-py's exception is not chained (its text is the server's).
        if refused:
            raise _Refused(f"Redis at {self.address} refused a token store command ({refused})")
        if self.fallback == "local" and not self._degraded:
            self._degraded = True
            logger.warning(
                "Redis at %s is unreachable (%s); using a token for this process alone until it is back",
                self.address,
                reason,
            )
        raise _Unreachable(f"Redis at {self.address} is unreachable or did not answer ({reason})")


class _Unreachable(TokenStoreError):
    """Redis did not answer (as opposed to answering that the lock is taken)."""


class _Refused(TokenStoreError):
    """Redis answered a command with an error."""


def _address(client: aioredis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def _holder_name(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, str) and value.count(":") >= 2:
        host, pid, _ = value.rsplit(":", 2)
        return f"{host} pid {pid}"
    return "another process"

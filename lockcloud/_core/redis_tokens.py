"""``RedisTokenStore``: one access token for every process and host of a project (extra ``lockcloud[redis]``).

Imported only when ``lockcloud.RedisTokenStore`` is first used, so ``import lockcloud`` never imports redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from Crypto.Cipher import AES

try:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import ResponseError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("RedisTokenStore needs the redis package: pip install 'lockcloud[redis]'") from exc

from lockcloud._core.errors import TokenStoreError, ValidationError
from lockcloud._core.redis_keys import beside
from lockcloud._core.redis_url import OUTAGES, REDIS_FAILURES, RedisClient, redis_address, redis_client
from lockcloud._core.tokens import MemoryTokenStore, StoredRenewal, Token, TokenRenewal
from lockcloud._core.validation import seconds

__all__ = ["RedisTokenStore", "cloud_label"]

logger = logging.getLogger("lockcloud.auth")

T = TypeVar("T")

_POLL_FIRST = 0.005
_POLL_MAX = 0.05

# Release and extend only a lock that is still ours: after a lease ran out, another holder's lock must stay.
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_EXTEND = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
# Take the lock (1), or find it held (0). A lock without a TTL, or with one longer than any holder asks for
# (ARGV[3] ms), was not set by a live holder of ours: it gets our lease (-1), so it ends unless a real holder
# extends it, instead of being waited for for ever.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -1 or ttl > tonumber(ARGV[3]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return -1
end
return 0
"""
# The value under the key: nil, the string (when at most ARGV[1] bytes), or {kind} for a value not read: 2 one of
# another type, 3 a string too long to be a token (never sent whole).
_READ = """
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return false end
if kind ~= 'string' then return {2} end
if redis.call('STRLEN', KEYS[1]) > tonumber(ARGV[1]) then return {3} end
return redis.call('GET', KEYS[1])
"""
# Write the new token only over the value read under the lock, never over a newer one written meanwhile. ARGV[1]
# says what was read: '0' nothing, '1' the string ARGV[2], '2' a value not read (of another type, or longer than
# ARGV[4] bytes): corrupt, replaced.
_COMMIT = """
local kind = redis.call('TYPE', KEYS[1]).ok
local matches
if ARGV[1] == '0' then
    matches = kind == 'none'
elseif ARGV[1] == '1' then
    matches = kind == 'string' and redis.call('GET', KEYS[1]) == ARGV[2]
else
    matches = kind ~= 'none' and (kind ~= 'string' or redis.call('STRLEN', KEYS[1]) > tonumber(ARGV[4]))
end
if matches then
    redis.call('SET', KEYS[1], ARGV[3])
    return 1
end
return 0
"""
# A sealed token is a few hundred bytes; a longer value is not read.
_MAX_VALUE_BYTES = 16 * 1024
# Sealed values: this prefix, a 12-byte nonce, the AES-GCM ciphertext of the token's JSON, its 16-byte tag.
_SEALED = b"lockcloud-token-v2:"
_NOT_READ = object()


def cloud_label(base_url: str) -> str:
    """The part of the key that names the cloud: the base URL's host, port and path (``openapi.tuyaeu.com``)."""
    try:
        parts = urlsplit(base_url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise ValidationError("cloud must be the client's base URL") from None
    if not host:
        raise ValidationError("cloud must be the client's base URL")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return netloc + parts.path.rstrip("/")


class RedisTokenStore:
    """The project's access token in Redis, renewed by one process at a time across all that share it.

    ``url_or_client`` is a URL (a client is then made with ``timeout``-second socket timeouts; close it with
    :meth:`aclose`) or a ``redis.asyncio.Redis`` / ``redis.asyncio.RedisCluster`` of your own (left open). The URL
    names one server (``redis://``, ``rediss://``, ``unix://``), a Redis Cluster
    (``redis+cluster://host:port,host:port/``, ``rediss+cluster://`` with TLS) or the master Sentinel names
    (``redis+sentinel://host:port,host:port/<service name>/<db>``, ``rediss+sentinel://``). A plain URL to another
    host warns (:class:`~lockcloud.InsecureTransportWarning`): its password travels in clear; use the TLS form.

    **Keys.** Given to ``LockCloud``, the store keeps the token under
    ``lockcloud:token:v2:{<access id>}:<cloud>``, where ``<cloud>`` is the client's base URL without its scheme
    (``openapi.tuyaeu.com``): one access id used against two clouds keeps two tokens. The braces are a Redis
    Cluster hash tag, so the renewal lock ``<key>:renewal`` lives in the same slot. ``key`` overrides the name;
    without a hash tag of its own, its lock is ``{<key>}:renewal``, which hashes like the key.
    (The earlier key, ``lockcloud:token:<access id>`` holding plain JSON, is no longer read: the first renewal
    after an upgrade makes a new token, and the old key can be deleted.)

    **Sealed at rest.** The token is stored encrypted and authenticated (AES-256-GCM, bound to its key name) under
    a key derived from the project's access secret (HKDF-SHA256), which ``LockCloud`` hands over (``secret`` when
    the store is used without it). Whoever reads Redis learns nothing usable; whoever writes to it cannot plant a
    token; a value copied from another key is refused. A value that does not open — tampered, sealed under another
    secret, an old plain one, too long, of another Redis type — is treated as absent, counted in :attr:`rejected`,
    logged as a warning (without its content) and replaced by the next renewal.

    **Renewals** take the lock (``SET NX`` with a ``lease`` of seconds that its holder keeps extending while it
    works, so a slow token call keeps it and a crashed holder loses it within ``lease``), read the token, and
    either adopt a newer one or make the token call and write the result. Others poll the lock every 5 to 50 ms,
    at most ``lock_timeout`` seconds, then raise :class:`~lockcloud.TokenStoreError`. A lock without a TTL, or
    with one longer than ``max_lease`` seconds, was not set by a live holder: it is given ``lease`` (counted in
    :attr:`leases_imposed`, with a warning), so it ends unless a real holder extends it.

    When Redis cannot be reached (or answers nothing within ``timeout``), ``fallback="error"`` (the default) raises
    :class:`~lockcloud.TokenStoreError` naming the server; ``fallback="local"`` logs a warning and keeps a token
    for this process alone until Redis answers again. Tokens never appear in logs, reprs or messages.
    """

    def __init__(
        self,
        url_or_client: str | RedisClient,
        *,
        key: str | None = None,
        secret: str | None = None,
        fallback: Literal["error", "local"] = "error",
        lease: float = 15.0,
        max_lease: float = 300.0,
        lock_timeout: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        if fallback not in ("error", "local"):
            raise ValidationError("fallback must be 'error' or 'local'")
        for value, name in ((lease, "lease"), (max_lease, "max_lease"), (lock_timeout, "lock_timeout")):
            seconds(value, name)
        seconds(timeout, "timeout")
        if not max_lease >= lease:
            raise ValidationError("max_lease must be at least lease")
        if key is not None and not key:
            raise ValidationError("key must not be empty")
        if key is not None:
            beside(key, ":renewal")
        if secret is not None and not secret:
            raise ValidationError("secret must not be empty")
        if isinstance(url_or_client, str):
            client = redis_client(
                url_or_client,
                what="RedisTokenStore",
                option="RedisTokenStore URL",
                connect_timeout=timeout,
                socket_timeout=timeout,
            )
            self._owns_client = True
        else:
            client = url_or_client
            self._owns_client = False
        self._redis = client
        self.address = redis_address(client)
        self._key = key
        self._sealing_key = None if secret is None else _sealing_key(secret)
        self.fallback = fallback
        self.lease = lease
        self.max_lease = max_lease
        self.lock_timeout = lock_timeout
        self.timeout = timeout
        self._bound_to: tuple[str, str | None] | None = None
        self._local = MemoryTokenStore()
        self._degraded = False
        #: Values found under the key that were not a token sealed for it (each treated as absent, with a warning).
        self.rejected = 0
        #: Renewal locks found without a TTL (or with an absurd one) and given a lease.
        self.leases_imposed = 0

    @property
    def key(self) -> str:
        if self._key is None:
            raise ValidationError("RedisTokenStore has no key: pass key=..., or give the store to LockCloud")
        return self._key

    @property
    def lock_key(self) -> str:
        return beside(self.key, ":renewal")

    def bind(self, access_id: str) -> None:
        """Called with the project's access id when the cloud is not known: the default key is derived from it."""
        self._bind(access_id, None)

    def bind_cloud(self, access_id: str, access_secret: str, cloud: str) -> None:
        """Called by ``LockCloud`` with its project and base URL: the default key names both, and the tokens are
        sealed under a key derived from ``access_secret``."""
        self._bind(access_id, cloud_label(cloud))
        if self._sealing_key is None:
            self._sealing_key = _sealing_key(access_secret)

    def _bind(self, access_id: str, cloud: str | None) -> None:
        if not access_id:
            raise ValidationError("access_id is required")
        if self._bound_to is not None and self._bound_to != (access_id, cloud):
            raise ValidationError(
                "one RedisTokenStore serves one project on one cloud; make one per access id"
            )
        self._bound_to = (access_id, cloud)
        if self._key is None:
            self._key = f"lockcloud:token:v2:{{{access_id}}}" + ("" if cloud is None else f":{cloud}")

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
        self._check_sealing()
        try:
            raw = await self._read()
        except _Unreachable:
            if self.fallback == "error":
                raise
            return await self._local.load()
        token = self._open(raw)
        await self._local.save(token)
        return token

    async def save(self, token: Token | None) -> None:
        self._check_sealing()
        await self._local.save(token)
        try:
            if token is None:
                await self._call(lambda: self._redis.delete(self.key))
            else:
                value = self._seal(token)
                await self._call(lambda: self._redis.set(self.key, value))
        except _Unreachable:
            if self.fallback == "error":
                raise

    @contextlib.asynccontextmanager
    async def renewal(self) -> AsyncIterator[TokenRenewal]:
        self._check_sealing()
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
                stored = self._open(raw)
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

    def _check_sealing(self) -> None:
        if self._sealing_key is None:
            raise ValidationError(
                "RedisTokenStore seals tokens with a key derived from the access secret: give the store to "
                "LockCloud, or pass secret=..."
            )

    async def _acquire(self, holder: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.lock_timeout
        lease_ms = max(1, int(self.lease * 1000))
        max_ms = max(lease_ms, int(self.max_lease * 1000))
        delay = _POLL_FIRST
        while True:
            taken = await self._call(
                lambda: self._redis.eval(_ACQUIRE, 1, self.lock_key, holder, lease_ms, max_ms)
            )
            if taken == 1:
                return
            if taken == -1:
                self.leases_imposed += 1
                logger.warning(
                    "the token renewal lock %r on %s had no lease (or one over %g s); it now ends in %g s "
                    "unless its holder extends it",
                    self.lock_key,
                    self.address,
                    self.max_lease,
                    self.lease,
                )
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
        """The raw value under the key (``None`` when absent); a value not to be read (another type, too long)
        reads as ``_NOT_READ``, without Redis sending it."""
        raw = await self._call(lambda: self._redis.eval(_READ, 1, self.key, _MAX_VALUE_BYTES))
        if isinstance(raw, list):
            self._reject("a value that is not a short string")
            return _NOT_READ
        return raw

    async def _commit(self, raw: object, token: Token) -> None:
        await self._local.save(token)
        value = self._seal(token)
        if raw is None:
            expected: tuple[str, bytes | str] = ("0", "")
        elif isinstance(raw, bytes | str):
            expected = ("1", raw)
        else:
            expected = ("2", "")
        try:
            written = await self._call(
                lambda: self._redis.eval(
                    _COMMIT, 1, self.key, expected[0], expected[1], value, _MAX_VALUE_BYTES
                )
            )
        except _Unreachable:
            # The new token works; failing the callers would waste it (the refresh retired the old pair).
            logger.warning("could not store the new access token on Redis at %s", self.address)
            return
        if not written:
            logger.info(
                "a newer access token was stored meanwhile; this process keeps its own until it fails"
            )

    def _aad(self) -> bytes:
        # The key name is authenticated with the value: a token sealed for one key (project, cloud) opens under no
        # other.
        return b"lockcloud token store\0" + self.key.encode()

    def _seal(self, token: Token) -> bytes:
        assert self._sealing_key is not None
        nonce = secrets.token_bytes(12)
        cipher = AES.new(self._sealing_key, AES.MODE_GCM, nonce=nonce)
        cipher.update(self._aad())
        body, tag = cipher.encrypt_and_digest(json.dumps(token.to_dict()).encode())
        return _SEALED + nonce + tag + body

    def _open(self, raw: object) -> Token | None:
        if raw is None or raw is _NOT_READ:
            return None
        if not isinstance(raw, bytes) or not raw.startswith(_SEALED) or len(raw) < len(_SEALED) + 28:
            self._reject("a value that is not a sealed token (an old plain one, or written by hand)")
            return None
        assert self._sealing_key is not None
        sealed = raw[len(_SEALED) :]
        cipher = AES.new(self._sealing_key, AES.MODE_GCM, nonce=sealed[:12])
        cipher.update(self._aad())
        try:
            plain = cipher.decrypt_and_verify(sealed[28:], sealed[12:28])
        except ValueError:
            self._reject("a token that does not open (tampered, or sealed under another secret or key)")
            return None
        try:
            return Token.from_dict(json.loads(plain))
        except (ValueError, TypeError, RecursionError) as exc:
            reason = str(exc) if isinstance(exc, ValidationError) else type(exc).__name__
            self._reject(f"a sealed value that is not a usable token ({reason})")
            return None

    def _reject(self, what: str) -> None:
        self.rejected += 1
        logger.warning("ignoring %s in Redis key %r; a new token replaces it", what, self._key)

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        refused = reason = ""
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    result = await operation()
                except RedisConnectionError:
                    # A pooled connection that a Redis restart broke fails once; a new one may well work.
                    result = await operation()
        except OUTAGES as exc:
            # A cluster that cannot serve the slot now (CLUSTERDOWN, TRYAGAIN, no node reachable): an outage.
            reason = type(exc).__name__
        except ResponseError as exc:
            # Redis answered, with an error (a key of another type, a refused command): not an outage.
            refused = str(exc).split(" ", 1)[0]
        except REDIS_FAILURES as exc:  # asyncio's TimeoutError included: it is an OSError
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


def _holder_name(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, str) and value.count(":") >= 2:
        host, pid, _ = value.rsplit(":", 2)
        return f"{host} pid {pid}"
    return "another process"


def _sealing_key(secret: str) -> bytes:
    """HKDF-SHA256 (RFC 5869) of the access secret: the AES-256 key tokens are sealed with."""
    prk = hmac.new(b"lockcloud token store v2", secret.encode(), hashlib.sha256).digest()
    return hmac.new(prk, b"aes-256-gcm\x01", hashlib.sha256).digest()

"""The access token: its value, where it is kept (``TokenStore``), and the manager that grants, refreshes and heals it.

A client makes one token call however many of its callers need a token at once (single-flight), refreshes before
expiry on the server's clock, and replaces a token the server rejected. A store shared by several processes
(:class:`FileTokenStore` on one host, ``RedisTokenStore`` across hosts) stretches the single-flight over all of
them: a renewal runs under the store's lock, and whoever finds a newer token there adopts it instead of calling
Tuya, whose refresh retires the old pair for everyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import math
import os
import re
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol, TypeGuard, runtime_checkable

import attrs

from lockcloud._core.clock import ServerClock
from lockcloud._core.errors import APIError, TokenStoreError, TransportError, ValidationError
from lockcloud._core.wire import TOKEN_PATH

__all__ = [
    "FileTokenStore",
    "MemoryTokenStore",
    "StoredRenewal",
    "Token",
    "TokenCall",
    "TokenManager",
    "TokenRenewal",
    "TokenStore",
]

logger = logging.getLogger("lockcloud.auth")

#: Token lifetimes accepted from the server; anything else is a broken answer, not a token to use.
MIN_LIFETIME = 60.0
MAX_LIFETIME = 30 * 24 * 3600.0

#: The longest access or refresh token accepted (Tuya's are 32 characters).
MAX_TOKEN_LENGTH = 512
# A refresh token becomes a path segment of the refresh URL: nothing that could end, climb or escape it.
_REFRESH_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_~-]*")
# How far beyond the longest lifetime a stored expiry may lie (clocks differ) before it is absurd.
_EXPIRY_SLACK = 24 * 3600.0


def is_header_safe(value: str) -> bool:
    """Whether ``value`` can go into an HTTP header as it is: printable ASCII without spaces, bounded."""
    return 0 < len(value) <= MAX_TOKEN_LENGTH and value.isascii() and value.isprintable() and " " not in value


def is_path_safe(value: str) -> bool:
    """Whether ``value`` can be the refresh token segment of the refresh URL (letters, digits, ``_~-``)."""
    return len(value) <= MAX_TOKEN_LENGTH and _REFRESH_TOKEN.fullmatch(value) is not None


def token_defect(token: object) -> str | None:
    """Why ``token`` cannot be used as it is (without quoting it), or ``None`` when it can."""
    if not isinstance(token, Token):
        return f"not a Token ({type(token).__name__})"
    if not isinstance(token.access_token, str) or not is_header_safe(token.access_token):
        return "its access token is not printable ASCII of a sane length"
    if not isinstance(token.refresh_token, str) or (
        token.refresh_token and not is_path_safe(token.refresh_token)
    ):
        return "its refresh token holds characters a refresh URL cannot carry"
    if not isinstance(token.uid, str) or len(token.uid) > MAX_TOKEN_LENGTH:
        return "its uid is not a string of a sane length"
    if not _is_number(token.expires_at) or not math.isfinite(token.expires_at) or token.expires_at <= 0:
        return "its expiry is not a positive finite number"
    return None


@attrs.frozen
class Token:
    """An access token pair. ``expires_at`` is in epoch seconds on the server's clock."""

    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    expires_at: float
    uid: str = ""

    def expires_within(self, seconds: float, server_now: float) -> bool:
        return server_now >= self.expires_at - seconds

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        """The token ``to_dict`` wrote; :class:`ValidationError` for anything else (a store treats it as absent)."""
        if not isinstance(data, Mapping):
            raise ValidationError("a stored token must be a JSON object")
        access_token, refresh_token, uid = (
            data.get(name) for name in ("access_token", "refresh_token", "uid")
        )
        expires_at = data.get("expires_at")
        if not isinstance(access_token, str) or not access_token:
            raise ValidationError("a stored token needs a non-empty access_token")
        if not isinstance(refresh_token, str):
            raise ValidationError("a stored token needs a refresh_token string")
        if not isinstance(uid, str | None):
            raise ValidationError("a stored token's uid must be a string")
        if not _is_number(expires_at) or not math.isfinite(expires_at):
            raise ValidationError("a stored token needs a finite expires_at")
        token = cls(access_token, refresh_token, float(expires_at), uid or "")
        defect = token_defect(token)
        if defect is not None:
            raise ValidationError(f"a stored token that cannot be used: {defect}")
        return token


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class TokenRenewal(Protocol):
    """What a store hands the manager while it holds the renewal lock (see :class:`TokenStore`)."""

    @property
    def stored(self) -> Token | None:
        """The token in the store when the lock was taken."""
        ...

    async def commit(self, token: Token) -> None:
        """Store the token just fetched; a store may keep a newer one written meanwhile (its choice, logged)."""
        ...


class TokenStore(Protocol):
    """Where the access token is kept, and how renewals are taken in turn by everyone sharing it.

    * ``load()``: the stored token, or ``None``. A store that cannot read what it holds treats it as absent and
      logs a warning; it raises (:class:`~lockcloud.TokenStoreError`) only when it cannot be reached at all.
    * ``save(token)`` replaces the token; ``save(None)`` forgets it.
    * ``renewal()``: an async context manager entered when a client needs a new token. While it is held, nobody
      else sharing the store holds it (waiting for it is bounded). It yields a :class:`TokenRenewal` whose
      ``stored`` is the token in the store at that moment. The client adopts that token if it is not the one it is
      replacing (someone renewed meanwhile); otherwise it makes the token call and ``commit()``\\ s the result
      before leaving.

    A store for one process can hold an :class:`asyncio.Lock` (:class:`MemoryTokenStore`); a file, an OS lock
    beside it (:class:`FileTokenStore`); Redis, a lease (``RedisTokenStore``); a database, a row lock
    (``SELECT ... FOR UPDATE`` in a transaction that ``commit()`` updates and the exit commits); etcd, a lease and a
    transaction. :class:`StoredRenewal` is a ready-made ``TokenRenewal``.

    A store that keeps the tokens of several projects apart may also define ``bind(access_id)``: the client calls it
    once, before anything else, with its project's access id. A store that also keeps clouds apart, or seals what
    it holds, may define ``bind_cloud(access_id, access_secret, cloud)`` instead (``cloud`` is the base URL); the
    client then calls that.

    Whatever a store hands back is checked before use: a token that could not go into a header or the refresh
    URL, or whose expiry is absurd, is treated as absent (with a warning) and replaced.
    """

    async def load(self) -> Token | None: ...

    async def save(self, token: Token | None) -> None: ...

    def renewal(self) -> AbstractAsyncContextManager[TokenRenewal]: ...


@runtime_checkable
class _ProjectBound(Protocol):
    def bind(self, access_id: str) -> None: ...


@runtime_checkable
class _CloudBound(Protocol):
    def bind_cloud(self, access_id: str, access_secret: str, cloud: str) -> None: ...


@attrs.define
class StoredRenewal:
    """A :class:`TokenRenewal` from the token read under the lock and the coroutine that stores a new one."""

    stored: Token | None
    _commit: Callable[[Token], Awaitable[None]] = attrs.field(repr=False)

    async def commit(self, token: Token) -> None:
        await self._commit(token)


class MemoryTokenStore:
    """Keeps the token in this process only (the default). Clients sharing one instance share its token."""

    def __init__(self, token: Token | None = None) -> None:
        self._token = token
        self._lock = asyncio.Lock()

    async def load(self) -> Token | None:
        return self._token

    async def save(self, token: Token | None) -> None:
        self._token = token

    @contextlib.asynccontextmanager
    async def renewal(self) -> AsyncIterator[TokenRenewal]:
        async with self._lock:
            yield StoredRenewal(self._token, self.save)

    def __repr__(self) -> str:
        return f"MemoryTokenStore(has_token={self._token is not None})"


_LOCK_POLL_FIRST = 0.005
_LOCK_POLL_MAX = 0.05
# A token file is a few hundred bytes: anything much larger is not one, and is not read whole.
_MAX_FILE_BYTES = 64 * 1024


class FileTokenStore:
    """A JSON file readable only by its owner: a restarted process reuses its token, and every process on the host
    that uses the same path shares one token.

    Renewals take an OS lock (``flock``) on ``<path>.lock`` beside the file, so ``uvicorn --workers N``, a listener
    and a cron job make one token call between them. The kernel drops the lock of a process that dies, so a crash
    never blocks the others; a live holder is waited for at most ``lock_timeout`` seconds
    (:class:`~lockcloud.TokenStoreError` then). The lock file holds the holder's host and pid, for diagnosis.
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 30.0) -> None:
        if not lock_timeout > 0:
            raise ValidationError("lock_timeout must be positive")
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.lock_timeout = lock_timeout
        #: Times the file held something that is not a usable token (each treated as absent, with a warning).
        self.rejected = 0

    async def load(self) -> Token | None:
        return await asyncio.to_thread(self._load)

    async def save(self, token: Token | None) -> None:
        await asyncio.to_thread(self._save, token)

    @contextlib.asynccontextmanager
    async def renewal(self) -> AsyncIterator[TokenRenewal]:
        fd = await self._lock()
        try:
            stored = await asyncio.to_thread(self._load)
            yield StoredRenewal(stored, self.save)
        finally:
            if fd is not None:
                os.close(fd)  # closing the descriptor releases the flock

    async def _lock(self) -> int | None:
        try:
            fd = await asyncio.to_thread(os.open, self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            # Where no lock file can be made, no token file can be written either: nothing is shared to protect,
            # and the token still works from memory, as when the file cannot be written.
            logger.warning(
                "cannot open the token lock file %s (%s); renewing without it",
                self.lock_path,
                type(exc).__name__,
            )
            return None
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.lock_timeout
            delay = _LOCK_POLL_FIRST
            # Polled with LOCK_NB rather than blocking in a thread: a cancelled caller must not leave a thread that
            # takes the lock later and never lets go.
            while not _try_flock(fd):
                if loop.time() >= deadline:
                    holder = await asyncio.to_thread(_read_holder, fd)
                    raise TokenStoreError(
                        f"the token lock {self.lock_path} has been held by {holder} for more than "
                        f"{self.lock_timeout:g} s"
                    )
                await asyncio.sleep(delay)
                delay = min(_LOCK_POLL_MAX, delay * 2)
            await asyncio.to_thread(_write_holder, fd)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _load(self) -> Token | None:
        try:
            with self.path.open("rb") as file:
                content = file.read(_MAX_FILE_BYTES + 1)
            if len(content) > _MAX_FILE_BYTES:
                raise ValueError("larger than any token file")
            return Token.from_dict(json.loads(content))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as exc:
            # A cache that cannot be read must not break the call: a fresh grant is made instead (and replaces it).
            # The reason names the defect, never the value.
            self.rejected += 1
            reason = str(exc) if isinstance(exc, ValidationError) else type(exc).__name__
            logger.warning("ignoring unreadable token file %s (%s)", self.path, reason)
            return None

    def _save(self, token: Token | None) -> None:
        try:
            if token is None:
                self.path.unlink(missing_ok=True)
                return
            # mkstemp creates the file exclusively with mode 0600, whatever a stale temporary file looked like.
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w") as file:
                    json.dump(token.to_dict(), file)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            # The token still works from memory; only reuse after a restart is lost.
            logger.warning("could not write token file %s (%s)", self.path, type(exc).__name__)

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise TokenStoreError(f"cannot lock the token lock file ({type(exc).__name__})") from None
    return True


def _write_holder(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{socket.gethostname()} pid {os.getpid()}\n".encode(), 0)


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 256, 0).decode(errors="replace").strip()
    except OSError:
        text = ""
    return text or "another process"


TokenCall = Callable[[str, Mapping[str, str] | None], Awaitable[tuple[Any, Any]]]
"""``(path, params) -> (result, server_t_ms)`` for a token grant or refresh; raises LockCloudError."""


class TokenManager:
    """One access token shared by every call of a client, and through its store by every client sharing that.

    * lazy: the first call fetches it (or loads it from the store);
    * proactive: ``refresh_margin`` seconds before expiry on the server's clock it is refreshed;
    * reactive: a call that was answered 1010/1011/1012 asks :meth:`heal` with the token it used;
    * single-flight: however many callers ask at once, one token call is made; with a shared store, however many
      processes ask at once (the renewal runs under the store's lock, and a newer stored token is adopted).

    Refresh uses the refresh token (which works once); when that fails, a new grant is made. ``access_id`` (with
    ``access_secret`` and ``cloud``, the base URL) is handed to a store that keeps projects apart (``bind`` /
    ``bind_cloud``).
    """

    def __init__(
        self,
        fetch: TokenCall,
        clock: ServerClock,
        *,
        store: TokenStore | None = None,
        refresh_margin: float = 60.0,
        access_id: str | None = None,
        access_secret: str | None = None,
        cloud: str | None = None,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._store: TokenStore = store if store is not None else MemoryTokenStore()
        if (
            access_id is not None
            and access_secret is not None
            and cloud is not None
            and isinstance(self._store, _CloudBound)
        ):
            self._store.bind_cloud(access_id, access_secret, cloud)
        elif access_id is not None and isinstance(self._store, _ProjectBound):
            self._store.bind(access_id)
        self._refresh_margin = refresh_margin
        self._token: Token | None = None
        self._loaded = False
        self._lock = asyncio.Lock()
        self._renewal: asyncio.Future[Token] | None = None
        self.token_calls = 0
        #: Renewals settled by adopting a token another client had stored (no token call).
        self.adopted = 0
        #: Tokens read back from the store that could not be used (wrong shape, absurd expiry): each was treated
        #: as absent, with a warning, and replaced by a fresh one.
        self.rejected_stored = 0

    def __repr__(self) -> str:
        return f"TokenManager(has_token={self._token is not None}, store={self._store!r})"

    def valid(self) -> Token | None:
        """The token held, if it is valid for at least the refresh margin; ``None`` when :meth:`get` has work to do.

        The check every call makes first, without awaiting anything.
        """
        token = self._token
        if token is not None and self._loaded and not self._expiring(token):
            return token
        return None

    async def get(self) -> Token:
        """A token valid for at least the refresh margin."""
        token = self.valid()
        if token is not None:
            return token
        token = self._token
        if not self._loaded:
            async with self._lock:
                if not self._loaded:
                    self._token = self._trusted(await self._store.load())
                    self._loaded = True
            token = self._token
            if token is not None and not self._expiring(token):
                return token
        return await self._shared_renewal(token)

    async def heal(self, stale: Token | None) -> Token:
        """Replace ``stale`` after the server rejected it, unless a concurrent caller already did."""
        current = self._token
        if current is not None and (stale is None or current.access_token != stale.access_token):
            return current
        return await self._shared_renewal(current)

    def _expiring(self, token: Token) -> bool:
        return token.expires_within(self._refresh_margin, self._clock.now())

    async def _shared_renewal(self, current: Token | None) -> Token:
        # Every caller that arrives while a renewal runs awaits that same renewal and shares its outcome, success
        # or failure: a crowd at expiry or a storm of 1010 answers costs one token call, not one each.
        renewal = self._renewal
        if renewal is None or renewal.done():
            if renewal is not None and self._token is not current:
                token = self._token
                if token is not None and not self._expiring(token):
                    return token
            renewal = asyncio.ensure_future(self._renew(current))
            renewal.add_done_callback(_consume_exception)
            self._renewal = renewal
        # shield: one cancelled caller must not cancel the renewal the others are waiting for.
        return await asyncio.shield(renewal)

    async def _renew(self, current: Token | None) -> Token:
        # Another process may have renewed already; if so its token is taken without queueing for the lock.
        stored = self._trusted(await self._store.load())
        if self._replaces(stored, current):
            return self._adopt(stored)
        async with self._store.renewal() as renewal:
            stored = self._trusted(renewal.stored)
            if self._replaces(stored, current):
                return self._adopt(stored)
            # The stored pair is the newest anyone has: refreshing an older one would fail (a refresh retires it).
            token = await self._new_token(stored if stored is not None else current)
            await renewal.commit(token)
        self._token = token
        return token

    def _trusted(self, stored: Token | None) -> Token | None:
        """``stored`` if it can be used as it is; ``None`` (absent, to be replaced) and a warning otherwise.

        Whatever a store hands back is checked like an answer from the network: a token that could not go into a
        header or a refresh URL, or that claims to stay valid for longer than any token the server grants, would
        otherwise fail (or misdirect) every call of every process sharing the store, for ever.
        """
        if stored is None:
            return None
        defect = token_defect(stored)
        if defect is None and stored.expires_at > self._clock.now() + MAX_LIFETIME + _EXPIRY_SLACK:
            defect = "its expiry is further away than any token lifetime"
        if defect is None:
            return stored
        self.rejected_stored += 1
        logger.warning("ignoring the token in the store: %s; a new one replaces it", defect)
        return None

    def _replaces(self, stored: Token | None, current: Token | None) -> bool:
        """Whether ``stored`` is a usable token other than the one being replaced."""
        if stored is None or self._expiring(stored):
            return False
        return current is None or stored.access_token != current.access_token

    def _adopt(self, token: Token | None) -> Token:
        assert token is not None
        self.adopted += 1
        self._token = token
        logger.debug("adopted the access token another client stored")
        return token

    async def _new_token(self, previous: Token | None) -> Token:
        if previous is not None and previous.refresh_token and not is_path_safe(previous.refresh_token):
            # Never pasted into the URL: it could make the refresh a call to another endpoint.
            logger.warning("the refresh token cannot go into a refresh URL; requesting a new grant instead")
        elif previous is not None and previous.refresh_token:
            try:
                token = await self._call(f"{TOKEN_PATH}/{previous.refresh_token}", None)
            except (APIError, TransportError) as exc:
                logger.info("token refresh failed (%s); requesting a new grant", type(exc).__name__)
            else:
                logger.debug("access token refreshed")
                return token
        token = await self._call(TOKEN_PATH, {"grant_type": "1"})
        logger.debug("access token granted")
        return token

    async def _call(self, path: str, params: Mapping[str, str] | None) -> Token:
        self.token_calls += 1
        result, server_t = await self._fetch(path, params)
        return self._token_from(result, server_t)

    def _token_from(self, result: object, server_t: object) -> Token:
        def refuse(reason: str) -> APIError:
            return APIError(-1, f"token response {reason}", method="GET", path=TOKEN_PATH)

        if not isinstance(result, Mapping):
            raise refuse("without a result object")
        access_token = result.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise refuse("without an access_token string")
        refresh_token = result.get("refresh_token")
        if refresh_token is None:
            refresh_token = ""  # the next renewal is then a grant
        if not isinstance(refresh_token, str):
            raise refuse("with a refresh_token that is not a string")
        if refresh_token and not is_path_safe(refresh_token):
            # The access token is still good; only the next renewal becomes a grant instead of a refresh.
            logger.warning("the token response's refresh token cannot go into a refresh URL; it is not kept")
            refresh_token = ""
        uid = result.get("uid")
        lifetime = _lifetime(result.get("expire_time", result.get("expire")))
        if lifetime is None or not MIN_LIFETIME <= lifetime <= MAX_LIFETIME:
            raise refuse(
                f"without a usable expire_time (seconds from {MIN_LIFETIME:g} to {MAX_LIFETIME:g} expected)"
            )
        if lifetime <= self._refresh_margin:
            # Such a token would be due for refresh from the moment it arrived: a token call before every call.
            raise refuse(
                f"with expire_time {lifetime:g} s, not longer than refresh_margin {self._refresh_margin:g} s"
            )
        if _is_number(server_t) and server_t > 0 and math.isfinite(server_t):
            issued_at = server_t / 1000.0
        else:
            issued_at = self._clock.now()
        return Token(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=issued_at + lifetime,
            uid=uid if isinstance(uid, str) else "",
        )


def _lifetime(value: object) -> float | None:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if not _is_number(value):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) else None


def _consume_exception(future: asyncio.Future[Token]) -> None:
    # The failure is re-raised to every waiter; this only keeps asyncio from logging it as never retrieved.
    if not future.cancelled():
        future.exception()

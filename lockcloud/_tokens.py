"""The access token: its value, where it is kept (``TokenStore``), and the manager that grants, refreshes and heals it.

A client makes one token call however many of its callers need a token at once (single-flight), refreshes before
expiry on the server's clock, and replaces a token the server rejected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs

from lockcloud._auth import ServerClock
from lockcloud._errors import APIError, TransportError
from lockcloud._wire import TOKEN_PATH

__all__ = ["FileTokenStore", "MemoryTokenStore", "Token", "TokenCall", "TokenManager", "TokenStore"]

logger = logging.getLogger("lockcloud.auth")


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
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]),
            expires_at=float(data["expires_at"]),
            uid=str(data.get("uid", "")),
        )


class TokenStore(Protocol):
    """Where a token survives a restart. ``save(None)`` forgets it."""

    async def load(self) -> Token | None: ...

    async def save(self, token: Token | None) -> None: ...


class MemoryTokenStore:
    """Keeps the token in this process only (the default)."""

    def __init__(self, token: Token | None = None) -> None:
        self._token = token

    async def load(self) -> Token | None:
        return self._token

    async def save(self, token: Token | None) -> None:
        self._token = token

    def __repr__(self) -> str:
        return f"MemoryTokenStore(has_token={self._token is not None})"


class FileTokenStore:
    """A JSON file readable only by its owner, so a restarted process reuses its token."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    async def load(self) -> Token | None:
        return await asyncio.to_thread(self._load)

    async def save(self, token: Token | None) -> None:
        await asyncio.to_thread(self._save, token)

    def _load(self) -> Token | None:
        try:
            data = json.loads(self.path.read_text())
            return Token.from_dict(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A cache that cannot be read must not break the call: a fresh grant is made instead.
            logger.warning("ignoring unreadable token file %s (%s)", self.path, type(exc).__name__)
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


TokenCall = Callable[[str, Mapping[str, str] | None], Awaitable[tuple[Any, Any]]]
"""``(path, params) -> (result, server_t_ms)`` for a token grant or refresh; raises LockCloudError."""


class TokenManager:
    """One access token shared by every call of a client.

    * lazy: the first call fetches it (or loads it from the store);
    * proactive: ``refresh_margin`` seconds before expiry on the server's clock it is refreshed;
    * reactive: a call that was answered 1010/1011/1012 asks :meth:`heal` with the token it used;
    * single-flight: however many callers ask at once, one token call is made.

    Refresh uses the refresh token (which works once); when that fails, a new grant is made.
    """

    def __init__(
        self,
        fetch: TokenCall,
        clock: ServerClock,
        *,
        store: TokenStore | None = None,
        refresh_margin: float = 60.0,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._store: TokenStore = store if store is not None else MemoryTokenStore()
        self._refresh_margin = refresh_margin
        self._token: Token | None = None
        self._loaded = False
        self._lock = asyncio.Lock()
        self._renewal: asyncio.Future[Token] | None = None
        self.token_calls = 0

    def __repr__(self) -> str:
        return f"TokenManager(has_token={self._token is not None}, store={self._store!r})"

    async def get(self) -> Token:
        """A token valid for at least the refresh margin."""
        token = self._token
        if token is not None and self._loaded and not self._expiring(token):
            return token
        if not self._loaded:
            async with self._lock:
                if not self._loaded:
                    self._token = await self._store.load()
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
        token: Token | None = None
        if current is not None:
            try:
                token = await self._call(f"{TOKEN_PATH}/{current.refresh_token}", None)
                logger.debug("access token refreshed")
            except (APIError, TransportError) as exc:
                logger.info("token refresh failed (%s); requesting a new grant", type(exc).__name__)
        if token is None:
            token = await self._call(TOKEN_PATH, {"grant_type": "1"})
            logger.debug("access token granted")
        self._token = token
        await self._store.save(token)
        return token

    async def _call(self, path: str, params: Mapping[str, str] | None) -> Token:
        self.token_calls += 1
        result, server_t = await self._fetch(path, params)
        if not isinstance(result, Mapping) or "access_token" not in result:
            raise APIError(-1, "token response without access_token", method="GET", path=TOKEN_PATH)
        try:
            lifetime = float(result.get("expire_time", result.get("expire", 7200)))
        except (TypeError, ValueError):
            raise APIError(
                -1, "token response with an unreadable expire_time", method="GET", path=TOKEN_PATH
            ) from None
        issued_at = (
            float(server_t) / 1000.0 if isinstance(server_t, int | float) and server_t else self._clock.now()
        )
        return Token(
            access_token=str(result["access_token"]),
            refresh_token=str(result.get("refresh_token", "")),
            expires_at=issued_at + lifetime,
            uid=str(result.get("uid", "")),
        )


def _consume_exception(future: asyncio.Future[Token]) -> None:
    # The failure is re-raised to every waiter; this only keeps asyncio from logging it as never retrieved.
    if not future.cancelled():
        future.exception()

"""Request signing and the server clock.

Tuya signs every call with HMAC-SHA256 over the method, the SHA-256 of the exact body bytes, optional signed headers
and the path with its sorted, un-encoded query (PROTOCOL.md §2). Token calls are signed without an access token.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import httpx

from lockcloud._wire import TOKEN_PATH

if TYPE_CHECKING:
    from lockcloud._tokens import Token, TokenManager


__all__ = [
    "ServerClock",
    "TuyaAuth",
    "canonical_url",
    "compute_sign",
    "is_token_path",
    "string_to_sign",
]

logger = logging.getLogger("lockcloud.auth")

EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def is_token_path(path: str) -> bool:
    """Grant (``/v1.0/token``) and refresh (``/v1.0/token/{refresh_token}``) calls are signed without a token."""
    return path == TOKEN_PATH or path.startswith(TOKEN_PATH + "/")


def canonical_url(path: str, params: Iterable[tuple[str, str]] | Mapping[str, Any] | None = None) -> str:
    """The URL part of the string to sign: path, then ``?k=v&...`` sorted by key with un-encoded values."""
    if not params:
        return path
    items = params.items() if isinstance(params, Mapping) else params
    query = "&".join(f"{key}={value}" for key, value in sorted(items, key=lambda kv: kv[0]))
    return f"{path}?{query}"


def string_to_sign(method: str, body: bytes, url: str, signed_headers: str = "") -> str:
    """``METHOD\\nsha256(body)\\nsigned_headers\\nurl`` exactly as Tuya builds it."""
    body_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256
    return f"{method.upper()}\n{body_hash}\n{signed_headers}\n{url}"


def compute_sign(
    secret: str,
    client_id: str,
    t: str,
    string_to_sign: str,
    *,
    access_token: str = "",
    nonce: str = "",
) -> str:
    """Upper-case hex HMAC-SHA256 of ``client_id + access_token + t + nonce + stringToSign``."""
    message = f"{client_id}{access_token}{t}{nonce}{string_to_sign}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest().upper()


def signed_headers_string(headers: httpx.Headers | Mapping[str, str]) -> str:
    """``k:v\\n`` for each header named in ``Signature-Headers`` (colon-separated), in that order."""
    names = headers.get("Signature-Headers", "")
    if not names:
        return ""
    return "".join(f"{name}:{headers.get(name, '')}\n" for name in names.split(":") if name)


class ServerClock:
    """Tuya's clock as seen from here: a skewed local clock never produces a 1013 error.

    Every envelope carries the server time ``t``; the offset to the local clock is kept and used both for the ``t``
    header and for deciding when a token expires.
    """

    def __init__(self) -> None:
        self.offset = 0.0

    def observe(self, server_time_ms: object) -> None:
        if (
            isinstance(server_time_ms, int | float)
            and not isinstance(server_time_ms, bool)
            and server_time_ms > 0
        ):
            self.offset = server_time_ms / 1000.0 - time.time()

    def now(self) -> float:
        """Server time in epoch seconds."""
        return time.time() + self.offset

    def now_ms(self) -> str:
        return str(int(self.now() * 1000))


TOKEN_EXTENSION = "lockcloud.token"


class TuyaAuth(httpx.Auth):
    """Signs an httpx request the Tuya way, adding a token from the manager for business calls.

    The token a request was signed with is kept in ``request.extensions["lockcloud.token"]`` so that the transport
    can tell the token manager exactly which token the server rejected.
    """

    def __init__(
        self,
        access_id: str,
        access_secret: str,
        tokens: TokenManager | None,
        clock: ServerClock,
        *,
        use_nonce: bool = False,
    ) -> None:
        self._access_id = access_id
        self._access_secret = access_secret
        self._tokens = tokens
        self._clock = clock
        self._use_nonce = use_nonce

    def __repr__(self) -> str:
        return f"TuyaAuth(access_id={self._access_id!r})"

    def sign(self, request: httpx.Request, access_token: str = "") -> None:
        """Add ``client_id``, ``t``, ``sign`` (and ``nonce``) headers for the request as it will be sent."""
        headers = request.headers
        t = self._clock.now_ms()
        nonce = headers.get("nonce", "")
        if self._use_nonce and not nonce:
            nonce = secrets.token_hex(16)
            headers["nonce"] = nonce
        url = canonical_url(request.url.path, request.url.params.multi_items())
        to_sign = string_to_sign(request.method, request.content, url, signed_headers_string(headers))
        headers["client_id"] = self._access_id
        headers["t"] = t
        headers["sign_method"] = "HMAC-SHA256"
        headers["sign"] = compute_sign(
            self._access_secret, self._access_id, t, to_sign, access_token=access_token, nonce=nonce
        )
        if access_token:
            headers["access_token"] = access_token

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token: Token | None = None
        if self._tokens is not None and not is_token_path(request.url.path):
            token = await self._tokens.get()
        request.extensions[TOKEN_EXTENSION] = token
        self.sign(request, token.access_token if token else "")
        yield request

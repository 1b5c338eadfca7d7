"""The auth flow: signs each call and heals a rejected access token once (:class:`TuyaAuth`).

Signing itself is :mod:`lockcloud._core.signing`; the clock that stamps each request :mod:`lockcloud._core.clock`.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import AsyncGenerator, Callable, Generator, MutableMapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from lockcloud._core.clock import ServerClock
from lockcloud._core.envelope import DEFAULT_MAX_RESPONSE_BYTES, envelope_code, read_envelope
from lockcloud._core.errors import TokenError, ValidationError
from lockcloud._core.signing import canonical_url, is_token_path, signed_headers_string, string_to_sign
from lockcloud._core.wire import (
    ACCESS_TOKEN_HEADER,
    CLIENT_ID_HEADER,
    NONCE_HEADER,
    SIGN_HEADER,
    SIGN_METHOD,
    SIGN_METHOD_HEADER,
    TIME_HEADER,
)

if TYPE_CHECKING:
    from lockcloud._core.tokens import Token, TokenManager


__all__ = ["SENT_EXTENSION", "SIGN_URL_EXTENSION", "TOKEN_REJECTED", "TuyaAuth"]

logger = logging.getLogger("lockcloud.auth")

R = TypeVar("R")

TOKEN_REJECTED = TokenError.healable

# Request extensions the transport sets so that nothing is parsed twice: the URL part of the string to sign, and
# (set by the flow) whether the request was handed to the network.
SIGN_URL_EXTENSION = "lockcloud.sign_url"
SENT_EXTENSION = "lockcloud.sent"


def _header_safe(token: str) -> bool:
    return bool(token) and token.isascii() and token.isprintable() and " " not in token


class TuyaAuth(httpx.Auth):
    """Signs an httpx request the Tuya way and heals a rejected access token.

    Business calls get a token from the manager. When Tuya answers 1010/1011/1012 (the token expired or was
    replaced), the flow asks the manager to replace exactly the token it used, signs again and sends the request
    once more: authentication is checked before anything is executed, so even an unlock may be sent again.

    Use it on an ``httpx.AsyncClient`` (``auth=TuyaAuth(...)``); it needs the event loop for the token manager, so a
    synchronous client is refused with :class:`~lockcloud.ValidationError`. Response bodies are read by the flow,
    at most ``max_response_bytes`` of them (:class:`~lockcloud.ResponseTooLargeError` beyond).
    """

    def __init__(
        self,
        access_id: str,
        access_secret: str,
        tokens: TokenManager | None,
        clock: ServerClock,
        *,
        use_nonce: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._access_id = access_id
        self._access_secret = access_secret.encode()
        self._tokens = tokens
        self._clock = clock
        self._use_nonce = use_nonce
        self._max_response_bytes = max_response_bytes
        # The last token whose access token was found fit for a header: checked once, not on every call.
        self._checked: Token | None = None

    def __repr__(self) -> str:
        return f"TuyaAuth(access_id={self._access_id!r})"

    def sign(self, request: httpx.Request, access_token: str = "") -> None:
        """Add ``client_id``, ``t``, ``sign`` (and ``nonce``) headers for the request as it will be sent."""
        url = request.extensions.get(SIGN_URL_EXTENSION)
        if not isinstance(url, str):
            url = canonical_url(request.url.path, request.url.params.multi_items())
        self.sign_headers(request.headers, request.method, url, request.content, access_token)

    def sign_headers(
        self,
        headers: MutableMapping[str, str],
        method: str,
        sign_url: str,
        body: bytes,
        access_token: str = "",
    ) -> None:
        """Sign from the parts already at hand: ``sign_url`` is :func:`canonical_url` of the path and query."""
        t = self._clock.now_ms()
        nonce = headers.get(NONCE_HEADER, "")
        if self._use_nonce and not nonce:
            nonce = secrets.token_hex(16)
            headers[NONCE_HEADER] = nonce
        to_sign = string_to_sign(method, body, sign_url, signed_headers_string(headers))
        message = f"{self._access_id}{access_token}{t}{nonce}{to_sign}"
        headers[CLIENT_ID_HEADER] = self._access_id
        headers[TIME_HEADER] = t
        headers[SIGN_METHOD_HEADER] = SIGN_METHOD
        # hmac.digest: the one-shot C implementation, the same bytes as hmac.new(...).hexdigest().
        headers[SIGN_HEADER] = hmac.digest(self._access_secret, message.encode(), "sha256").hex().upper()
        if access_token:
            headers[ACCESS_TOKEN_HEADER] = access_token

    def token_at_hand(self, path: str) -> Token | None:
        """The token a call to ``path`` is signed with, when that needs no waiting (the hot path); ``None`` when
        the call needs no token (token calls, no manager) or :meth:`token_for` must fetch one."""
        if self._tokens is None or is_token_path(path):
            return None
        return self._tokens.valid()

    async def token_for(self, path: str) -> Token | None:
        """The token a call to ``path`` is signed with (granted or refreshed first if need be); ``None`` for calls
        signed without one."""
        if self._tokens is None or is_token_path(path):
            return None
        return await self._tokens.get()

    def access_token(self, token: Token | None, method: str, path: str) -> str:
        """The header value of ``token`` (``""`` for none), refused with :class:`TokenError` if it cannot be sent."""
        if token is None:
            return ""
        if token is self._checked:
            return token.access_token
        access_token = token.access_token
        if not isinstance(access_token, str) or not _header_safe(access_token):
            raise TokenError(
                -1,
                "the access token from the token call is not printable ASCII and cannot be sent",
                method=method,
                path=path,
            )
        self._checked = token
        return access_token

    def rejected(self, token: Token | None, envelope: Any) -> bool:
        """Whether ``envelope`` rejected the ``token`` the call was signed with (1010/1011/1012): heal and resend."""
        return token is not None and self._tokens is not None and envelope_code(envelope) in TOKEN_REJECTED

    async def heal(self, token: Token, envelope: Any, method: str, path: str) -> Token:
        """The token to send the call once more with, after ``envelope`` :meth:`rejected` ``token``."""
        assert self._tokens is not None
        logger.debug("%s %s: token rejected; healing it and sending again", method, path)
        # The answer's clock is fresher than any: the new token's expiry and the next ``t`` header use it.
        if isinstance(envelope, dict):
            self._clock.observe(envelope.get("t"))
        return await self._tokens.heal(token)

    async def conversation(self, method: str, path: str, sign: Callable[[str], R]) -> AsyncGenerator[R, Any]:
        """The auth flow without its transport: yields what ``sign(access_token)`` builds, and is sent back each
        answer's decoded JSON. A token rejected with 1010/1011/1012 is healed once and the call signed again.

        :meth:`async_auth_flow` drives it with httpx requests; ``LockCloud``'s transport takes the same steps
        (:meth:`token_for`, :meth:`access_token`, :meth:`rejected`, :meth:`heal`) without a generator around them.
        """
        token = await self.token_for(path)
        envelope = yield sign(self.access_token(token, method, path))
        if token is not None and self.rejected(token, envelope):
            token = await self.heal(token, envelope, method, path)
            yield sign(self.access_token(token, method, path))

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise ValidationError(
            "TuyaAuth signs on an httpx.AsyncClient only (its tokens are shared through the event loop); "
            "use httpx.AsyncClient(auth=...) or lockcloud.LockCloud"
        )

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # The signature covers the body's bytes: a streamed body is read first (a no-op when it already was).
        await request.aread()
        first = True

        def signed(access_token: str) -> httpx.Request:
            nonlocal first
            # The replay is a new request object, so that whoever kept the first one (event hooks, a log) still
            # sees what it carried.
            target = request if first else _copy(request)
            first = False
            self.sign(target, access_token)
            target.extensions[SENT_EXTENSION] = True
            return target

        flow = self.conversation(request.method, request.url.path, signed)
        outgoing = await flow.__anext__()
        while True:
            response = yield outgoing
            if self._tokens is None or is_token_path(request.url.path):
                return
            envelope = await read_envelope(response, self._max_response_bytes)
            try:
                outgoing = await flow.asend(envelope)
            except StopAsyncIteration:
                return
            await response.aclose()


def _copy(request: httpx.Request) -> httpx.Request:
    return httpx.Request(
        request.method,
        request.url,
        headers=request.headers.copy(),
        content=request.content,
        extensions=dict(request.extensions),
    )

"""Request signing, the server clock, and the auth flow that heals a rejected token.

Tuya signs every call with HMAC-SHA256 over the method, the SHA-256 of the exact body bytes, optional signed headers
and the path with its sorted, un-encoded query. Token calls (grant and refresh) are signed without an access token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Mapping,
    MutableMapping,
)
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from lockcloud._errors import ResponseTooLargeError, TokenError, ValidationError
from lockcloud._wire import (
    ACCESS_TOKEN_HEADER,
    CLIENT_ID_HEADER,
    NONCE_HEADER,
    SIGN_HEADER,
    SIGN_METHOD,
    SIGN_METHOD_HEADER,
    SIGNATURE_HEADERS_HEADER,
    TIME_HEADER,
    TOKEN_PATH,
)

if TYPE_CHECKING:
    from lockcloud._tokens import Token, TokenManager


__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "ServerClock",
    "TuyaAuth",
    "canonical_url",
    "compute_sign",
    "is_token_path",
    "string_to_sign",
]

logger = logging.getLogger("lockcloud.auth")

R = TypeVar("R")

EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
TOKEN_REJECTED = frozenset({1010, 1011, 1012})

#: Largest response body read from the OpenAPI; lock results are a few kilobytes.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024

# Request extensions the transport sets so that nothing is parsed twice: the URL part of the string to sign, and
# (set by the flow) whether the request was handed to the network.
SIGN_URL_EXTENSION = "lockcloud.sign_url"
SENT_EXTENSION = "lockcloud.sent"
# Response extension: the decoded JSON body, read once (under the size cap) by the flow.
ENVELOPE_EXTENSION = "lockcloud.envelope"
NOT_JSON = object()

# Tuya's clock is believed only inside these bounds (2020-01-01 .. 2100-01-01): a wild ``t`` must not poison every
# later call. The local clock is not the reference, since correcting a wrong local clock is the point.
_EARLIEST_SERVER_MS = 1_577_836_800_000
_LATEST_SERVER_MS = 4_102_444_800_000


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
    names = headers.get(SIGNATURE_HEADERS_HEADER, "")
    if not names:
        return ""
    return "".join(f"{name}:{headers.get(name, '')}\n" for name in names.split(":") if name)


def plausible_server_time(value: object) -> float | None:
    """``value`` as milliseconds if it can be Tuya's clock (a finite number between 2020 and 2100), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or not _EARLIEST_SERVER_MS <= value <= _LATEST_SERVER_MS:
        return None
    return float(value)


class ServerClock:
    """Tuya's clock as seen from here: a skewed local clock never produces a 1013 error.

    Every envelope carries the server time ``t``; the offset to the local clock is kept and used both for the ``t``
    header and for deciding when a token expires. A ``t`` that cannot be Tuya's clock is ignored with a warning.
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self._warned = False

    def observe(self, server_time_ms: object) -> bool:
        """Adopt ``server_time_ms`` if it is plausible; returns whether it was."""
        if server_time_ms is None:
            return False
        adopted = plausible_server_time(server_time_ms)
        if adopted is None:
            if not self._warned:
                self._warned = True
                logger.warning(
                    "ignoring an implausible server time (t=%.40r); the clock offset stays %.3f s",
                    server_time_ms,
                    self.offset,
                )
            return False
        self.offset = adopted / 1000.0 - time.time()
        return True

    def now(self) -> float:
        """Server time in epoch seconds."""
        return time.time() + self.offset

    def now_ms(self) -> str:
        return str(int(self.now() * 1000))


def _header_safe(token: str) -> bool:
    return bool(token) and token.isascii() and token.isprintable() and " " not in token


class _CappedStream(httpx.AsyncByteStream):
    """A response body that refuses to grow past ``limit`` bytes, however slowly or quickly it arrives."""

    def __init__(self, stream: httpx.AsyncByteStream, limit: int, request: httpx.Request) -> None:
        self._stream = stream
        self._limit = limit
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self._stream:
            received += len(chunk)
            if received > self._limit:
                raise ResponseTooLargeError(
                    method=self._request.method, path=self._request.url.path, limit=self._limit
                )
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


async def read_envelope(response: httpx.Response, limit: int) -> Any:
    """Read the body (at most ``limit`` bytes) and decode it as JSON once; ``NOT_JSON`` when it is not.

    The result is kept in ``response.extensions`` and ``response.content`` stays readable.
    """
    if ENVELOPE_EXTENSION in response.extensions:
        return response.extensions[ENVELOPE_EXTENSION]
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        await response.aclose()
        raise ResponseTooLargeError(
            method=response.request.method, path=response.request.url.path, limit=limit
        )
    try:
        content = response.content
    except httpx.ResponseNotRead:
        stream = response.stream
        if isinstance(stream, httpx.AsyncByteStream):
            response.stream = _CappedStream(stream, limit, response.request)
        content = await response.aread()
    if len(content) > limit:
        raise ResponseTooLargeError(
            method=response.request.method, path=response.request.url.path, limit=limit
        )
    envelope = decode_json(content)
    response.extensions[ENVELOPE_EXTENSION] = envelope
    return envelope


def decode_json(content: bytes) -> Any:
    """The decoded body, or ``NOT_JSON``."""
    try:
        return json.loads(content) if content else NOT_JSON
    except (ValueError, RecursionError):
        # RecursionError: JSON nested deeper than the parser's stack; as unreadable as any other garbage.
        return NOT_JSON


def envelope_code(envelope: Any) -> int | None:
    """The error code of a failed Tuya envelope (None for a success or something that is not an envelope)."""
    if not isinstance(envelope, dict) or envelope.get("success") is not False:
        return None
    code = envelope.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if isinstance(code, str) and code.isascii() and code.isdigit() and len(code) < 12:
        return int(code)
    return -1


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
        headers[SIGN_HEADER] = (
            hmac.new(self._access_secret, message.encode(), hashlib.sha256).hexdigest().upper()
        )
        if access_token:
            headers[ACCESS_TOKEN_HEADER] = access_token

    async def conversation(self, method: str, path: str, sign: Callable[[str], R]) -> AsyncGenerator[R, Any]:
        """The auth flow without its transport: yields what ``sign(access_token)`` builds, and is sent back each
        answer's decoded JSON. A token rejected with 1010/1011/1012 is healed once and the call signed again.

        :meth:`async_auth_flow` drives it with httpx requests; ``LockCloud``'s own fast path with plain headers.
        """
        tokens = None if is_token_path(path) else self._tokens
        token = await tokens.get() if tokens is not None else None
        envelope = yield sign(self._access_token(token, method, path))
        if tokens is None or envelope_code(envelope) not in TOKEN_REJECTED:
            return
        logger.debug("%s %s: token rejected; healing it and sending again", method, path)
        # The answer's clock is fresher than any: the new token's expiry and the next ``t`` header use it.
        if isinstance(envelope, dict):
            self._clock.observe(envelope.get("t"))
        token = await tokens.heal(token)
        yield sign(self._access_token(token, method, path))

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

    def _access_token(self, token: Token | None, method: str, path: str) -> str:
        if token is None:
            return ""
        access_token = token.access_token
        if not isinstance(access_token, str) or not _header_safe(access_token):
            raise TokenError(
                -1,
                "the access token from the token call is not printable ASCII and cannot be sent",
                method=method,
                path=path,
            )
        return access_token


def _copy(request: httpx.Request) -> httpx.Request:
    return httpx.Request(
        request.method,
        request.url,
        headers=request.headers.copy(),
        content=request.content,
        extensions=dict(request.extensions),
    )

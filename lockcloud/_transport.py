"""The one path every REST call takes: signing, the Tuya envelope, token healing, retries and rate limits.

Retries follow the safety of the operation, not its HTTP verb. An *idempotent* call may be replayed after connect
errors, timeouts, HTTP 5xx and Tuya's busy codes. An *unsafe* call (an unlock, door-operate, enroll, a ticket) is
replayed only when it provably never reached the server (connect error) or the server rejected it before acting
(an expired token, a skewed clock); if it may have arrived and no answer came back, :class:`OutcomeUnknownError`
is raised instead, so a door is never opened twice by a retry.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx

from lockcloud._auth import TOKEN_EXTENSION, ServerClock, TuyaAuth
from lockcloud._errors import (
    ConnectError,
    MediaTooLargeError,
    OutcomeUnknownError,
    RequestTimeoutError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
    error_for_code,
)
from lockcloud._tokens import Token, TokenManager

__all__ = ["RateLimiter", "RetryPolicy", "Transport", "download", "redact_path"]

logger = logging.getLogger("lockcloud.http")

TOKEN_REJECTED = frozenset({1010, 1011, 1012})
CLOCK_REJECTED = 1013
THROTTLED_CODES = frozenset({1110, 1199})
RETRYABLE_CODES = THROTTLED_CODES | {500, 1111}

_REFRESH_IN_PATH = re.compile(r"(/v1\.0/token/)[^/?\s\"]+")


def redact_path(text: str) -> str:
    """Hide the refresh token that Tuya puts in the refresh call's path."""
    return _REFRESH_IN_PATH.sub(r"\1<redacted>", text)


class _RedactURLs(logging.Filter):
    """httpx logs each request URL at INFO: the refresh call's path holds a refresh token, and a media download's
    query may hold signed storage credentials. Both are cut from the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(_redact_log_arg(arg) for arg in record.args)
        return True


_OPENAPI_PATH = re.compile(r"^/v\d+\.\d+/")


def _redact_log_arg(arg: object) -> object:
    if isinstance(arg, httpx.URL):
        # OpenAPI queries hold nothing secret; any other URL (a storage download) keeps only its path.
        if arg.query and not _OPENAPI_PATH.match(arg.path):
            arg = arg.copy_with(query=None)
        return redact_path(str(arg))
    if isinstance(arg, str):
        return redact_path(arg)
    return arg


def _install_httpx_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactURLs) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactURLs())


# At import, not per client: requests signed with TuyaAuth on a plain httpx client are logged by httpx too.
_install_httpx_redaction()


@attrs.frozen
class RetryPolicy:
    """How often and how long to retry a call that failed transiently.

    ``max_attempts`` counts the first try. Backoff doubles from ``initial_backoff`` up to ``max_backoff`` with full
    jitter; no attempt starts after ``deadline`` seconds from the first. ``RetryPolicy.never()`` disables retries.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    deadline: float | None = 30.0

    def __attrs_post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValidationError("max_attempts must be at least 1 (1 means no retries)")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValidationError("backoff times must not be negative")
        if self.deadline is not None and self.deadline < 0:
            raise ValidationError("deadline must not be negative (None means no deadline)")

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(max_attempts=1)

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay before attempt ``attempt + 1``."""
        ceiling = min(self.max_backoff, self.initial_backoff * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)


class RateLimiter:
    """Client-side limits: ``rate`` requests per second (burst of one second's worth) and ``max_in_flight``."""

    def __init__(self, rate: float | None = None, max_in_flight: int | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValidationError("rate must be positive, or None to disable")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValidationError("max_in_flight must be at least 1, or None to disable")
        self._interval = 1.0 / rate if rate else 0.0
        self._burst = max(1.0, rate or 1.0) * self._interval
        self._next_free = 0.0
        self._slots = asyncio.Semaphore(max_in_flight) if max_in_flight else None

    async def __aenter__(self) -> None:
        if self._interval:
            now = time.monotonic()
            start = max(self._next_free, now - self._burst)
            self._next_free = start + self._interval
            if start > now:
                await asyncio.sleep(start - now)
        if self._slots is not None:
            await self._slots.acquire()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._slots is not None:
            self._slots.release()


_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Refused on this side before a byte went out, and no retry would change that (a bad URL, an invalid header).
_NEVER_SENDABLE = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def _encode_body(body: Any) -> bytes:
    if body is None:
        return b""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class Transport:
    """Sends signed calls and turns Tuya envelopes into results or typed errors."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        auth: TuyaAuth,
        tokens: TokenManager | None,
        clock: ServerClock,
        *,
        retry: RetryPolicy,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._auth = auth
        self._tokens = tokens
        self._clock = clock
        self._retry = retry
        self._limiter = limiter

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        retry: RetryPolicy | None = None,
    ) -> tuple[Any, Any]:
        """One call; returns ``(result, server_t)``. See the module docstring for what is replayed."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD")
        policy = retry or self._retry
        shown = redact_path(path)
        body = _encode_body(json)
        query = (
            {key: _query_value(value) for key, value in params.items() if value is not None}
            if params
            else None
        )
        headers = {"Content-Type": "application/json"}
        url = self._base_url + path
        deadline = None if policy.deadline is None else time.monotonic() + policy.deadline

        attempt = 0
        token_healed = clock_resynced = False
        while True:
            attempt += 1
            try:
                request = self._client.build_request(method, url, params=query, content=body, headers=headers)
            except httpx.InvalidURL as exc:
                raise ValidationError(f"{method} {shown}: path or query cannot be put in a URL") from exc
            started = time.perf_counter()
            try:
                response = await self._send(request)
            except httpx.TransportError as exc:
                failure: httpx.TransportError | None = exc
            else:
                failure = None
            # Errors are raised outside the except block on purpose: a chained httpx exception would carry the
            # request, with its access_token header (and, for a refresh, the refresh token in its URL).
            if failure is not None:
                reason = type(failure).__name__
                if isinstance(failure, _NEVER_SENDABLE):
                    raise TransportError(f"request could not be sent ({reason})", method=method, path=shown)
                never_left = isinstance(failure, _NEVER_SENT)
                if not never_left and not idempotent:
                    raise OutcomeUnknownError(
                        f"sent, but no answer arrived ({reason}); the call may have been executed",
                        method=method,
                        path=shown,
                    )
                if await self._may_retry(policy, attempt, deadline, shown, failure):
                    continue
                if never_left:
                    raise ConnectError(f"could not connect ({reason})", method=method, path=shown)
                error = RequestTimeoutError if isinstance(failure, httpx.TimeoutException) else TransportError
                raise error(f"{reason} after {attempt} attempt(s)", method=method, path=shown)

            envelope = self._parse(response, method, shown, idempotent)
            if envelope is None:  # a bare HTTP 5xx on an idempotent call
                if await self._may_retry(policy, attempt, deadline, shown, response.status_code):
                    continue
                raise UnexpectedResponseError(
                    f"HTTP {response.status_code} after {attempt} attempt(s)",
                    method=method,
                    path=shown,
                    status_code=response.status_code,
                    body=response.content[:2048],
                )
            self._clock.observe(envelope.get("t"))
            if envelope.get("success") is True:
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug(
                        "%s %s ok tid=%s in %.1f ms",
                        method,
                        shown,
                        envelope.get("tid"),
                        (time.perf_counter() - started) * 1000,
                    )
                return envelope.get("result"), envelope.get("t")

            code = _int_code(envelope.get("code"))
            logger.debug("%s %s failed code=%s tid=%s", method, shown, code, envelope.get("tid"))
            # Rejected while authenticating: nothing ran, so even an unlock may be sent again, once.
            if code in TOKEN_REJECTED and not token_healed and self._tokens is not None:
                token_healed = True
                used = request.extensions.get(TOKEN_EXTENSION)
                await self._tokens.heal(used if isinstance(used, Token) else None)
                continue
            if code == CLOCK_REJECTED and not clock_resynced:
                clock_resynced = True
                continue
            # Throttling is decided at the gateway before anything runs, so even an unlock may wait and try again.
            retryable = RETRYABLE_CODES if idempotent else THROTTLED_CODES
            if code in retryable and await self._may_retry(policy, attempt, deadline, shown, code):
                continue
            raise error_for_code(
                code,
                str(envelope.get("msg", "")),
                tid=envelope.get("tid"),
                method=method,
                path=shown,
                body=envelope,
            )

    async def _send(self, request: httpx.Request) -> httpx.Response:
        if self._limiter is None:
            return await self._client.send(request, auth=self._auth)
        async with self._limiter:
            return await self._client.send(request, auth=self._auth)

    def _parse(
        self, response: httpx.Response, method: str, shown: str, idempotent: bool
    ) -> dict[str, Any] | None:
        try:
            envelope = json.loads(response.content)
        except ValueError:
            envelope = None
        if isinstance(envelope, dict) and "success" in envelope:
            return envelope
        if response.status_code >= 500:
            if idempotent:
                return None
            raise OutcomeUnknownError(
                f"HTTP {response.status_code} without a Tuya answer; the call may have been executed",
                method=method,
                path=shown,
            )
        raise UnexpectedResponseError(
            f"HTTP {response.status_code}: not a Tuya envelope",
            method=method,
            path=shown,
            status_code=response.status_code,
            body=response.content[:2048],
        )

    async def _may_retry(
        self, policy: RetryPolicy, attempt: int, deadline: float | None, shown: str, reason: object
    ) -> bool:
        if attempt >= policy.max_attempts:
            return False
        delay = policy.backoff(attempt)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return False
        reason_text = type(reason).__name__ if isinstance(reason, BaseException) else str(reason)
        logger.debug("retrying %s after %s in %.2f s (attempt %d)", shown, reason_text, delay, attempt + 1)
        await asyncio.sleep(delay)
        return True


def _query_value(value: object) -> str:
    """Query values as Tuya expects them: JSON-style booleans, comma-joined lists, enum values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return _query_value(value.value)
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(_query_value(item) for item in value)
    return str(value)


def _int_code(code: object) -> int:
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().lstrip("-").isdigit():
        return int(code)
    return -1


async def download(
    client: httpx.AsyncClient, url: str, limit: int, sink: Callable[[bytes], Awaitable[None]]
) -> None:
    """Stream an unsigned GET (a media file in Tuya's storage) into ``sink``, at most ``limit`` bytes.

    Not retried: a download is cheap to ask for again, and the caller decides. Only scheme, host and path go into
    errors, and the httpx exception is not chained: storage URLs may carry signed credentials in the query.
    """
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.netloc}{parts.path}"
    failure: httpx.TransportError | None = None
    try:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                body = await response.aread()
                raise UnexpectedResponseError(
                    f"media download answered HTTP {response.status_code}",
                    method="GET",
                    path=shown,
                    status_code=response.status_code,
                    body=body[:2048],
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise MediaTooLargeError(path=shown, limit=limit)
            received = 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > limit:
                    raise MediaTooLargeError(path=shown, limit=limit)
                await sink(chunk)
    except httpx.TransportError as exc:
        failure = exc
    if failure is not None:
        reason = type(failure).__name__
        if isinstance(failure, _NEVER_SENT):
            raise ConnectError(f"could not connect ({reason})", method="GET", path=shown)
        if isinstance(failure, httpx.TimeoutException):
            raise RequestTimeoutError(f"media download timed out ({reason})", method="GET", path=shown)
        raise TransportError(f"media download failed ({reason})", method="GET", path=shown)

"""The one path every REST call takes: the Tuya envelope, retries, deadlines and rate limits.

Signing and token healing happen in :class:`~lockcloud._core.auth.TuyaAuth`'s auth flow; this module decides what an
answer means and whether a call may be sent again.

Retries follow the safety of the operation, not its HTTP verb. An *idempotent* call may be replayed after connect
errors, timeouts, HTTP 5xx and Tuya's busy codes. An *unsafe* call (an unlock, door-operate, enroll, a ticket) is
sent again only when it provably did nothing:

===================================================  ==============================================================
what happened                                        unsafe call
===================================================  ==============================================================
no connection could be made (connect error/timeout)  sent again within the retry policy (the request never left)
TLS certificate refused                              :class:`TLSVerificationError`, nothing sent, not retried
1010 / 1011 / 1012 (token expired or replaced)       token healed, sent once more (authentication comes before any
                                                     execution; Tuya's own SDKs do the same)
1013 (request time invalid)                          clock corrected from the answer, :class:`ClockSkewError`
                                                     raised (an idempotent call is sent once more)
1110 / 1199 (throttled)                              :class:`RateLimitedError` raised, not replayed (idempotent calls
                                                     wait and retry)
500 / 1111 (system error, system busy)               :class:`OutcomeUnknownError` from the :class:`ServerError`: the
                                                     failure may have come after the lock acted
any other Tuya code                                  its typed :class:`APIError`: Tuya refused that request
sent, then timeout / broken connection / drip        :class:`OutcomeUnknownError`
HTTP 5xx or 2xx that is not an envelope, oversize    :class:`OutcomeUnknownError`
===================================================  ==============================================================

Every attempt, including reading its answer, is bounded by ``timeout`` seconds in total and every call by its retry
policy's ``deadline``, so a server dripping a byte at a time cannot hold a caller longer than that.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import re
import ssl
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx

from lockcloud._core.auth import SENT_EXTENSION, SIGN_URL_EXTENSION, TuyaAuth
from lockcloud._core.clock import ServerClock, plausible_server_time
from lockcloud._core.envelope import (
    DEFAULT_MAX_RESPONSE_BYTES,
    NOT_JSON,
    decode_json,
    envelope_code,
    read_envelope,
)
from lockcloud._core.errors import (
    ConnectError,
    LockCloudError,
    OutcomeUnknownError,
    RequestTimeoutError,
    ResponseTooLargeError,
    TLSVerificationError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
    error_for_code,
)
from lockcloud._core.rate_limit import RateLimiter
from lockcloud._core.redaction import redact_path
from lockcloud._core.retry import RetryPolicy
from lockcloud._core.signing import canonical_url, is_token_path

if TYPE_CHECKING:
    # Imported when a client builds its pool: aiohttp alone costs about as much as httpx to import.
    from lockcloud._core.aiohttp_pool import AiohttpTransport

__all__ = ["NEVER_SENT", "Transport"]

logger = logging.getLogger("lockcloud.http")

CLOCK_REJECTED = 1013
THROTTLED_CODES = frozenset({1110, 1199})
#: Failures inside Tuya's servers: they may come after the lock acted.
MAY_HAVE_EXECUTED = frozenset({500, 1111})
RETRYABLE_CODES = THROTTLED_CODES | MAY_HAVE_EXECUTED


NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Refused on this side before a byte went out, and no retry would change that (a bad URL, an invalid header).
_NEVER_SENDABLE = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)
_REQUEST_HEADERS = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
# Server text (``msg``, ``tid``) is quoted in messages up to this many characters.
_QUOTED_TEXT = 200


def _encode_body(body: Any, method: str, shown: str) -> bytes:
    if body is None:
        return b""
    try:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            f"{method} {shown}: the JSON body cannot be encoded ({type(exc).__name__})"
        ) from None


def _quoted(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _QUOTED_TEXT else text[:_QUOTED_TEXT] + f"... ({len(text)} characters)"


def _certificate_problem(failure: BaseException) -> str | None:
    """The reason a TLS certificate was refused, if that is what ``failure`` comes down to."""
    seen: BaseException | None = failure
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return str(seen.verify_message or seen.reason or "certificate verify failed")
        seen = seen.__cause__ or seen.__context__
    return None


class _Attempt:
    """What one attempt got to: whether the request was handed to the network."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False


# Paths that need no percent-encoding: the fast path puts them into the URL as they are.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@/-]*")


class _AttemptTimedOut(Exception):
    """The attempt's total time ran out (a slow drip, a hung server): not an httpx error, so named here."""


class Transport:
    """Sends signed calls and turns Tuya envelopes into results or typed errors."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        auth: TuyaAuth,
        clock: ServerClock,
        *,
        retry: RetryPolicy,
        timeout: float,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        limiter: RateLimiter | None = None,
        fast: AiohttpTransport | None = None,
        phases: httpx.Timeout | None = None,
    ) -> None:
        self._client = client
        # The client's own aiohttp pool, driven without httpx objects: the same signing, healing and envelope
        # rules at a fraction of the CPU per call. Only when the client was not borrowed (its hooks, headers and
        # transport are then lockcloud's own) and for paths that need no encoding.
        self._fast = fast
        phases = phases or httpx.Timeout(timeout)
        self._phases = phases
        self._base_url = base_url.rstrip("/")
        self._host = urlsplit(self._base_url).hostname or ""
        self._auth = auth
        self._clock = clock
        self._retry = retry
        self._timeout = timeout
        self._max_response_bytes = max_response_bytes
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
        time_limit: float | None = None,
    ) -> tuple[Any, float | None]:
        """One call; returns ``(result, server_t_ms)``. See the module docstring for what is replayed.

        ``server_t_ms`` is None when the answer's ``t`` could not be Tuya's clock. ``time_limit`` overrides the
        client's total time per attempt.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in ("GET", "HEAD")
        policy = retry or self._retry
        attempt_timeout = self._timeout if time_limit is None else time_limit
        shown = redact_path(path)
        body = _encode_body(json, method, shown)
        query: list[tuple[str, str]] = (
            [(key, _query_value(value)) for key, value in params.items() if value is not None]
            if params
            else []
        )
        sign_url = canonical_url(path, query)
        url = self._base_url + path
        fast = self._fast is not None and _PLAIN_PATH.fullmatch(path) is not None
        fast_url = url + "?" + urlencode(query) if query else url
        deadline = None if policy.deadline is None else time.monotonic() + policy.deadline

        attempt = 0
        clock_resynced = False
        while True:
            attempt += 1
            budget = (
                attempt_timeout if deadline is None else min(attempt_timeout, deadline - time.monotonic())
            )
            progress = _Attempt()
            request: httpx.Request | None = None
            if not fast:
                # Built directly rather than through build_request, which parses the URL twice: the borrowed
                # client's headers and timeout still apply (lockcloud sends absolute URLs and uses no cookies).
                headers = self._client.headers.copy()
                headers.update(_REQUEST_HEADERS)
                try:
                    request = httpx.Request(
                        method,
                        fast_url,
                        headers=headers,
                        content=body,
                        extensions={"timeout": self._client.timeout.as_dict(), SIGN_URL_EXTENSION: sign_url},
                    )
                except httpx.InvalidURL as exc:
                    raise ValidationError(f"{method} {shown}: path or query cannot be put in a URL") from exc
            started = time.perf_counter()
            failure: BaseException | None = None
            envelope: Any = NOT_JSON
            status = 0
            try:
                async with asyncio.timeout(max(budget, 0.0)):
                    if request is None:
                        envelope, status, raw = await self._exchange_fast(
                            method, path, fast_url, sign_url, body, shown, progress
                        )
                    else:
                        envelope, status, raw = await self._exchange(request, progress)
            except (httpx.TransportError, ResponseTooLargeError) as exc:
                failure = exc
            except TimeoutError as exc:
                if isinstance(exc, LockCloudError):
                    raise  # a nested token call's own timeout
                failure = _AttemptTimedOut(f"no complete answer within {max(budget, 0.0):.3g} s")
            # Errors are raised outside the except block on purpose: a chained httpx exception would carry the
            # request, with its access_token header (and, for a refresh, the refresh token in its URL).
            if failure is not None:
                await self._handle_failure(
                    failure, method, progress.sent, idempotent, policy, attempt, deadline, shown
                )
                continue

            if not (isinstance(envelope, dict) and "success" in envelope):
                # An HTTP error page, a proxy's answer, garbage: only a retry can help, and only a safe one.
                if (
                    idempotent
                    and status >= 500
                    and await self._may_retry(policy, attempt, deadline, shown, status)
                ):
                    continue
                if not idempotent and (status >= 500 or status < 400):
                    raise OutcomeUnknownError(
                        f"HTTP {status} without a Tuya answer; the call may have been executed",
                        method=method,
                        path=shown,
                    )
                raise UnexpectedResponseError(
                    f"HTTP {status}: not a Tuya envelope"
                    + (f" after {attempt} attempt(s)" if status >= 500 else ""),
                    method=method,
                    path=shown,
                    status_code=status,
                    body=raw[:2048],
                )
            server_t = envelope.get("t")
            self._clock.observe(server_t)
            if envelope.get("success") is True:
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug(
                        "%s %s ok tid=%s in %.1f ms",
                        method,
                        shown,
                        _quoted(envelope.get("tid")),
                        (time.perf_counter() - started) * 1000,
                    )
                return envelope.get("result"), plausible_server_time(server_t)

            code = envelope_code(envelope)
            code = -1 if code is None else code
            logger.debug("%s %s failed code=%s tid=%s", method, shown, code, _quoted(envelope.get("tid")))
            if code == CLOCK_REJECTED and idempotent and not clock_resynced:
                clock_resynced = True
                continue
            retryable = RETRYABLE_CODES if idempotent else frozenset()
            if code in retryable and await self._may_retry(policy, attempt, deadline, shown, code):
                continue
            tid = envelope.get("tid")
            error = error_for_code(
                code,
                _quoted(envelope.get("msg", "")),
                tid=None if tid is None else _quoted(tid),
                method=method,
                path=shown,
                body=envelope,
            )
            if not idempotent and code in MAY_HAVE_EXECUTED:
                raise OutcomeUnknownError(
                    f"Tuya answered {code} ({type(error).__name__}) after the call may have been executed",
                    method=method,
                    path=shown,
                ) from error
            raise error

    async def _exchange(self, request: httpx.Request, progress: _Attempt) -> tuple[Any, int, bytes]:
        """Send, read the answer under the size cap, and decode it once: ``(json or NOT_JSON, status, raw)``."""
        try:
            # Token calls skip the limiter: a business call holding the last slot waits for its token inside it.
            if self._limiter is None or is_token_path(request.url.path):
                response = await self._client.send(request, auth=self._auth, stream=True)
            else:
                async with self._limiter:
                    response = await self._client.send(request, auth=self._auth, stream=True)
        finally:
            progress.sent = request.extensions.get(SENT_EXTENSION) is True
        try:
            envelope = await read_envelope(response, self._max_response_bytes)
        finally:
            await response.aclose()
        return envelope, response.status_code, response.content

    async def _exchange_fast(
        self, method: str, path: str, url: str, sign_url: str, body: bytes, shown: str, progress: _Attempt
    ) -> tuple[Any, int, bytes]:
        """:meth:`_exchange` on the client's own aiohttp pool, driving the same auth conversation."""
        assert self._fast is not None

        def signed(access_token: str) -> dict[str, str]:
            headers = dict(_REQUEST_HEADERS)
            self._auth.sign_headers(headers, method, sign_url, body, access_token)
            return headers

        if self._limiter is None or is_token_path(path):
            return await self._converse(method, path, url, body, shown, progress, signed)
        async with self._limiter:
            return await self._converse(method, path, url, body, shown, progress, signed)

    async def _converse(
        self,
        method: str,
        path: str,
        url: str,
        body: bytes,
        shown: str,
        progress: _Attempt,
        signed: Callable[[str], dict[str, str]],
    ) -> tuple[Any, int, bytes]:
        assert self._fast is not None
        flow = self._auth.conversation(method, path, signed)
        headers = await flow.__anext__()
        while True:
            progress.sent = True
            status, raw = await self._fast.exchange(
                method,
                url,
                headers,
                body,
                limit=self._max_response_bytes,
                shown=shown,
                phases=self._phases,
            )
            envelope = decode_json(raw)
            try:
                headers = await flow.asend(envelope)
            except StopAsyncIteration:
                return envelope, status, raw

    async def _handle_failure(
        self,
        failure: BaseException,
        method: str,
        sent: bool,
        idempotent: bool,
        policy: RetryPolicy,
        attempt: int,
        deadline: float | None,
        shown: str,
    ) -> None:
        """Return to retry; otherwise raise the error that says what may have happened."""
        reason = str(failure) if isinstance(failure, _AttemptTimedOut) else type(failure).__name__
        problem = _certificate_problem(failure)
        if problem is not None:
            raise TLSVerificationError(method=method, path=shown, host=self._host, reason=problem)
        if isinstance(failure, _NEVER_SENDABLE):
            raise TransportError(f"request could not be sent ({reason})", method=method, path=shown)
        if isinstance(failure, ResponseTooLargeError):
            if not idempotent:
                raise OutcomeUnknownError(
                    f"the answer went over max_response_bytes={failure.limit}; the call may have been executed",
                    method=method,
                    path=shown,
                ) from failure
            raise ResponseTooLargeError(method=method, path=shown, limit=failure.limit)
        never_left = isinstance(failure, NEVER_SENT) or not sent
        if not never_left and not idempotent:
            raise OutcomeUnknownError(
                f"sent, but no answer arrived ({reason}); the call may have been executed",
                method=method,
                path=shown,
            )
        if await self._may_retry(policy, attempt, deadline, shown, failure):
            return
        if never_left and not isinstance(failure, _AttemptTimedOut):
            raise ConnectError(f"could not connect ({reason})", method=method, path=shown)
        timed_out = isinstance(failure, httpx.TimeoutException | _AttemptTimedOut)
        error = RequestTimeoutError if timed_out else TransportError
        raise error(f"{reason} after {attempt} attempt(s)", method=method, path=shown)

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

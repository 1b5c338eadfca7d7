"""The one path every REST call takes: the Tuya envelope, retries, deadlines and rate limits.

Each call is built once (path, query, body, the URL it is signed for), then every attempt reads
build -> exchange -> classify: :meth:`Transport.request` signs it and takes the auth conversation's steps (a
rejected token is healed once, :class:`~lockcloud._core.auth.TuyaAuth`) on the wire (:mod:`lockcloud._core.exchange`: the client's aiohttp pool, or a borrowed
``httpx.AsyncClient``), and :func:`lockcloud._core.classify.classify` decides, by the safety of the operation rather
than its HTTP verb, whether the answer is returned, the call is tried again, or an error says what may have
happened. Its module docstring has the table of what an unsafe call (an unlock, door-operate, enroll, a ticket) is
sent again for: only what provably did nothing.

Every attempt, including reading its answer, is bounded by ``timeout`` seconds in total and every call by its retry
policy's ``deadline``, so a server dripping a byte at a time cannot hold a caller longer than that.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import re
import time
from asyncio import CancelledError, TimerHandle, current_task
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx

from lockcloud._core.auth import TuyaAuth
from lockcloud._core.classify import Answer, AttemptTimedOut, Failure, Step, classify, quoted
from lockcloud._core.clock import ServerClock
from lockcloud._core.envelope import (
    DEFAULT_MAX_RESPONSE_BYTES,
    decode_json,
)
from lockcloud._core.errors import APIError, LockCloudError, ResponseTooLargeError, ValidationError
from lockcloud._core.exchange import Exchange, HttpxExchange
from lockcloud._core.rate_limit import RateLimiter
from lockcloud._core.redaction import redact_path
from lockcloud._core.retry import RetryPolicy
from lockcloud._core.signing import canonical_url, is_token_path

if TYPE_CHECKING:
    # Imported when a client builds its pool: aiohttp alone costs about as much as httpx to import.
    from lockcloud._core.aiohttp_pool import AiohttpTransport

__all__ = ["Transport"]

logger = logging.getLogger("lockcloud.http")

_REQUEST_HEADERS = {"Content-Type": "application/json", "Accept-Encoding": "identity"}


def _encode_body(body: Any, method: str, shown: str) -> bytes:
    if body is None:
        return b""
    try:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(
            f"{method} {shown}: the JSON body cannot be encoded ({type(exc).__name__})"
        ) from None


class _Expiry:
    """``asyncio.timeout(delay)`` for one attempt, as a plain context manager: the same semantics (the task is
    cancelled when time runs out, and that cancellation, if nobody else asked for one, becomes ``TimeoutError``),
    with one timer and no coroutine objects of its own, since every call pays for it."""

    __slots__ = ("_cancelling", "_expired", "_handle", "_task")

    def __init__(self, delay: float) -> None:
        task = current_task()
        if task is None:
            raise RuntimeError("a lockcloud call must run inside an asyncio task")
        self._task = task
        self._expired = False
        self._cancelling = 0
        self._handle: TimerHandle | None = None
        loop = task.get_loop()
        # The object itself is the timer's callback: no bound method allocated per call.
        self._handle = loop.call_at(loop.time() + delay, self)

    def __call__(self) -> None:
        """Time is up: cancel the attempt's task (turned into ``TimeoutError`` on the way out)."""
        self._task.cancel()
        self._expired = True
        self._handle = None

    def __enter__(self) -> None:
        self._cancelling = self._task.cancelling()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None  # the handle refers back to this object: no cycle left for the collector
        if self._expired and self._task.uncancel() <= self._cancelling and exc_type is CancelledError:
            raise TimeoutError from exc


# How many built targets (sign URL, URL) a transport keeps; see Transport._target.
_TARGETS_KEPT = 512

# Paths that need no percent-encoding: they go into the URL as they are.
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@/-]*")


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
        # The wire every call takes: the client's own aiohttp pool (no httpx objects built per call: a fraction of
        # the CPU), or, for a borrowed client, that client (its hooks, headers and transport are the user's).
        self._wire: Exchange = fast if fast is not None else HttpxExchange(client)
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
        # What the wire enforces per phase: a phase limit as long as the whole attempt's can never fire first, so
        # it is left to the attempt's own deadline instead of arming one more timer on every call.
        self._wire_phases = _shorter_than(phases, timeout)
        self._targets: dict[tuple[Any, ...], tuple[str, str]] = {}

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
        body = b"" if json is None else _encode_body(json, method, shown)
        sign_url, url = self._target(method, path, params, shown)
        deadline = None if policy.deadline is None else time.monotonic() + policy.deadline

        auth = self._auth
        # Token calls skip the limiter: a business call holding the last slot waits for its token inside it.
        limiter = None if self._limiter is None or is_token_path(path) else self._limiter
        attempt = 0
        clock_resent = False
        while True:
            attempt += 1
            budget = max(
                attempt_timeout if deadline is None else min(attempt_timeout, deadline - time.monotonic()),
                0.0,
            )
            started = time.perf_counter()
            # One attempt on the wire, whichever it is, within ``budget`` seconds: signed, healed once if the token
            # was rejected (the steps of TuyaAuth.conversation, without a generator), read under the size cap and
            # decoded once. Taken in line rather than in a coroutine of its own: one frame fewer for every call.
            # What the attempt got to goes to classify(), including whether the request was handed to the network.
            outcome: Answer | Failure
            sent = False
            try:
                with _Expiry(budget):
                    if limiter is not None:
                        await limiter.acquire()
                    try:
                        # A valid token at hand costs no await; only a rejected one leads to a second exchange.
                        token = auth.token_at_hand(path)
                        if token is None:
                            token = await auth.token_for(path)
                        healed = False
                        while True:
                            headers = self._signed(
                                method, sign_url, body, auth.access_token(token, method, path)
                            )
                            sent = True
                            status, raw = await self._wire.exchange(
                                method,
                                url,
                                headers,
                                body,
                                limit=self._max_response_bytes,
                                shown=shown,
                                phases=self._wire_phases,
                            )
                            envelope = decode_json(raw)
                            # Only a failed envelope can reject the token (a success goes on without a look),
                            # and a token is healed once per attempt: the answer to the resend stands.
                            if (
                                healed
                                or token is None
                                or type(envelope) is not dict
                                or envelope.get("success") is not False
                                or not auth.rejected(token, envelope)
                            ):
                                break
                            token = await auth.heal(token, envelope, method, path)
                            healed = True
                    finally:
                        if limiter is not None:
                            limiter.release()
            except (httpx.TransportError, ResponseTooLargeError) as exc:
                outcome = Failure(exc, sent)
            except TimeoutError as exc:
                if isinstance(exc, LockCloudError):
                    raise  # a nested token call's own timeout
                outcome = Failure(AttemptTimedOut(f"no complete answer within {budget:.3g} s"), sent)
            else:
                if type(envelope) is dict:
                    server_t: Any = envelope.get("t")
                    # observe() adopts exactly the values plausible_server_time() accepts, as that float.
                    observed = self._clock.observe(server_t)
                    if envelope.get("success") is True:
                        # The common answer, taken here: what classify() returns for it, without a verdict.
                        if logger.isEnabledFor(logging.DEBUG):
                            logger.debug(
                                "%s %s ok tid=%s in %.1f ms",
                                method,
                                shown,
                                quoted(envelope.get("tid")),
                                (time.perf_counter() - started) * 1000,
                            )
                        return envelope.get("result"), float(server_t) if observed else None
                outcome = Answer(status, envelope, raw)
            verdict = classify(
                outcome,
                idempotent=idempotent,
                method=method,
                path=shown,
                attempt=attempt,
                host=self._host,
                clock_resent=clock_resent,
            )
            if verdict.step is Step.RETURN:
                # Only a successful envelope is returned, and that was taken above.
                return verdict.result, None
            if isinstance(outcome, Answer) and isinstance(verdict.error, APIError):
                logger.debug(
                    "%s %s failed code=%s tid=%s", method, shown, verdict.error.code, verdict.error.tid
                )
            if verdict.step is Step.RESEND:
                clock_resent = True
                continue
            if verdict.step is Step.RETRY and await self._may_retry(
                policy, attempt, deadline, shown, verdict.reason
            ):
                continue
            assert verdict.error is not None
            # Raised here, outside any except block, on purpose: a chained httpx exception would carry the
            # request, with its access_token header (and, for a refresh, the refresh token in its URL).
            raise verdict.error

    def _target(
        self, method: str, path: str, params: Mapping[str, Any] | None, shown: str
    ) -> tuple[str, str]:
        """The URL part of the string to sign and the encoded URL to send, built once per call (in a function of
        their own, so that nothing built on the way stays alive while the call waits for its answer).

        A client calls the same endpoints over and over: the last few hundred targets are kept, keyed by the path
        and the query as sent (string keys only, so that no two queries that print differently share an entry).
        Token paths are never kept: a refresh path holds the refresh token.
        """
        query: list[tuple[str, str]] = []
        keyable = True
        if params:
            for key, value in params.items():
                if value is not None:
                    keyable = keyable and type(key) is str
                    query.append((key, _query_value(value)))
        cache_key = (path, *query) if keyable else None
        if cache_key is not None:
            kept = self._targets.get(cache_key)
            if kept is not None:
                return kept
        if query:
            sign_url = canonical_url(path, query)
            url = f"{self._base_url}{path}?{_urlencoded(query)}"
        else:
            sign_url = path
            url = self._base_url + path
        if _PLAIN_PATH.fullmatch(path) is None:
            # Characters a path may not carry as they are: percent-encoded as httpx would, for every wire alike.
            try:
                url = str(httpx.URL(url))
            except httpx.InvalidURL as exc:
                raise ValidationError(f"{method} {shown}: path or query cannot be put in a URL") from exc
        if cache_key is not None and not is_token_path(path):
            if len(self._targets) >= _TARGETS_KEPT:
                self._targets.clear()  # simpler than LRU, and as good for a working set that fits
            self._targets[cache_key] = (sign_url, url)
        return sign_url, url

    def _signed(self, method: str, sign_url: str, body: bytes, access_token: str) -> dict[str, str]:
        headers = _REQUEST_HEADERS.copy()
        self._auth.sign_headers(headers, method, sign_url, body, access_token)
        return headers

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


def _shorter_than(phases: httpx.Timeout, total: float) -> httpx.Timeout:
    def kept(limit: float | None) -> float | None:
        return limit if limit is not None and limit < total else None

    return httpx.Timeout(
        connect=kept(phases.connect), read=kept(phases.read), write=kept(phases.write), pool=kept(phases.pool)
    )


# What urlencode leaves as it is (quote_plus's safe characters): a query made of these needs no quoting.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def _urlencoded(query: list[tuple[str, str]]) -> str:
    """``urlencode(query)``, without its quoting machinery for the usual query of plain words."""
    for key, value in query:
        if type(key) is not str or _UNRESERVED.fullmatch(key) is None or _UNRESERVED.fullmatch(value) is None:
            return urlencode(query)
    return "&".join([f"{key}={value}" for key, value in query])


def _query_value(value: object) -> str:
    """Query values as Tuya expects them: JSON-style booleans, comma-joined lists, enum values."""
    if type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return _query_value(value.value)
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(_query_value(item) for item in value)
    return str(value)

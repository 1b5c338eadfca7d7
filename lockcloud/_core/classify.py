"""What one attempt's outcome means: return the result, try again, or raise, by the operation's safety.

:func:`classify` is pure: it reads an outcome (Tuya's answer, or the failure that stopped the attempt) and whether
the call is idempotent, and decides with the Tuya codes the error classes themselves carry (one table:
:mod:`lockcloud._core.errors`). Whether a retry still fits the policy's attempts and deadline is the transport's
question; the verdict carries the error to raise when it does not.

===================================================  ==============================================================
what happened                                        unsafe call
===================================================  ==============================================================
no connection could be made (connect error/timeout)  sent again within the retry policy (the request never left)
TLS certificate refused                              :class:`TLSVerificationError`, nothing sent, not retried
1010 / 1011 / 1012 (token expired or replaced)       token healed, sent once more (inside the auth conversation:
                                                     authentication comes before any execution)
1013 (request time invalid)                          clock corrected from the answer, :class:`ClockSkewError`
                                                     raised (an idempotent call is sent once more at once)
1110 / 1199 (throttled)                              :class:`RateLimitedError` raised, not replayed (idempotent calls
                                                     wait and retry)
500 / 1111 (system error, system busy)               :class:`OutcomeUnknownError` from the :class:`ServerError`: the
                                                     failure may have come after the lock acted
any other Tuya code                                  its typed :class:`APIError`: Tuya refused that request
sent, then timeout / broken connection / drip        :class:`OutcomeUnknownError`
HTTP 5xx or 2xx that is not an envelope, oversize    :class:`OutcomeUnknownError`
===================================================  ==============================================================
"""

from __future__ import annotations

import enum
import ssl
from typing import Any

import attrs
import httpx

from lockcloud._core.envelope import envelope_code
from lockcloud._core.errors import (
    ClockSkewError,
    ConnectError,
    LockCloudError,
    OutcomeUnknownError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServerError,
    TLSVerificationError,
    TransportError,
    UnexpectedResponseError,
    error_for_code,
)

__all__ = ["NEVER_SENT", "Answer", "AttemptTimedOut", "Failure", "Step", "Verdict", "classify", "quoted"]

#: httpx failures that mean the request never left this machine.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Refused on this side before a byte went out, and no retry would change that (a bad URL, an invalid header).
_NEVER_SENDABLE = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)
# Codes an idempotent call waits out; of these, the server's own failures may come after the lock acted.
_RETRYABLE_CODES = RateLimitedError.codes | ServerError.codes
# Server text (``msg``, ``tid``) is quoted in messages up to this many characters.
_QUOTED_TEXT = 200


class AttemptTimedOut(Exception):
    """The attempt's total time ran out (a slow drip, a hung server): not an httpx error, so named here."""


@attrs.frozen
class Answer:
    """The server answered: its HTTP status, the decoded JSON (``NOT_JSON`` when it was not) and the raw body."""

    status: int
    envelope: Any
    raw: bytes


@attrs.frozen
class Failure:
    """The attempt stopped: the exception, and whether the request had been handed to the network."""

    error: BaseException
    sent: bool


class Step(enum.Enum):
    RETURN = "return"
    #: Back off and try again if the policy still allows; otherwise raise the verdict's error.
    RETRY = "retry"
    #: Try again at once, once per call: the clock was corrected from the answer.
    RESEND = "resend"
    RAISE = "raise"


@attrs.frozen
class Verdict:
    step: Step
    result: Any = None
    #: Raised for ``RAISE``, and for ``RETRY`` when no retry is left.
    error: LockCloudError | None = None
    #: What made a retry necessary (for the log): a status, a code or the failure.
    reason: object = None


def quoted(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _QUOTED_TEXT else text[:_QUOTED_TEXT] + f"... ({len(text)} characters)"


def classify(
    outcome: Answer | Failure,
    *,
    idempotent: bool,
    method: str,
    path: str,
    attempt: int = 1,
    host: str = "",
    clock_resent: bool = False,
) -> Verdict:
    """The verdict on one attempt (see the module docstring); ``path`` is the redacted path for messages."""
    if isinstance(outcome, Failure):
        return _failure(outcome, idempotent=idempotent, method=method, path=path, attempt=attempt, host=host)
    envelope = outcome.envelope
    if not (isinstance(envelope, dict) and "success" in envelope):
        return _not_an_envelope(outcome, idempotent=idempotent, method=method, path=path, attempt=attempt)
    if envelope.get("success") is True:
        return Verdict(Step.RETURN, result=envelope.get("result"))
    code = envelope_code(envelope)
    code = -1 if code is None else code
    if code in ClockSkewError.codes and idempotent and not clock_resent:
        return Verdict(Step.RESEND, reason=code)
    tid = envelope.get("tid")
    error = error_for_code(
        code,
        quoted(envelope.get("msg", "")),
        tid=None if tid is None else quoted(tid),
        method=method,
        path=path,
        body=envelope,
    )
    if idempotent and code in _RETRYABLE_CODES:
        return Verdict(Step.RETRY, error=error, reason=code)
    if not idempotent and code in ServerError.codes:
        unknown = OutcomeUnknownError(
            f"Tuya answered {code} ({type(error).__name__}) after the call may have been executed",
            method=method,
            path=path,
        )
        return Verdict(Step.RAISE, error=_caused_by(unknown, error))
    return Verdict(Step.RAISE, error=error)


def _not_an_envelope(answer: Answer, *, idempotent: bool, method: str, path: str, attempt: int) -> Verdict:
    # An HTTP error page, a proxy's answer, garbage: only a retry can help, and only a safe one.
    status = answer.status
    if not idempotent and (status >= 500 or status < 400):
        unknown = OutcomeUnknownError(
            f"HTTP {status} without a Tuya answer; the call may have been executed", method=method, path=path
        )
        return Verdict(Step.RAISE, error=unknown)
    error = UnexpectedResponseError(
        f"HTTP {status}: not a Tuya envelope" + (f" after {attempt} attempt(s)" if status >= 500 else ""),
        method=method,
        path=path,
        status_code=status,
        body=answer.raw[:2048],
    )
    if idempotent and status >= 500:
        return Verdict(Step.RETRY, error=error, reason=status)
    return Verdict(Step.RAISE, error=error)


def _failure(
    failure: Failure, *, idempotent: bool, method: str, path: str, attempt: int, host: str
) -> Verdict:
    exc = failure.error
    reason = str(exc) if isinstance(exc, AttemptTimedOut) else type(exc).__name__
    problem = _certificate_problem(exc)
    if problem is not None:
        return Verdict(
            Step.RAISE, error=TLSVerificationError(method=method, path=path, host=host, reason=problem)
        )
    if isinstance(exc, _NEVER_SENDABLE):
        return Verdict(
            Step.RAISE,
            error=TransportError(f"request could not be sent ({reason})", method=method, path=path),
        )
    if isinstance(exc, ResponseTooLargeError):
        if not idempotent:
            unknown = OutcomeUnknownError(
                f"the answer went over max_response_bytes={exc.limit}; the call may have been executed",
                method=method,
                path=path,
            )
            return Verdict(Step.RAISE, error=_caused_by(unknown, exc))
        return Verdict(Step.RAISE, error=ResponseTooLargeError(method=method, path=path, limit=exc.limit))
    never_left = isinstance(exc, NEVER_SENT) or not failure.sent
    if not never_left and not idempotent:
        unknown = OutcomeUnknownError(
            f"sent, but no answer arrived ({reason}); the call may have been executed",
            method=method,
            path=path,
        )
        return Verdict(Step.RAISE, error=unknown)
    error: TransportError
    if never_left and not isinstance(exc, AttemptTimedOut):
        error = ConnectError(f"could not connect ({reason})", method=method, path=path)
    elif isinstance(exc, httpx.TimeoutException | AttemptTimedOut):
        error = RequestTimeoutError(f"{reason} after {attempt} attempt(s)", method=method, path=path)
    else:
        error = TransportError(f"{reason} after {attempt} attempt(s)", method=method, path=path)
    return Verdict(Step.RETRY, error=error, reason=exc)


def _caused_by(error: LockCloudError, cause: BaseException) -> LockCloudError:
    # As `raise error from cause` would, so that the transport can raise it outside any except block.
    error.__cause__ = cause
    error.__suppress_context__ = True
    return error


def _certificate_problem(failure: BaseException) -> str | None:
    """The reason a TLS certificate was refused, if that is what ``failure`` comes down to."""
    seen: BaseException | None = failure
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            # verify_message and reason are set by the ssl module; an error built by hand may lack them.
            message = getattr(seen, "verify_message", None) or getattr(seen, "reason", None)
            return str(message or "certificate verify failed")
        seen = seen.__cause__ or seen.__context__
    return None

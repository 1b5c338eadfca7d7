"""``classify``: every outcome of an attempt, for a safe and an unsafe call, as one table."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest

from lockcloud import (
    ClockSkewError,
    ConnectError,
    DeviceOfflineError,
    OutcomeUnknownError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServerError,
    TLSVerificationError,
    TransportError,
    UnexpectedResponseError,
)
from lockcloud._core.classify import Answer, AttemptTimedOut, Failure, Step, classify
from lockcloud._core.envelope import NOT_JSON
from lockcloud._core.errors import APIError, error_for_code


def failed(code: int) -> Answer:
    return Answer(200, {"success": False, "code": code, "msg": "m", "tid": "t1", "t": 1}, b"{}")


def certificate_refused() -> httpx.ConnectError:
    error = httpx.ConnectError("certificate refused")
    error.__cause__ = ssl.SSLCertVerificationError(1, "certificate verify failed")
    return error


OK = Answer(200, {"success": True, "result": {"a": 1}, "t": 1}, b"{}")

# outcome, (step, error type) for an idempotent call, (step, error type) for an unsafe one
TABLE: list[tuple[str, Any, tuple[Step, type | None], tuple[Step, type | None]]] = [
    ("success", OK, (Step.RETURN, None), (Step.RETURN, None)),
    ("connect refused", Failure(httpx.ConnectError("x"), sent=True), (Step.RETRY, ConnectError), (Step.RETRY, ConnectError)),
    ("connect timeout", Failure(httpx.ConnectTimeout("x"), sent=True), (Step.RETRY, ConnectError), (Step.RETRY, ConnectError)),
    ("pool timeout", Failure(httpx.PoolTimeout("x"), sent=True), (Step.RETRY, ConnectError), (Step.RETRY, ConnectError)),
    ("failed before sending", Failure(httpx.ReadError("x"), sent=False), (Step.RETRY, ConnectError), (Step.RETRY, ConnectError)),
    ("TLS refused", Failure(certificate_refused(), sent=False), (Step.RAISE, TLSVerificationError), (Step.RAISE, TLSVerificationError)),
    ("never sendable", Failure(httpx.UnsupportedProtocol("x"), sent=False), (Step.RAISE, TransportError), (Step.RAISE, TransportError)),
    ("read timeout after sending", Failure(httpx.ReadTimeout("x"), sent=True), (Step.RETRY, RequestTimeoutError), (Step.RAISE, OutcomeUnknownError)),
    ("broken after sending", Failure(httpx.ReadError("x"), sent=True), (Step.RETRY, TransportError), (Step.RAISE, OutcomeUnknownError)),
    ("attempt timed out (drip)", Failure(AttemptTimedOut("drip"), sent=True), (Step.RETRY, RequestTimeoutError), (Step.RAISE, OutcomeUnknownError)),
    ("answer too large", Failure(ResponseTooLargeError(method="GET", path="/p", limit=9), sent=True), (Step.RAISE, ResponseTooLargeError), (Step.RAISE, OutcomeUnknownError)),
    ("HTTP 502 page", Answer(502, NOT_JSON, b"<html>"), (Step.RETRY, UnexpectedResponseError), (Step.RAISE, OutcomeUnknownError)),
    ("HTTP 200 garbage", Answer(200, NOT_JSON, b"garbage"), (Step.RAISE, UnexpectedResponseError), (Step.RAISE, OutcomeUnknownError)),
    ("HTTP 404 page", Answer(404, NOT_JSON, b"nope"), (Step.RAISE, UnexpectedResponseError), (Step.RAISE, UnexpectedResponseError)),
    ("JSON without success", Answer(200, {"result": 1}, b"{}"), (Step.RAISE, UnexpectedResponseError), (Step.RAISE, OutcomeUnknownError)),
    ("1013 clock", failed(1013), (Step.RESEND, None), (Step.RAISE, ClockSkewError)),
    ("1110 throttled", failed(1110), (Step.RETRY, RateLimitedError), (Step.RAISE, RateLimitedError)),
    ("1199 too frequent", failed(1199), (Step.RETRY, RateLimitedError), (Step.RAISE, RateLimitedError)),
    ("500 system error", failed(500), (Step.RETRY, ServerError), (Step.RAISE, OutcomeUnknownError)),
    ("1111 busy", failed(1111), (Step.RETRY, ServerError), (Step.RAISE, OutcomeUnknownError)),
    ("2001 offline", failed(2001), (Step.RAISE, DeviceOfflineError), (Step.RAISE, DeviceOfflineError)),
    ("unknown code", failed(987654), (Step.RAISE, APIError), (Step.RAISE, APIError)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("outcome", "safe", "unsafe"), [row[1:] for row in TABLE], ids=[row[0] for row in TABLE]
)
def test_classify_table(
    outcome: Any, safe: tuple[Step, type | None], unsafe: tuple[Step, type | None]
) -> None:
    for idempotent, (step, error_type) in ((True, safe), (False, unsafe)):
        verdict = classify(outcome, idempotent=idempotent, method="POST", path="/v1.0/p", attempt=2, host="h")
        assert verdict.step is step, (idempotent, verdict)
        if error_type is None:
            assert verdict.error is None
        else:
            assert type(verdict.error) is error_type, (idempotent, verdict.error)
            assert verdict.error.path == "/v1.0/p"


def test_a_success_returns_its_result() -> None:
    assert classify(OK, idempotent=False, method="GET", path="/p").result == {"a": 1}


def test_the_clock_is_resent_once_then_raised() -> None:
    verdict = classify(failed(1013), idempotent=True, method="GET", path="/p", clock_resent=True)
    assert verdict.step is Step.RAISE
    assert isinstance(verdict.error, ClockSkewError)


def test_an_unsafe_server_failure_keeps_tuyas_error_as_its_cause() -> None:
    verdict = classify(failed(1111), idempotent=False, method="POST", path="/p")
    assert isinstance(verdict.error, OutcomeUnknownError)
    assert isinstance(verdict.error.__cause__, ServerError)
    assert verdict.error.__cause__.tid == "t1"


def test_the_codes_come_from_the_error_classes() -> None:
    # One table of Tuya codes: what classify retries is what the error classes say they are.
    for code in RateLimitedError.codes | ServerError.codes:
        assert classify(failed(code), idempotent=True, method="GET", path="/p").step is Step.RETRY
        assert isinstance(error_for_code(code, "m"), RateLimitedError | ServerError)
    for code in ClockSkewError.codes:
        assert classify(failed(code), idempotent=True, method="GET", path="/p").step is Step.RESEND

"""What the server sends as a token, and what a token file holds, is checked before it is used.

A token response with a null or empty access token, or an expiry that is missing, not a number, not finite or out
of any sane range raises a typed error at the token call (never a token named "None", a silent 7200 s, or a token
that is always about to expire and so costs a token call per business call). A token file that cannot be read as a
token, however it is broken, is treated as absent, with a warning.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from lockcloud import APIError, FileTokenStore, LockCloudError, Token
from lockcloud._core.clock import ServerClock
from lockcloud._core.tokens import TokenManager

GOOD = {"access_token": "a" * 32, "refresh_token": "r" * 32, "expire_time": 7200, "uid": "u"}


class OneAnswer:
    """A token endpoint that always answers ``result``; counts its calls."""

    def __init__(self, result: Any, server_t: Any = None) -> None:
        self.result = result
        self.server_t = server_t
        self.calls = 0

    async def __call__(self, path: str, params: Mapping[str, str] | None) -> tuple[Any, Any]:
        self.calls += 1
        return self.result, self.server_t


def _with(**changes: Any) -> dict[str, Any]:
    result = dict(GOOD)
    for key, value in changes.items():
        if value is _MISSING:
            result.pop(key, None)
        else:
            result[key] = value
    return result


_MISSING = object()


@pytest.mark.parametrize(
    "result",
    [
        _with(access_token=None),
        _with(access_token=""),
        _with(access_token=12345),
        _with(access_token=["a"]),
        _with(access_token=_MISSING),
        _with(refresh_token=42),
        _with(expire_time=_MISSING),
        _with(expire_time=None),
        _with(expire_time=-7200),
        _with(expire_time=0),
        _with(expire_time=30),
        _with(expire_time=math.nan),
        _with(expire_time=math.inf),
        _with(expire_time=-math.inf),
        _with(expire_time=True),
        _with(expire_time="soon"),
        _with(expire_time=10**12),
        None,
        [],
        "a" * 32,
    ],
    ids=[
        "access-null",
        "access-empty",
        "access-number",
        "access-list",
        "access-missing",
        "refresh-number",
        "expiry-missing",
        "expiry-null",
        "expiry-negative",
        "expiry-zero",
        "expiry-under-a-minute",
        "expiry-nan",
        "expiry-inf",
        "expiry-minus-inf",
        "expiry-bool",
        "expiry-text",
        "expiry-30-thousand-years",
        "result-null",
        "result-list",
        "result-text",
    ],
)
async def test_bad_token_data_is_a_typed_error(result: Any) -> None:
    endpoint = OneAnswer(result)
    manager = TokenManager(endpoint, ServerClock())
    with pytest.raises(APIError) as exc_info:
        await manager.get()
    assert "token" in str(exc_info.value)
    assert "a" * 32 not in str(exc_info.value)
    assert endpoint.calls == 1


async def test_a_lifetime_inside_the_refresh_margin_is_refused() -> None:
    # Such a token would be "about to expire" from the moment it arrives: a token call before every business call.
    endpoint = OneAnswer(_with(expire_time=300))
    manager = TokenManager(endpoint, ServerClock(), refresh_margin=600)
    with pytest.raises(APIError, match="refresh_margin"):
        await manager.get()


@pytest.mark.parametrize(
    ("changes", "lifetime"),
    [({}, 7200), ({"expire_time": _MISSING, "expire": 3600}, 3600), ({"expire_time": "7200"}, 7200)],
    ids=["expire_time", "expire", "numeric-text"],
)
async def test_good_token_data(changes: dict[str, Any], lifetime: float) -> None:
    manager = TokenManager(OneAnswer(_with(**changes), server_t=1_000_000_000_000), ServerClock())
    token = await manager.get()
    assert token.access_token == "a" * 32
    assert token.expires_at == 1_000_000_000 + lifetime


async def test_a_missing_refresh_token_means_the_next_renewal_is_a_grant() -> None:
    manager = TokenManager(OneAnswer(_with(refresh_token=None)), ServerClock())
    token = await manager.get()
    assert token.refresh_token == ""


async def test_a_failed_token_call_is_not_repeated_by_its_waiters() -> None:
    endpoint = OneAnswer(_with(expire_time=math.nan))
    manager = TokenManager(endpoint, ServerClock())
    import asyncio

    outcomes = await asyncio.gather(*(manager.get() for _ in range(50)), return_exceptions=True)
    assert all(isinstance(outcome, APIError) for outcome in outcomes)
    assert endpoint.calls == 1


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "content",
    [
        _nested(1200),
        '{"access_token": ' + _nested(1200) + "}",
        json.dumps({"access_token": None, "refresh_token": "r", "expires_at": 1e10}),
        json.dumps({"access_token": "", "refresh_token": "r", "expires_at": 1e10}),
        json.dumps({"access_token": "a", "refresh_token": None, "expires_at": 1e10}),
        json.dumps({"access_token": "a", "refresh_token": "r", "expires_at": "later"}),
        json.dumps({"access_token": "a", "refresh_token": "r", "expires_at": True}),
        '{"access_token": "a", "refresh_token": "r", "expires_at": NaN}',
        '{"access_token": "a", "refresh_token": "r", "expires_at": Infinity}',
        json.dumps({"access_token": "a", "refresh_token": "r"}),
        json.dumps(["a", "r", 1e10]),
        "null",
        "",
        "{",
    ],
    ids=[
        "nested-1200",
        "nested-value-1200",
        "access-null",
        "access-empty",
        "refresh-null",
        "expiry-text",
        "expiry-bool",
        "expiry-nan",
        "expiry-inf",
        "expiry-missing",
        "a-list",
        "null",
        "empty",
        "truncated",
    ],
)
async def test_a_corrupt_token_file_is_absent_with_a_warning(
    content: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "token.json"
    path.write_text(content)
    with caplog.at_level(logging.WARNING, logger="lockcloud"):
        assert await FileTokenStore(path).load() is None
    assert any("token file" in record.getMessage() for record in caplog.records)


async def test_a_binary_token_file_is_absent(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert await FileTokenStore(path).load() is None


def test_token_from_dict_refuses_what_it_cannot_use() -> None:
    with pytest.raises(LockCloudError):
        Token.from_dict({"access_token": None, "refresh_token": "r", "expires_at": 1})
    token = Token.from_dict({"access_token": "a", "refresh_token": "r", "expires_at": 1, "uid": "u"})
    assert token == Token("a", "r", 1.0, "u")

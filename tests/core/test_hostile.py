"""Hostile answers: huge, deep, dripping, wild clocks, unusable tokens. Each surfaces as a LockCloudError, quickly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from lockcloud import (
    LockCloud,
    LockCloudError,
    OutcomeUnknownError,
    RequestTimeoutError,
    ResponseTooLargeError,
    RetryPolicy,
    TokenError,
    UnexpectedResponseError,
)

DEVICE = "d1"
UNASSIGNED = f"/v1.0/devices/{DEVICE}/door-lock/unassigned-keys"
OPEN_DOOR = f"/v1.0/devices/{DEVICE}/door-lock/password-free/open-door"


def answer(result: Any, **extra: Any) -> httpx.Response:
    return httpx.Response(
        200, json={"success": True, "t": 1_700_000_000_000, "result": result, "tid": "t", **extra}
    )


class Ticker:
    """Counts how often the event loop got to run it while something else was going on."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.005)
            self.ticks += 1

    async def __aenter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def test_a_huge_list_of_bad_items_is_a_bounded_error_and_leaves_the_loop_running(
    server: Any, cloud: LockCloud
) -> None:
    server.script(UNASSIGNED, answer([{"unlock_no": "x", "unlock_type": 5}] * 100_000))
    async with Ticker() as ticker:
        with pytest.raises(UnexpectedResponseError) as exc_info:
            await cloud.unlock_methods.list_unassigned(DEVICE)
    message = str(exc_info.value)
    assert len(message) < 1000
    assert "and 99995 more of 100000 items" in message  # five shown, the rest counted
    assert len(exc_info.value.body) <= 2048
    assert ticker.ticks > 0  # structured off the loop: the ticker ran while it happened


async def test_a_huge_string_where_a_list_belongs_fails_at_once(server: Any, cloud: LockCloud) -> None:
    server.script(UNASSIGNED, answer("k" * 300_000))
    with pytest.raises(UnexpectedResponseError) as exc_info:
        await cloud.unlock_methods.list_unassigned(DEVICE)
    assert "expected a list, got str" in str(exc_info.value)
    assert len(str(exc_info.value)) < 500
    assert len(exc_info.value.body) <= 2048


async def test_a_valid_huge_list_is_structured_off_the_loop(server: Any, cloud: LockCloud) -> None:
    server.script(UNASSIGNED, answer([{"unlock_no": n, "unlock_type": "card"} for n in range(20_000)]))
    async with Ticker() as ticker:
        keys = await cloud.unlock_methods.list_unassigned(DEVICE)
    assert len(keys) == 20_000
    assert ticker.ticks > 0


@pytest.mark.parametrize("where", ["envelope", "result"])
async def test_json_nested_deeper_than_the_parser_is_an_unexpected_response(
    server: Any, cloud: LockCloud, where: str
) -> None:
    deep = "[" * 1200 + "]" * 1200
    raw = deep if where == "envelope" else '{"success": true, "t": 1, "result": ' + deep + "}"
    server.script(UNASSIGNED, httpx.Response(200, content=raw.encode()))
    with pytest.raises(UnexpectedResponseError):
        await cloud.unlock_methods.list_unassigned(DEVICE)


async def test_an_infinite_server_time_is_ignored_with_a_warning(
    server: Any, cloud: LockCloud, caplog: pytest.LogCaptureFixture
) -> None:
    await cloud.request("GET", "/v1.0/warm-up")
    offset = cloud.clock_offset
    raw = b'{"success": true, "t": 1e400, "result": {"ok": true}, "tid": "t"}'
    server.script("/v1.0/wild", httpx.Response(200, content=raw), httpx.Response(200, content=raw))
    with caplog.at_level(logging.WARNING, logger="lockcloud.auth"):
        assert await cloud.request("GET", "/v1.0/wild") == {"ok": True}
        assert await cloud.request("GET", "/v1.0/wild") == {"ok": True}
    assert cloud.clock_offset == offset
    warnings = [r for r in caplog.records if "implausible server time" in r.getMessage()]
    assert len(warnings) == 1  # once, not per answer
    # Later calls are still signed with a finite clock.
    assert (await cloud.request("GET", "/v1.0/after"))["path"] == "/v1.0/after"


@pytest.mark.parametrize("t", [-1, 0, 10**30, "1700000000000", True])
async def test_implausible_server_times_are_not_adopted(server: Any, cloud: LockCloud, t: Any) -> None:
    await cloud.request("GET", "/v1.0/warm-up")
    offset = cloud.clock_offset
    server.script("/v1.0/odd", answer({"ok": True}, t=t))
    await cloud.request("GET", "/v1.0/odd")
    assert cloud.clock_offset == offset


async def test_a_non_ascii_access_token_is_a_token_error(server: Any, cloud: LockCloud) -> None:
    server.script(
        "/v1.0/token",
        answer({"access_token": "tökén", "refresh_token": "r", "expire_time": 7200}),
    )
    with pytest.raises(TokenError) as exc_info:
        await cloud.request("GET", "/v1.0/x")
    assert "tökén" not in str(exc_info.value)
    assert server.business() == []


async def test_an_oversized_answer_is_refused(server: Any, make_cloud: Callable[..., LockCloud]) -> None:
    cloud = make_cloud(server, max_response_bytes=64 * 1024)
    await cloud.request("GET", "/v1.0/warm-up")
    big = json.dumps({"success": True, "t": 1, "result": "x" * 200_000}).encode()
    server.script(UNASSIGNED, httpx.Response(200, content=big))
    with pytest.raises(ResponseTooLargeError) as exc_info:
        await cloud.request("GET", UNASSIGNED)
    assert exc_info.value.limit == 64 * 1024

    async def endless() -> AsyncIterator[bytes]:
        # No Content-Length: the cap has to hold while reading.
        yield b'{"success": true, "result": "'
        for _ in range(10_000):
            yield b"x" * 1024

    server.script(UNASSIGNED, httpx.Response(200, content=endless()))
    with pytest.raises(ResponseTooLargeError):
        await cloud.request("GET", UNASSIGNED)
    server.script(OPEN_DOOR, httpx.Response(200, content=big))
    with pytest.raises(OutcomeUnknownError):
        await cloud.request("POST", OPEN_DOOR)


async def test_oversized_error_text_is_quoted_briefly(server: Any, cloud: LockCloud) -> None:
    server.script(
        UNASSIGNED,
        httpx.Response(200, json={"success": False, "code": 1106, "msg": "m" * 300_000, "tid": "x" * 5000}),
    )
    with pytest.raises(LockCloudError) as exc_info:
        await cloud.request("GET", UNASSIGNED)
    assert len(str(exc_info.value)) < 1000


# -- a server that drips its answer over a real socket -----------------------------------------------------------


TOKEN_ANSWER = json.dumps(
    {
        "success": True,
        "t": 1_700_000_000_000,
        "result": {"access_token": "a1", "refresh_token": "r1", "expire_time": 7200},
    }
).encode()
BUSINESS_ANSWER = b'{"success": true, "t": 1700000000000, "result": {"ok": true}}'


def token_at_once_the_rest_dripped(request_line: str) -> tuple[bytes, bool]:
    if request_line.split(" ")[1].startswith("/v1.0/token"):
        return TOKEN_ANSWER, False
    return BUSINESS_ANSWER, True


@pytest.mark.parametrize(
    ("method", "error", "attempts"), [("GET", RequestTimeoutError, 2), ("POST", OutcomeUnknownError, 1)]
)
async def test_a_dripping_server_cannot_outlast_the_timeout_or_the_deadline(
    method: str, error: type[Exception], attempts: int, drip_server: Any
) -> None:
    # Each byte comes well within httpx's read timeout, so only a total per attempt can stop it.
    retry = RetryPolicy(max_attempts=5, initial_backoff=0.01, max_backoff=0.01, deadline=2.5)
    async with drip_server(token_at_once_the_rest_dripped, interval=0.2) as drip:
        async with LockCloud(
            "id", "secret", base_url=f"http://127.0.0.1:{drip.port}", timeout=1.0, retry=retry
        ) as cloud:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(error):
                # Generous outer bound: the machine is shared; the point is that the call ends by itself.
                async with asyncio.timeout(60):
                    await cloud.request(method, "/v1.0/slow")
            elapsed = loop.time() - started
        business_requests = len([line for line in drip.requests if "/v1.0/token" not in line])
        assert business_requests <= 3 if method == "GET" else business_requests == attempts
    assert elapsed < 60

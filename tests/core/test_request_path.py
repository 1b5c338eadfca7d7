"""The request path's shortcuts give exactly what the long way gives.

Every REST call takes them (a plain query encoded without ``urlencode``'s machinery, an envelope decoded without
encoding detection, a path with nothing to redact left alone, built targets kept, one timer per attempt, a valid
token taken without an await), so each is checked against the general routine it stands in for.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockcloud import LockCloud, RequestTimeoutError, RetryPolicy
from lockcloud._core.clock import ServerClock
from lockcloud._core.envelope import NOT_JSON, decode_json
from lockcloud._core.redaction import _REFRESH_IN_PATH, redact_path
from lockcloud._core.tokens import MemoryTokenStore, Token, TokenManager
from lockcloud._core.transport import _shorter_than, _urlencoded

PLAIN = st.text(alphabet="abcXYZ0129_.~-", max_size=12)


@given(st.lists(st.tuples(PLAIN | st.text(max_size=8), PLAIN | st.text(max_size=8)), max_size=4))
def test_query_encoding_is_urlencode(query: list[tuple[str, str]]) -> None:
    assert _urlencoded(query) == urlencode(query)


def _long_way(content: bytes) -> Any:
    try:
        return json.loads(content) if content else NOT_JSON
    except (ValueError, RecursionError):
        return NOT_JSON


BODIES = [
    b'{"success": true, "result": [1, 2]}',
    b'{"a": 1}  \n',
    b'{"a": 1} trailing',
    b'{"a',
    b'{"\xff": 1}',
    b'{"a": "\xed\xa0\x80"}',  # an encoded surrogate: json.loads(bytes) lets it through
    b"\xef\xbb\xbf" + b'{"a": 1}',
    '{"a": 1}'.encode("utf-16"),
    '{"a": 1}'.encode("utf-16-le"),
    b"[1]",
    b"",
    b"<html>busy</html>",
]


@pytest.mark.parametrize("content", BODIES)
def test_envelope_decoding_is_json_loads(content: bytes) -> None:
    assert decode_json(content) == _long_way(content)


@given(st.binary(max_size=40))
def test_any_body_decodes_as_json_loads_would(tail: bytes) -> None:
    content = b'{"' + tail
    assert decode_json(content) == _long_way(content)


@given(st.text(alphabet="/v1.0tkenrs?x=_-", max_size=40))
def test_redaction_shortcut_is_the_pattern(text: str) -> None:
    assert redact_path(text) == _REFRESH_IN_PATH.sub(r"\1<redacted>", text)


def test_phase_limits_as_long_as_the_attempt_are_left_to_it() -> None:
    pruned = _shorter_than(httpx.Timeout(10, connect=5), 10)
    assert pruned.connect == 5
    assert pruned.read is None
    assert pruned.pool is None
    kept = _shorter_than(httpx.Timeout(connect=1, read=2, write=3, pool=4), 10)
    assert (kept.connect, kept.read, kept.write, kept.pool) == (1, 2, 3, 4)


async def test_queries_that_print_differently_never_share_a_kept_target(
    server: Any, make_cloud: Callable[..., LockCloud]
) -> None:
    cloud = make_cloud(server)
    for params in ({"flag": True}, {"flag": 1}, {1: "a"}, {True: "a"}, {"flag": True}):
        await cloud.request("GET", "/v1.0/kept", params=params)
    queries = [request.url.query for request in server.business("/v1.0/kept")]
    assert queries == [b"flag=true", b"flag=1", b"1=a", b"True=a", b"flag=true"]


async def test_a_refresh_path_is_never_kept(server: Any, make_cloud: Callable[..., LockCloud]) -> None:
    cloud = make_cloud(server)
    transport = cloud._transport
    assert transport._target("GET", "/v1.0/token/rt-secret", None, "shown") == (
        "/v1.0/token/rt-secret",
        "https://openapi.test/v1.0/token/rt-secret",
    )
    assert not any("rt-secret" in str(key) for key in transport._targets)


async def test_a_caller_cancelling_a_call_gets_cancelled_not_a_timeout(
    server: Any, make_cloud: Callable[..., LockCloud]
) -> None:
    arrived = asyncio.Event()

    async def hang(request: httpx.Request, token: str) -> None:
        arrived.set()
        await asyncio.sleep(3600)

    server.on_business = hang
    cloud = make_cloud(server, timeout=30)
    call = asyncio.create_task(cloud.request("GET", "/v1.0/hang"))
    await arrived.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


async def test_an_attempt_out_of_time_leaves_its_task_uncancelled(
    server: Any, make_cloud: Callable[..., LockCloud]
) -> None:
    async def hang(request: httpx.Request, token: str) -> None:
        await asyncio.sleep(3600)

    server.on_business = hang
    cloud = make_cloud(server, timeout=0.05, retry=RetryPolicy.never())
    with pytest.raises(RequestTimeoutError):
        await cloud.request("GET", "/v1.0/hang")
    task = asyncio.current_task()
    assert task is not None
    assert task.cancelling() == 0
    await asyncio.sleep(0.01)  # no stray cancellation is still on its way


async def test_a_valid_token_is_at_hand_only_once_loaded_and_until_its_margin() -> None:
    clock = ServerClock()

    async def no_token_call(path: str, params: Any) -> Any:
        raise AssertionError(f"unexpected token call to {path}")

    token = Token("at-valid", "rt", expires_at=clock.now() + 3600)
    store = MemoryTokenStore(token)
    tokens = TokenManager(no_token_call, clock, store=store, refresh_margin=60)
    assert tokens.valid() is None  # the store has not been read yet
    assert await tokens.get() is token
    assert tokens.valid() is token
    clock.offset = 3600 - 30  # now inside the refresh margin
    assert tokens.valid() is None


async def test_the_aiohttp_wire_keeps_parsed_urls_but_never_a_refresh_url() -> None:
    from lockcloud._core.aiohttp_pool import AiohttpTransport

    wire = AiohttpTransport()
    phases = httpx.Timeout(5.0)
    try:
        # Port 1 on loopback refuses at once: the URL is parsed (and kept, or not) before the connection fails.
        for url in ("http://127.0.0.1:1/v1.0/devices/d1", "http://127.0.0.1:1/v1.0/token/rt-secret"):
            with pytest.raises(httpx.ConnectError):
                await wire.exchange("GET", url, {}, b"", limit=1024, shown="shown", phases=phases)
        assert list(wire._urls) == ["http://127.0.0.1:1/v1.0/devices/d1"]
        kept = wire._urls["http://127.0.0.1:1/v1.0/devices/d1"]
        assert str(kept) == "http://127.0.0.1:1/v1.0/devices/d1"
    finally:
        await wire.aclose()


async def test_a_success_reports_the_server_time_as_plausible_server_time_would() -> None:
    from lockcloud._core.clock import plausible_server_time

    answered: list[object] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1.0/token"):
            token = {"access_token": "at", "refresh_token": "rt", "expire_time": 7200, "uid": "u"}
            return httpx.Response(200, json={"success": True, "t": 1_700_000_000_000, "result": token})
        # Written by hand: httpx's json= refuses infinity, which a broken server may still send.
        return httpx.Response(
            200, content=json.dumps({"success": True, "t": answered[-1], "result": 1}).encode()
        )

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    async with http, LockCloud("id", "secret", base_url="https://openapi.test", http_client=http) as cloud:
        for t in (1_700_000_000_000, 1_700_000_000_000.5, 12, None, "1700000000000", True, math.inf):
            answered.append(t)
            assert await cloud._transport.request("GET", "/v1.0/any") == (1, plausible_server_time(t))

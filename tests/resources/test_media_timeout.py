"""The media download's total ``timeout``, against a real loopback server that drips its body.

Each byte arrives well within httpx's read timeout, so only a limit on the whole download can end it. These tests
use their own clients (no respx): the storage server is a real socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lockcloud import LockCloud, MediaDownloadTimeoutError, RequestTimeoutError, ValidationError
from lockcloud.crypto import encrypt_media

FILE_KEY = "u8kstrtjm7qun83q"
IMAGE = bytes(range(256)) * 4
# Stands for the signed storage credentials in the URL's query: never to be shown.
SIGNATURE = "q-signature=SIGNEDSTORAGECRED"


COVER = f"/bucket/cover.jpg?{SIGNATURE}"


@pytest.fixture
def drip_storage(drip_server: Any) -> Callable[..., Any]:
    """An object-storage server dripping ``body`` on every download (the root conftest's ``DripServer``)."""

    def storage(body: bytes, *, interval: float, chunk: int = 1) -> Any:
        return drip_server(lambda request_line: (body, True), interval=interval, chunk=chunk)

    return storage


@pytest.fixture(params=["default transport", "borrowed httpx client"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[LockCloud]:
    """The client's own (aiohttp-backed) transport, and a plain httpx client handed in: both must stop."""
    async with contextlib.AsyncExitStack() as stack:
        http = None
        if request.param == "borrowed httpx client":
            http = await stack.enter_async_context(httpx.AsyncClient())
        cloud = LockCloud("lcid-media", "media-secret", base_url="http://127.0.0.1:9", http_client=http)
        yield await stack.enter_async_context(cloud)


def _check_error(error: MediaDownloadTimeoutError, port: int, limit: float) -> None:
    assert isinstance(error, RequestTimeoutError)
    assert isinstance(error, TimeoutError)
    assert error.host == "127.0.0.1"
    assert error.timeout == limit
    shown = f"{error} {error!r} {error.args}"
    assert f"127.0.0.1:{port}/bucket/" in str(error)
    assert "SIGNEDSTORAGECRED" not in shown
    # Raised fresh, with nothing attached that could hold the request and its signed URL.
    assert error.__cause__ is None
    assert error.__context__ is None


async def test_a_body_dripping_one_byte_a_second_is_stopped_at_the_timeout(
    client: LockCloud, drip_storage: Callable[..., Any]
) -> None:
    blob = encrypt_media(IMAGE, FILE_KEY)
    loop = asyncio.get_running_loop()
    async with drip_storage(blob, interval=1.0) as storage:
        started = loop.time()
        with pytest.raises(MediaDownloadTimeoutError) as raised:
            # Far below what the drip needs (over 1,000 s), far above the limit under test.
            async with asyncio.timeout(30):
                await client.remote_unlock.download_media((storage.url(COVER), FILE_KEY), timeout=2.0)
        elapsed = loop.time() - started
    assert 2.0 <= elapsed < 10
    assert 1 <= storage.bytes_sent < 10
    assert storage.requests == [f"GET {COVER} HTTP/1.1"]
    _check_error(raised.value, storage.port, 2.0)


async def test_download_media_to_past_its_timeout_leaves_no_file(
    tmp_path: Path, drip_storage: Callable[..., Any]
) -> None:
    blob = encrypt_media(IMAGE, FILE_KEY)
    target = tmp_path / "cover.jpg"
    target.write_bytes(b"previous")
    async with (
        LockCloud("lcid-media", "media-secret", base_url="http://127.0.0.1:9") as cloud,
        drip_storage(blob, interval=1.0) as storage,
    ):
        with pytest.raises(MediaDownloadTimeoutError) as raised:
            async with asyncio.timeout(30):
                await cloud.remote_unlock.download_media_to(
                    target, (storage.url(COVER), FILE_KEY), timeout=1.5
                )
    _check_error(raised.value, storage.port, 1.5)
    assert os.listdir(tmp_path) == ["cover.jpg"]
    assert target.read_bytes() == b"previous"


async def test_a_slow_download_that_ends_within_its_timeout_is_delivered(
    client: LockCloud, tmp_path: Path, drip_storage: Callable[..., Any]
) -> None:
    blob = encrypt_media(IMAGE, FILE_KEY)
    # About 0.3 s of dripping in 64-byte pieces: slow, but inside the limit.
    async with drip_storage(blob, interval=0.3 * 64 / len(blob), chunk=64) as storage:
        assert await client.remote_unlock.download_media((storage.url(COVER), FILE_KEY), timeout=20) == IMAGE
        written = await client.remote_unlock.download_media_to(
            tmp_path / "c.jpg", (storage.url(COVER), FILE_KEY), timeout=20
        )
    assert written == len(IMAGE)
    assert (tmp_path / "c.jpg").read_bytes() == IMAGE
    assert len(storage.requests) == 2


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, True, "5", None])
async def test_a_bad_timeout_is_refused_before_anything_is_sent(
    bad: Any, tmp_path: Path, drip_storage: Callable[..., Any]
) -> None:
    async with (
        LockCloud("lcid-media", "media-secret", base_url="http://127.0.0.1:9") as cloud,
        drip_storage(b"x", interval=0) as storage,
    ):
        with pytest.raises(ValidationError, match="timeout"):
            await cloud.remote_unlock.download_media((storage.url(COVER), FILE_KEY), timeout=bad)
        with pytest.raises(ValidationError, match="timeout"):
            await cloud.remote_unlock.download_media_to(
                tmp_path / "x.jpg", (storage.url(COVER), FILE_KEY), timeout=bad
            )
    assert storage.requests == []
    assert os.listdir(tmp_path) == []

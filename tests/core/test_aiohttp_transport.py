"""The default aiohttp-backed transport over real loopback sockets: failures keep their meaning for replays."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from lockcloud import ConnectError, LockCloud, OutcomeUnknownError, TransportError

from support import FAST_RETRY, free_port

TOKEN = json.dumps(
    {
        "success": True,
        "t": 1_700_000_000_000,
        "result": {"access_token": "a1", "refresh_token": "r1", "expire_time": 7200},
    }
).encode()
Handler = Callable[[str, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def http_server(business: Handler) -> AsyncIterator[tuple[int, list[str]]]:
    """Token calls answered at once; every other request handed to ``business``. Yields (port, paths seen)."""
    seen: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                if length:
                    await reader.readexactly(length)
                path = head.split(b" ", 2)[1].decode()
                seen.append(path)
                if path.startswith("/v1.0/token"):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(TOKEN) + TOKEN)
                    await writer.drain()
                    continue
                await business(path, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()


async def answer_ok(path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    body = json.dumps({"success": True, "t": 1_700_000_000_000, "result": {"path": path}}).encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()


async def hang_up(path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    # The request arrived; the connection closes without an answer (as when a proxy dies mid-call).
    raise ConnectionResetError


async def test_calls_go_through_the_default_transport() -> None:
    async with (
        http_server(answer_ok) as (port, seen),
        LockCloud("id", "secret", base_url=f"http://127.0.0.1:{port}") as cloud,
    ):
        results = await asyncio.gather(
            *(cloud.request("GET", f"/v1.0/n/{n}", params={"q": "a b"}) for n in range(50))
        )
    assert sorted(r["path"] for r in results) == sorted(f"/v1.0/n/{n}?q=a+b" for n in range(50))
    assert seen.count("/v1.0/token?grant_type=1") == 1


async def test_a_connection_dropped_after_sending_is_never_taken_for_never_sent() -> None:
    async with (
        http_server(hang_up) as (port, seen),
        LockCloud("id", "secret", base_url=f"http://127.0.0.1:{port}", retry=FAST_RETRY) as cloud,
    ):
        with pytest.raises(OutcomeUnknownError):
            await cloud.request("POST", "/v1.0/devices/d1/door-lock/open-door", json={"ticket_id": "t"})
        # aiohttp itself would resend a PUT (an enrollment) on a dropped keep-alive connection.
        with pytest.raises(OutcomeUnknownError):
            await cloud.request("PUT", "/v1.0/devices/d1/door-lock/actions/entry", json={"user_id": "u"})
        with pytest.raises(TransportError) as read:
            await cloud.request("GET", "/v1.0/devices/d1/door-lock/remote-unlocks")
    assert not isinstance(read.value, ConnectError)
    assert seen.count("/v1.0/devices/d1/door-lock/open-door") == 1  # the unlock went out once
    assert seen.count("/v1.0/devices/d1/door-lock/actions/entry") == 1
    assert seen.count("/v1.0/devices/d1/door-lock/remote-unlocks") == 3  # a read may be retried


async def test_a_refused_connection_is_never_sent_and_retried() -> None:
    port = free_port()  # nothing listens there
    async with LockCloud("id", "secret", base_url=f"http://127.0.0.1:{port}", retry=FAST_RETRY) as cloud:
        with pytest.raises(ConnectError):
            await cloud.request("POST", "/v1.0/devices/d1/door-lock/open-door")


def test_import_lockcloud_leaves_aiohttp_until_a_client_builds_its_pool() -> None:
    # aiohttp costs about as much to import as httpx (bench_import): only a client that uses its own pool pays it.
    import subprocess
    import sys

    probe = (
        "import sys, httpx, lockcloud\n"
        "assert 'aiohttp' not in sys.modules, 'import lockcloud loaded aiohttp'\n"
        "lockcloud.LockCloud('id', 's' * 32, http_client=httpx.AsyncClient())\n"
        "assert 'aiohttp' not in sys.modules, 'a borrowed httpx client loaded aiohttp'\n"
        "lockcloud.LockCloud('id', 's' * 32)\n"
        "assert 'aiohttp' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


async def _heads_sent(monkeypatch: pytest.MonkeyPatch, *, stock: bool) -> list[bytes]:
    """The request heads the pool puts on the wire for a signed GET and POST and for a plain httpx POST."""
    import httpx

    from lockcloud._core import aiohttp_pool

    monkeypatch.setattr(aiohttp_pool, "_KEEPS_SKIPPED", not stock)
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head.replace(str(port).encode(), b"PORT"))  # two servers, two ports
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                if length:
                    await reader.readexactly(length)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    wire = aiohttp_pool.AiohttpTransport()
    signed = {
        "Content-Type": "application/json",
        "Accept-Encoding": "identity",
        "client_id": "id",
        "sign": "S",
    }
    phases = httpx.Timeout(5.0)
    try:
        for method, body in (("GET", b""), ("POST", b'{"a":1}')):
            await wire.exchange(
                method,
                f"http://127.0.0.1:{port}/v1.0/x",
                dict(signed),
                body,
                limit=64,
                shown="x",
                phases=phases,
            )
        async with httpx.AsyncClient(transport=wire) as http:
            await http.post(f"http://127.0.0.1:{port}/v1.0/y", content=b"raw")
    finally:
        await wire.aclose()
        server.close()
    return heads


async def test_the_pool_sends_exactly_the_headers_stock_aiohttp_sends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The pool's request class builds the skipped headers once instead of per request: nothing sent may differ.
    ours = await _heads_sent(monkeypatch, stock=False)
    theirs = await _heads_sent(monkeypatch, stock=True)
    assert len(ours) == 3
    assert ours == theirs
    # The signed calls carry only their own headers (httpx adds its User-Agent and Accept to the third).
    assert not any(b"user-agent" in head.lower() or b"\r\naccept:" in head.lower() for head in ours[:2])

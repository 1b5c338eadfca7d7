"""The WebSocket source keeps its password for the push endpoint, refuses credentials in URLs and bounds the frames
it reads (loopback sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from lockcloud import EventStreamError, SubscribeError, ValidationError
from lockcloud.crypto import pulsar_password
from lockcloud.events import (
    EnrollmentProgress,
    EventStream,
    MemoryDeadLetters,
    SourceClosed,
    WebSocketOptions,
    WebSocketSource,
)
from lockcloud.sim import SimServer

from support import ACCESS_SECRET as SECRET
from support import project_access_id

ACCESS_ID = project_access_id("wslimits")


async def _http_server(answer: bytes, requests: list[bytes]) -> asyncio.Server:
    """A loopback HTTP server that records each request head and answers ``answer``."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            requests.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(serve, "127.0.0.1", 0)


def _port(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port


async def test_a_redirect_elsewhere_never_gets_the_password() -> None:
    """websockets follows redirects and strips only the standard credential headers, not Pulsar's ``password``."""
    elsewhere: list[bytes] = []
    other = await _http_server(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n", elsewhere)
    seen: list[bytes] = []
    redirect = (
        f"HTTP/1.1 302 Found\r\nlocation: ws://127.0.0.1:{_port(other)}/elsewhere\r\n"
        "content-length: 0\r\n\r\n"
    ).encode()
    endpoint = await _http_server(redirect, seen)
    source = WebSocketSource(
        WebSocketOptions(
            url=f"ws://localhost:{_port(endpoint)}/",
            access_id=ACCESS_ID,
            access_secret=SECRET,
            connect_timeout=5.0,
        )
    )
    try:
        with pytest.raises(SubscribeError, match="302") as raised:
            await source.open()
    finally:
        await source.close(1.0)
        endpoint.close()
        other.close()
    password = pulsar_password(ACCESS_ID, SECRET).encode()
    assert len(seen) == 1
    assert password in seen[0]  # the push endpoint itself gets it, as it must
    assert elsewhere == []
    assert password.decode() not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    ["wss://alice:hunter2-secret@mqe.tuyaus.com:8285/", "https://alice:hunter2-secret@mqe.tuyaus.com:8285/"],
)
def test_credentials_in_the_url_are_refused_without_repeating_them(url: str) -> None:
    # websockets would send them as HTTP Basic credentials, and the URL goes into reprs, logs and errors.
    with pytest.raises(ValidationError) as raised:
        WebSocketOptions(url=url, access_id=ACCESS_ID, access_secret=SECRET)
    assert "hunter2-secret" not in str(raised.value)
    assert "alice" not in str(raised.value)


@pytest.mark.broker
async def test_a_closed_source_hands_over_nothing_and_the_server_sends_it_again(
    ws_source: Callable[..., WebSocketSource], publish: Callable[..., Awaitable[None]]
) -> None:
    source = ws_source(initial_position="earliest")
    await source.open()
    await publish(1)
    async with asyncio.timeout(30):
        while not source._ready:  # noqa: ASYNC110 - the frame is in, not yet taken: the case under test
            await asyncio.sleep(0.01)
    await source.close(1.0)
    # "SourceClosed once closed": a message handed over now would never be acknowledged by a closing stream.
    with pytest.raises(SourceClosed):
        await source.receive()
    again = ws_source(initial_position="earliest")
    await again.open()
    try:
        async with asyncio.timeout(30):
            (message,) = await again.receive()
        assert message.defect is None
    finally:
        await again.close(1.0)


@pytest.mark.broker
async def test_a_frame_nested_too_deep_to_read_is_dead_lettered_without_reconnecting(
    sim_server: SimServer, ws_stream: Callable[..., EventStream], publish: Callable[..., Awaitable[None]]
) -> None:
    assert sim_server.websockets is not None
    deep = "[" * 100_000
    async with ws_stream(dead_letters=MemoryDeadLetters()) as stream:
        await publish(1)
        async with asyncio.timeout(30):
            await anext(stream)
        assert await sim_server.websockets.send_raw(deep) == 1
        await publish(2)
        async with asyncio.timeout(30):
            event = await anext(stream)
        assert isinstance(event, EnrollmentProgress)
        assert event.period == 2
        # Kept as a dead letter, not lost with a connection dropped over it.
        assert stream.stats.dead_letters == 1
        assert stream.stats.resubscriptions == 0
    sink = stream.dead_letters
    assert isinstance(sink, MemoryDeadLetters)
    assert [letter.payload for letter in sink.letters] == [deep.encode()]


@pytest.mark.broker
async def test_a_frame_over_max_frame_size_says_which_option_to_raise(
    sim_server: SimServer, ws_source: Callable[..., WebSocketSource]
) -> None:
    # websockets cannot read such a frame, so it cannot be dead-lettered: the error must name the fix.
    assert sim_server.websockets is not None
    source = ws_source(max_frame_size=1000)
    await source.open()
    try:
        assert await sim_server.websockets.send_raw("x" * 5000) == 1
        with pytest.raises(EventStreamError, match=r"larger than max_frame_size=1000 bytes"):
            async with asyncio.timeout(30):
                await source.receive()
    finally:
        await source.close(1.0)


def test_the_default_frame_limit_holds_the_largest_message_a_broker_accepts() -> None:
    # Pulsar's default maxMessageSize is 5 MB; over WebSocket the payload travels base64-encoded inside JSON.
    largest_payload = 5 * 1024 * 1024
    frame_overhead = 4096  # messageId, properties, publishTime and the JSON around them
    options = WebSocketOptions(url="ws://127.0.0.1:1/", access_id="id", access_secret="secret")
    assert options.max_frame_size >= (largest_payload + 2) // 3 * 4 + frame_overhead

"""The push stream over WebSocket against the simulator's endpoint, bridged to a real pulsar-lite broker."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from lockcloud import EventStreamError, StreamAuthenticationError, StreamSubscriptionError
from lockcloud.crypto import pulsar_password
from lockcloud.events import EnrollmentProgress, Event, EventStream
from lockcloud.events._websocket import WebSocketSource
from lockcloud.sim import SimServer

pytestmark = pytest.mark.broker

WAIT = 30.0


def ws_stream(server: SimServer, **options: object) -> EventStream:
    assert server.websocket_url is not None
    options.setdefault("resubscribe_delay", 0.05)
    return EventStream(
        server.access_id,
        server.access_secret,
        url=server.websocket_url,
        transport="websocket",
        **options,  # type: ignore[arg-type]
    )


def ws_source(server: SimServer, **options: object) -> WebSocketSource:
    assert server.websocket_url is not None
    options.setdefault("subscription", f"{server.access_id}-sub")
    options.setdefault("username", server.access_id)
    options.setdefault("password", pulsar_password(server.access_id, server.access_secret))
    options.setdefault("reconnect_delay", 0.05)
    return WebSocketSource(url=server.websocket_url, topic=f"{server.access_id}/out/event", **options)  # type: ignore[arg-type]


async def take(stream: EventStream, count: int) -> list[Event]:
    events: list[Event] = []
    async with asyncio.timeout(WAIT):
        async for event in stream:
            events.append(event)
            if len(events) == count:
                break
    return events


async def test_a_push_arrives_over_websocket_typed_and_acknowledged(sim_server: SimServer, publish) -> None:
    async with ws_stream(sim_server) as stream:
        await publish(3)
        [event] = await take(stream, 1)
        assert isinstance(event, EnrollmentProgress)
        assert event.device_id == "lock-1"
        assert event.period == 3
        assert event.message_id is not None
    assert stream.stats.acknowledged == 1
    # Acknowledged on the broker: a new consumer of the subscription gets nothing more.
    async with ws_stream(sim_server) as again:
        await publish(4)
        [event] = await take(again, 1)
        assert isinstance(event, EnrollmentProgress)
        assert event.period == 4


async def test_the_same_messages_reach_a_native_and_a_websocket_consumer(
    sim_server: SimServer, publish
) -> None:
    assert sim_server.pulsar_url is not None
    native = EventStream(
        sim_server.access_id,
        sim_server.access_secret,
        url=sim_server.pulsar_url,
        subscription="native-sub",
        pulsar_log_level="error",
    )
    async with native, ws_stream(sim_server, subscription="ws-sub") as over_websocket:
        for index in range(5):
            await publish(index)
        seen_native = await take(native, 5)
        seen_ws = await take(over_websocket, 5)
    assert [e.period for e in seen_native] == [e.period for e in seen_ws] == [0, 1, 2, 3, 4]  # type: ignore[attr-defined]


async def test_a_wrong_password_is_a_typed_error_within_the_connect_timeout_and_not_retried(
    sim_server: SimServer,
) -> None:
    assert sim_server.websockets is not None
    stream = EventStream(
        sim_server.access_id,
        "0123456789abcdefWRONGWRONGWRONG0",
        url=sim_server.websocket_url or "",
        transport="websocket",
        connect_timeout=10,
    )
    started = time.monotonic()
    with pytest.raises(StreamAuthenticationError, match="401") as caught:
        await stream.open()
    assert time.monotonic() - started < 10
    assert "message service" in str(caught.value)
    await asyncio.sleep(0.3)
    assert sim_server.websockets.refused == 1
    assert not stream.is_open


async def test_a_project_without_the_message_service_gets_the_same_typed_error(sim_server: SimServer) -> None:
    assert sim_server.websockets is not None
    sim_server.websockets.enabled = False
    with pytest.raises(StreamAuthenticationError):
        await ws_stream(sim_server).open()


async def test_another_projects_topic_is_a_subscription_error(sim_server: SimServer) -> None:
    source = ws_source(sim_server)
    source.endpoint = source.endpoint.replace(f"/{sim_server.access_id}/out/", "/someoneelse/out/", 1)
    with pytest.raises(StreamSubscriptionError, match="403"):
        await source.open()


async def test_an_exclusive_subscription_in_use_is_a_subscription_error(sim_server: SimServer) -> None:
    first = ws_source(sim_server, subscription="exclusive-sub", subscription_type="exclusive")
    await first.open()
    try:
        second = ws_source(sim_server, subscription="exclusive-sub", subscription_type="exclusive")
        with pytest.raises(StreamSubscriptionError, match="409"):
            await second.open()
    finally:
        await first.close(5)


async def test_poison_frames_are_dead_lettered_kept_and_the_stream_goes_on(
    sim_server: SimServer, publish
) -> None:
    assert sim_server.websockets is not None
    async with ws_stream(sim_server) as stream:
        await publish(1)
        await take(stream, 1)
        poison = ["not json at all", '{"payload": "eA=="}', '{"messageId": "bm90LWFuLWlk", "payload": "%%%"}']
        for frame in poison:
            assert await sim_server.websockets.send_raw(frame) == 1
        await publish(2)
        [event] = await take(stream, 1)
        assert isinstance(event, EnrollmentProgress)
        assert event.period == 2
    letters = list(stream.dead_letters)  # type: ignore[call-overload]
    assert [letter.payload for letter in letters] == [frame.encode() for frame in poison]
    assert [letter.message_id for letter in letters] == [None, None, "bm90LWFuLWlk"]
    assert "not JSON" in letters[0].reason
    assert "messageId" in letters[1].reason
    assert "base64" in letters[2].reason
    assert stream.stats.dead_letters == 3


async def test_an_unacknowledged_message_is_sent_again_after_the_ack_timeout(
    sim_server: SimServer, publish
) -> None:
    source = ws_source(sim_server, ack_timeout=0.3)
    await source.open()
    try:
        await publish(1)
        async with asyncio.timeout(WAIT):
            first = await source.receive()
            again = await source.receive()
        assert again.message_id == first.message_id
        source.acknowledge(again.handle)
        await publish(2)
        async with asyncio.timeout(WAIT):
            nxt = await source.receive()
        assert nxt.message_id != first.message_id
    finally:
        await source.close(5)


async def test_an_unacknowledged_message_comes_back_on_reconnection(sim_server: SimServer, publish) -> None:
    first_source = ws_source(sim_server, ack_timeout=0)
    await first_source.open()
    await publish(1)
    async with asyncio.timeout(WAIT):
        first = await first_source.receive()
    await first_source.close(5)
    second_source = ws_source(sim_server, ack_timeout=0)
    await second_source.open()
    try:
        async with asyncio.timeout(WAIT):
            again = await second_source.receive()
        assert again.message_id == first.message_id
        assert again.payload == first.payload
    finally:
        await second_source.close(5)


async def test_a_dropped_connection_is_reconnected_and_nothing_is_lost(
    sim_server: SimServer, publish
) -> None:
    assert sim_server.websockets is not None
    async with ws_stream(sim_server) as stream:
        await publish(0)
        await take(stream, 1)
        assert await sim_server.websockets.drop_connections() == 1
        for index in range(1, 4):
            await publish(index)
        events = await take(stream, 3)
        assert sorted({e.period for e in events}) == [1, 2, 3]  # type: ignore[attr-defined]
        assert stream._source is not None
        assert stream._source.reconnections >= 1  # type: ignore[union-attr]


async def test_closing_the_stream_closes_its_consumer_on_the_server(sim_server: SimServer) -> None:
    assert sim_server.websockets is not None
    async with ws_stream(sim_server):
        assert sim_server.websockets.open_consumers == 1
    async with asyncio.timeout(WAIT):
        while sim_server.websockets.open_consumers:  # noqa: ASYNC110 - the server side has no event to wait on
            await asyncio.sleep(0.01)


async def test_a_silent_server_is_detected_by_ping_and_the_stream_reconnects(
    sim_server: SimServer, publish
) -> None:
    """A TCP relay in front of the simulator stops relaying (a dead NAT entry): the pong never comes back."""
    assert sim_server.websocket_url is not None
    target_port = int(sim_server.websocket_url.rsplit(":", 1)[1].strip("/"))
    frozen = asyncio.Event()
    relays: list[asyncio.Task[None]] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if frozen.is_set():
                    continue  # swallowed: the peer hears nothing
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if frozen.is_set():
            frozen.clear()  # a new connection: the "network" works again
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        relays.append(asyncio.create_task(pipe(client_reader, server_writer)))
        relays.append(asyncio.create_task(pipe(server_reader, client_writer)))

    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    try:
        stream = EventStream(
            sim_server.access_id,
            sim_server.access_secret,
            url=f"ws://127.0.0.1:{port}/",
            transport="websocket",
            ping_interval=0.2,
            ping_timeout=0.5,
            resubscribe_delay=0.05,
        )
        async with stream:
            await publish(0)
            await take(stream, 1)
            frozen.set()
            async with asyncio.timeout(WAIT):
                while stream._source.reconnections == 0:  # type: ignore[union-attr]  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            await publish(1)
            [event] = await take(stream, 1)
            assert event.period == 1  # type: ignore[attr-defined]
    finally:
        proxy.close()
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)


def _self_signed(cert: Path, key: Path) -> None:
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip


async def test_tls_is_verified_by_default(tmp_path: Path) -> None:
    """A wss:// server with a self-signed certificate is refused unless its CA is given."""
    from websockets.asyncio.server import serve

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    await asyncio.to_thread(_self_signed, cert, key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def handler(connection) -> None:  # type: ignore[no-untyped-def]
        await connection.wait_closed()

    async with serve(handler, "127.0.0.1", 0, ssl=context) as server:
        port = server.sockets[0].getsockname()[1]
        options = {
            "url": f"wss://127.0.0.1:{port}/",
            "topic": "projectid0000001/out/event",
            "subscription": "s",
            "username": "projectid0000001",
            "password": "p" * 16,
            "connect_timeout": 10,
        }
        with pytest.raises(EventStreamError, match=r"(?i)certificate verify failed"):
            await WebSocketSource(**options).open()  # type: ignore[arg-type]
        trusted = WebSocketSource(**options, verify=str(cert))  # type: ignore[arg-type]
        await trusted.open()
        await trusted.close(5)


async def test_a_slow_body_is_acknowledged_after_it_and_resends_meanwhile_are_not_handed_out(
    sim_server: SimServer, publish
) -> None:
    async with ws_stream(sim_server, ack_timeout=0.2) as stream:
        await publish(1)
        seen: list[int] = []
        async with asyncio.timeout(WAIT):
            async for event in stream:
                seen.append(event.period)  # type: ignore[attr-defined]
                if len(seen) == 1:
                    while stream.stats.duplicates < 2:  # noqa: ASYNC110 - the server resends every 0.2 s
                        await asyncio.sleep(0.05)
                    assert stream.stats.acknowledged == 0  # the body has not finished
                    await publish(2)
                else:
                    break
    assert seen == [1, 2]
    # Each message once its body was done (the second when the stream closed), and every resend with it.
    assert stream.stats.acknowledged == 2 + stream.stats.duplicates


async def test_redeliver_asks_the_server_to_send_the_message_again_at_once(
    sim_server: SimServer, publish
) -> None:
    source = ws_source(sim_server, ack_timeout=0)
    await source.open()
    try:
        assert sim_server.access_id in source.description
        assert "password" not in source.description
        await publish(1)
        async with asyncio.timeout(WAIT):
            first = await source.receive()
            source.redeliver(first.handle)
            again = await source.receive()
        assert again.message_id == first.message_id
        assert again.payload == first.payload
        source.acknowledge(again.handle)
    finally:
        await source.close(5)

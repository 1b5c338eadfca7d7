"""The push stream over WebSocket against the simulator's endpoint, bridged to a real pulsar-lite broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from lockcloud import StreamAuthenticationError, StreamSubscriptionError, SubscribeError
from lockcloud.events import (
    EnrollmentProgress,
    Event,
    EventStream,
    MemoryDeadLetters,
    SourceMessage,
    WebSocketOptions,
    WebSocketSource,
)
from lockcloud.events._options import pulsar_stream, websocket_stream
from lockcloud.sim import SimServer
from lockcloud.sim._websocket import WebSocketConsumers
from lockcloud.testing import PushBuilder, PushPublisher

pytestmark = pytest.mark.broker

WAIT = 30.0

Publish = Callable[..., Awaitable[None]]
MakeStream = Callable[..., EventStream]
MakeSource = Callable[..., WebSocketSource]


@pytest.fixture
def bridge(sim_server: SimServer) -> WebSocketConsumers:
    """The simulator's WebSocket endpoint: what it refused and acknowledged, and the faults it can stage."""
    assert sim_server.websockets is not None
    return sim_server.websockets


async def take(stream: EventStream, count: int) -> list[Event]:
    events: list[Event] = []
    async with asyncio.timeout(WAIT):
        async for event in stream:
            events.append(event)
            if len(events) == count:
                break
    return events


@contextlib.asynccontextmanager
async def delivering(ws_stream: MakeStream, publish: Publish) -> AsyncIterator[EventStream]:
    """A WebSocket stream that has taken one push (period 0): subscribed, connected and delivering."""
    async with ws_stream() as stream:
        await publish(0)
        await take(stream, 1)
        yield stream


async def one(source: WebSocketSource) -> SourceMessage:
    async with asyncio.timeout(WAIT):
        [message] = await source.receive()
    return message


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - counters of the server or stream, nothing to wait on
            await asyncio.sleep(0.01)


async def test_a_push_arrives_over_websocket_typed_and_acknowledged(
    sim_server: SimServer, ws_stream: MakeStream, tmp_path: Path
) -> None:
    # On the unpartitioned test channel: pulsar-lite 0.2.0 forgets the acknowledgements of a partitioned topic
    # (the simulator's production topic) once their consumer is gone, and this checks that the broker kept one.
    assert sim_server.pulsar_url is not None
    async with PushPublisher(
        sim_server.pulsar_url,
        sim_server.access_id,
        sim_server.access_secret,
        env="event-test",
        log_file=str(tmp_path / "test-channel.log"),
        build=PushBuilder.for_simulator(sim_server.simulator),
    ) as publisher:

        async def publish(period: int) -> None:
            await publisher.publish(publisher.build.enrollment("lock-1", period))

        async with ws_stream(env="event-test") as stream:
            await publish(3)
            [event] = await take(stream, 1)
            assert isinstance(event, EnrollmentProgress)
            assert event.device_id == "lock-1"
            assert event.period == 3
            assert event.message_id is not None
            assert event.published_at is not None
        assert stream.stats.acknowledged == 1
        # Acknowledged on the broker: the next consumer of the subscription gets only what came after.
        async with ws_stream(env="event-test") as again:
            await publish(4)
            [event] = await take(again, 1)
            assert isinstance(event, EnrollmentProgress)
            assert event.period == 4


async def test_the_same_messages_reach_a_native_and_a_websocket_consumer(
    sim_server: SimServer, ws_stream: MakeStream, publish: Publish
) -> None:
    assert sim_server.pulsar_url is not None
    native = pulsar_stream(
        sim_server.access_id,
        sim_server.access_secret,
        {"url": sim_server.pulsar_url, "subscription": "native-sub", "pulsar_log_level": "error"},
    )
    async with native, ws_stream(subscription="ws-sub") as over_websocket:
        for index in range(5):
            await publish(index)
        seen_native = await take(native, 5)
        seen_ws = await take(over_websocket, 5)
    periods = [
        [e.period for e in seen if isinstance(e, EnrollmentProgress)] for seen in (seen_native, seen_ws)
    ]
    assert periods == [[0, 1, 2, 3, 4]] * 2


async def test_a_wrong_password_is_a_typed_error_within_the_connect_timeout_and_not_retried(
    sim_server: SimServer,
    bridge: WebSocketConsumers,
) -> None:
    assert sim_server.websocket_url is not None
    stream = websocket_stream(
        sim_server.access_id,
        "0123456789abcdefWRONGWRONGWRONG0",
        {"url": sim_server.websocket_url, "connect_timeout": 10},
    )
    started = time.monotonic()
    with pytest.raises(StreamAuthenticationError, match="401") as caught:
        await stream.open()
    assert time.monotonic() - started < 10
    assert caught.value.reason == "auth"
    assert "message service" in caught.value.fix
    assert "0123456789abcdefWRONG" not in str(caught.value)
    await asyncio.sleep(0.5)
    assert bridge.refused == 1  # one attempt, no retry storm
    assert not stream.is_open


async def test_a_project_without_the_message_service_gets_the_same_typed_error(
    bridge: WebSocketConsumers, ws_stream: MakeStream
) -> None:
    bridge.enabled = False
    with pytest.raises(StreamAuthenticationError):
        await ws_stream().open()


async def test_another_projects_topic_is_a_subscription_error(
    sim_server: SimServer, ws_source: MakeSource
) -> None:
    source = ws_source()
    source.endpoint = source.endpoint.replace(f"/{sim_server.access_id}/out/", "/someoneelse/out/", 1)
    with pytest.raises(StreamSubscriptionError, match="403") as caught:
        await source.open()
    assert caught.value.reason == "refused"
    await source.close(1)


async def test_an_exclusive_subscription_in_use_is_a_subscription_error(ws_source: MakeSource) -> None:
    first = ws_source(subscription="exclusive-sub", subscription_type="exclusive")
    await first.open()
    try:
        second = ws_source(subscription="exclusive-sub", subscription_type="exclusive")
        with pytest.raises(StreamSubscriptionError, match="409") as caught:
            await second.open()
        assert caught.value.reason == "busy"
        await second.close(1)
    finally:
        await first.close(5)


async def test_poison_frames_are_dead_lettered_kept_and_the_stream_goes_on(
    bridge: WebSocketConsumers, ws_stream: MakeStream, publish: Publish
) -> None:
    async with delivering(ws_stream, publish) as stream:
        poison = [
            "not json at all",
            '{"payload": "eA=="}',
            "[1, 2, 3]",
            '{"messageId": "bm90LWFuLWlk", "payload": "%%%"}',
        ]
        for frame in poison:
            assert await bridge.send_raw(frame) == 1
        await publish(2)
        [event] = await take(stream, 1)
        assert isinstance(event, EnrollmentProgress)
        assert event.period == 2
        await until(lambda: stream.stats.dead_letters == len(poison))
    sink = stream.dead_letters
    assert isinstance(sink, MemoryDeadLetters)
    letters = list(sink.letters)
    assert [letter.payload for letter in letters] == [frame.encode() for frame in poison]
    assert [letter.message_id for letter in letters] == [None, None, None, "bm90LWFuLWlk"]
    assert "not JSON" in letters[0].reason
    assert "messageId" in letters[1].reason
    assert "base64" in letters[3].reason
    # What reached the server: acknowledgements of the two good messages and of the one poison frame that had an
    # id. The frames without one were dead-lettered, never acknowledged blind.
    await until(lambda: bridge.commands >= 3)
    await asyncio.sleep(0.2)
    assert bridge.commands == 3


async def test_an_unacknowledged_message_is_sent_again_after_the_ack_timeout(
    ws_source: MakeSource, publish: Publish
) -> None:
    source = ws_source(ack_timeout=0.3)
    await source.open()
    try:
        await publish(1)
        first = await one(source)
        again = await one(source)
        assert again.key == first.key
        assert again.payload == first.payload
        source.acknowledge(again)
        await publish(2)
        following = await one(source)
        assert following.key != first.key
        source.acknowledge(following)
        # Both acknowledged: nothing more comes within several ack timeouts.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await source.receive()
    finally:
        await source.close(5)


async def test_an_unacknowledged_message_comes_back_on_reconnection(
    ws_source: MakeSource, publish: Publish
) -> None:
    first_source = ws_source(ack_timeout=0)
    await first_source.open()
    await publish(1)
    first = await one(first_source)
    await first_source.close(5)
    second_source = ws_source(ack_timeout=0)
    await second_source.open()
    try:
        again = await one(second_source)
        assert again.key == first.key
        assert again.payload == first.payload
    finally:
        await second_source.close(5)


async def test_redeliver_asks_the_server_to_send_the_message_again_at_once(
    sim_server: SimServer, ws_source: MakeSource, publish: Publish
) -> None:
    source = ws_source(ack_timeout=0)
    await source.open()
    try:
        assert sim_server.access_id in source.description
        await publish(1)
        first = await one(source)
        source.redeliver(first)
        again = await one(source)
        assert again.key == first.key
        assert again.payload == first.payload
        source.acknowledge(again)
    finally:
        await source.close(5)


async def test_a_dropped_connection_is_reconnected_and_nothing_is_lost(
    bridge: WebSocketConsumers, ws_stream: MakeStream, publish: Publish
) -> None:
    async with delivering(ws_stream, publish) as stream:
        assert await bridge.drop_connections() == 1
        for index in range(1, 4):
            await publish(index)
        events = await take(stream, 3)
        assert sorted({e.period for e in events if isinstance(e, EnrollmentProgress)}) == [1, 2, 3]
        assert isinstance(stream.source, WebSocketSource)
        assert stream.source.reconnections >= 1
        assert stream.stats.resubscriptions >= 1


async def test_closing_the_stream_closes_its_consumer_on_the_server(
    bridge: WebSocketConsumers, ws_stream: MakeStream
) -> None:
    async with ws_stream():
        assert bridge.open_consumers == 1
    await until(lambda: bridge.open_consumers == 0)


async def test_a_slow_body_is_acknowledged_after_it_and_resends_meanwhile_are_not_handed_out(
    ws_stream: MakeStream, publish: Publish
) -> None:
    async with ws_stream(ack_timeout=0.2) as stream:
        await publish(1)
        seen: list[int] = []
        async with asyncio.timeout(WAIT):
            async for event in stream:
                assert isinstance(event, EnrollmentProgress)
                seen.append(event.period)
                if len(seen) == 1:
                    await until(lambda: stream.stats.duplicates >= 2)  # the server resends every 0.2 s
                    assert stream.stats.acknowledged == 0  # the body has not finished
                    await publish(2)
                else:
                    break
    assert seen == [1, 2]
    # Each message once its body was done (the second when the stream closed), and every resend with it.
    assert stream.stats.acknowledged == 2 + stream.stats.duplicates


async def test_a_silent_server_is_detected_by_ping_and_the_stream_reconnects(
    sim_server: SimServer, publish: Publish
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
        frozen.clear()  # a new connection: the "network" works again
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        relays.append(asyncio.create_task(pipe(client_reader, server_writer)))
        relays.append(asyncio.create_task(pipe(server_reader, client_writer)))

    proxy = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    try:
        stream = websocket_stream(
            sim_server.access_id,
            sim_server.access_secret,
            {
                "url": f"ws://127.0.0.1:{port}/",
                "ping_interval": 0.2,
                "ping_timeout": 0.5,
                "resubscribe_delay": 0.05,
            },
        )
        source = stream.source
        assert isinstance(source, WebSocketSource)
        async with stream:
            await publish(0)
            await take(stream, 1)
            frozen.set()
            await until(lambda: source.reconnections > 0)
            await publish(1)
            [event] = await take(stream, 1)
            assert isinstance(event, EnrollmentProgress)
            assert event.period == 1
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
    from websockets.asyncio.server import ServerConnection, serve

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    await asyncio.to_thread(_self_signed, cert, key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def handler(connection: ServerConnection) -> None:
        await connection.wait_closed()

    # This stand-in server logs the headers it receives at DEBUG, the password among them: keep it quiet (the
    # client's own log is redacted, see test_frames.py).
    quiet = logging.getLogger("tests.websocket.tls-server")
    quiet.setLevel(logging.WARNING)
    async with serve(handler, "127.0.0.1", 0, ssl=context, logger=quiet) as server:
        port = server.sockets[0].getsockname()[1]
        options: dict[str, Any] = {
            "url": f"wss://127.0.0.1:{port}/",
            "access_id": "projectid0000001",
            "access_secret": "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC",
            "connect_timeout": 10,
        }
        refused = WebSocketSource(WebSocketOptions(**options))
        with pytest.raises(SubscribeError, match=r"(?i)certificate") as caught:
            await refused.open()
        assert caught.value.reason == "tls"
        await refused.close(1)
        trusted = WebSocketSource(WebSocketOptions(**options, verify=str(cert)))
        await trusted.open()
        await trusted.close(5)


async def test_a_slow_reader_keeps_memory_bounded_and_loses_nothing(
    ws_stream: MakeStream, publish: Publish
) -> None:
    total, queue = 150, 10
    async with ws_stream(receiver_queue_size=queue, buffer_size=5) as stream:
        source = stream.source
        assert isinstance(source, WebSocketSource)
        for index in range(total):
            await publish(index)
        seen: list[int] = []
        most_waiting = 0
        async with asyncio.timeout(WAIT * 2):
            async for event in stream:
                assert isinstance(event, EnrollmentProgress)
                seen.append(event.period)
                most_waiting = max(most_waiting, len(source._ready))
                if len(seen) % 10 == 0:
                    await asyncio.sleep(0.02)  # a slow body: the backlog waits on the server, not here
                if len(set(seen)) == total:
                    break
    assert sorted(set(seen)) == list(range(total))
    assert 0 < most_waiting <= queue


async def test_credentials_refused_after_a_reconnect_back_off_instead_of_storming(
    bridge: WebSocketConsumers, ws_stream: MakeStream, publish: Publish
) -> None:
    async with ws_stream(resubscribe_delay=0.05, max_resubscribe_delay=0.4) as stream:
        bridge.enabled = False  # the project's message service is switched off meanwhile
        assert await bridge.drop_connections() == 1
        await asyncio.sleep(1.5)
        # Jittered exponential backoff from 0.05 s up to 0.4 s: a handful of attempts, not hundreds.
        assert 2 <= bridge.refused <= 10
        assert stream.is_open
        bridge.enabled = True
        await publish(7)
        [event] = await take(stream, 1)
        assert isinstance(event, EnrollmentProgress)
        assert event.period == 7


async def test_the_handshake_logged_at_debug_never_shows_the_password(
    sim_server: SimServer, ws_source: MakeSource, caplog: pytest.LogCaptureFixture
) -> None:
    from lockcloud.crypto import pulsar_password

    password = pulsar_password(sim_server.access_id, sim_server.access_secret)
    source = ws_source()
    with caplog.at_level(logging.DEBUG, logger="lockcloud.events.websocket"):
        await source.open()
        await source.close(5)
    lines = [record.getMessage() for record in caplog.records if record.name == "lockcloud.events.websocket"]
    assert "> password: <redacted>" in lines
    assert f"> username: {sim_server.access_id}" in lines
    assert not [line for line in lines if password in line]


async def test_the_testing_plugins_server_serves_the_websocket_api_too(
    lockcloud_server: SimServer, lockcloud_push: Any
) -> None:
    from lockcloud.events import StatusReport

    door = lockcloud_server.devices["front_door"]
    async with lockcloud_server.client() as cloud, cloud.events(transport="websocket") as stream:
        await lockcloud_push.publish(lockcloud_push.build.status(door, {"closed_opened": "open"}))
        async with asyncio.timeout(WAIT):
            event = await anext(stream)
    assert isinstance(event, StatusReport)
    assert event.device_id == door

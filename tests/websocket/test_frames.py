"""The WebSocket consumer's pieces without a server: endpoint URLs, frame parsing, log redaction, options."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from lockcloud import EventStreamError, LockCloud, Region, ValidationError
from lockcloud.events import EventStream
from lockcloud.events._websocket import WebSocketSource, consumer_url, parse_frame

TOPIC = "projectid0000001/out/event"


def test_consumer_url_is_pulsars_websocket_path_with_tuyas_query() -> None:
    url = consumer_url("wss://mqe.tuyaeu.com:8285/", TOPIC, "projectid0000001-sub", ack_timeout=3.0)
    assert url == (
        "wss://mqe.tuyaeu.com:8285/ws/v2/consumer/persistent/projectid0000001/out/event/projectid0000001-sub"
        "?ackTimeoutMillis=3000&subscriptionType=Failover&receiverQueueSize=100"
    )


def test_consumer_url_quotes_names_and_keeps_a_path_prefix() -> None:
    url = consumer_url(
        "ws://127.0.0.1:8080/proxy/",
        "a/out/event",
        "my sub/1",
        subscription_type="shared",
        consumer_name="me",
        receiver_queue_size=5,
    )
    assert url.startswith("ws://127.0.0.1:8080/proxy/ws/v2/consumer/persistent/a/out/event/my%20sub%2F1?")
    assert "subscriptionType=Shared" in url
    assert "receiverQueueSize=5" in url
    assert "consumerName=me" in url


@pytest.mark.parametrize(
    ("base", "topic", "subscription", "options"),
    [
        ("pulsar+ssl://mqe.tuyaeu.com:7285/", TOPIC, "s", {}),
        ("https://mqe.tuyaeu.com:8285/", TOPIC, "s", {}),
        ("wss:///nohost", TOPIC, "s", {}),
        ("wss://h:8285/?x=1", TOPIC, "s", {}),
        ("wss://h:8285/", "only/two", "s", {}),
        ("wss://h:8285/", "a//c", "s", {}),
        ("wss://h:8285/", TOPIC, "", {}),
        ("wss://h:8285/", TOPIC, "s", {"subscription_type": "fanout"}),
        ("wss://h:8285/", TOPIC, "s", {"ack_timeout": -1}),
        ("wss://h:8285/", TOPIC, "s", {"receiver_queue_size": 0}),
    ],
)
def test_bad_endpoint_input_is_a_validation_error(
    base: str, topic: str, subscription: str, options: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        consumer_url(base, topic, subscription, **options)  # type: ignore[arg-type]


def test_a_good_frame_becomes_a_received_message() -> None:
    frame = json.dumps(
        {
            "messageId": "CAEQAw==",
            "payload": base64.b64encode(b'{"data": "x"}').decode(),
            "properties": {"em": "aes_gcm", "n": 1},
            "publishTime": "2026-12-01T12:00:00.000Z",
        }
    )
    received, error = parse_frame(frame, TOPIC)
    assert error is None
    assert received.payload == b'{"data": "x"}'
    assert received.properties == {"em": "aes_gcm", "n": "1"}
    assert received.message_id == received.handle == "CAEQAw=="
    assert received.key == (TOPIC, "CAEQAw==")


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\xff\xfe not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"payload": "eA=="}', "no messageId"),
        ('{"messageId": 7, "payload": "eA=="}', "no messageId"),
        ('{"messageId": "", "payload": "eA=="}', "no messageId"),
    ],
)
def test_a_frame_that_cannot_be_acknowledged_has_no_handle_and_keeps_its_bytes(
    frame: str | bytes, reason: str
) -> None:
    received, error = parse_frame(frame, TOPIC)
    assert error is not None
    assert reason in error.reason
    assert received.handle is None
    raw = frame if isinstance(frame, bytes) else frame.encode()
    assert received.payload == raw == error.payload


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ('{"messageId": "CAEQAw=="}', "no payload"),
        ('{"messageId": "CAEQAw==", "payload": "%%% not base64"}', "not base64"),
    ],
)
def test_a_frame_with_an_id_but_no_usable_payload_is_rejected_but_acknowledgeable(
    frame: str, reason: str
) -> None:
    received, error = parse_frame(frame, TOPIC)
    assert error is not None
    assert reason in error.reason
    assert received.handle == "CAEQAw=="
    assert received.payload == frame.encode()


def test_identical_garbage_frames_share_a_dedupe_key_and_different_ones_do_not() -> None:
    first, _ = parse_frame("garbage", TOPIC)
    again, _ = parse_frame("garbage", TOPIC)
    other, _ = parse_frame("other garbage", TOPIC)
    assert first.key == again.key != other.key


def test_the_password_header_is_redacted_in_websockets_debug_lines(caplog: pytest.LogCaptureFixture) -> None:
    wire = logging.getLogger("lockcloud.events.websocket")
    with caplog.at_level(logging.DEBUG, logger="lockcloud.events.websocket"):
        wire.debug("> %s: %s", "password", "7e3ee9916b8f32b8")
        wire.debug("> %s: %s", "username", "projectid0000001")
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["> password: <redacted>", "> username: projectid0000001"]


def test_regions_have_websocket_urls_on_port_8285() -> None:
    for region in Region:
        assert region.websocket_url.startswith("wss://mqe.")
        assert region.websocket_url.endswith(":8285/")
        host = region.pulsar_url.split("://")[1].split(":")[0]
        assert host in region.websocket_url
    assert Region.EU.websocket_url == "wss://mqe.tuyaeu.com:8285/"


def test_cloud_events_websocket_defaults_to_the_regions_websocket_url() -> None:
    cloud = LockCloud("projectid0000001", "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC", region=Region.US)
    stream = cloud.events(transport="websocket")
    assert stream.url == "wss://mqe.tuyaus.com:8285/"
    assert stream.transport == "websocket"


@pytest.mark.parametrize(
    "options",
    [
        {"transport": "mqtt"},
        {"transport": "websocket", "ping_interval": 0},
        {"transport": "websocket", "connect_timeout": 0},
    ],
)
async def test_bad_stream_options_are_rejected_before_connecting(options: dict[str, object]) -> None:
    async def open_stream() -> None:
        stream = EventStream(
            "projectid0000001", "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC", url="ws://127.0.0.1:9/", **options
        )  # type: ignore[arg-type]
        await stream.open()

    with pytest.raises(ValidationError):
        await open_stream()


async def test_nothing_listening_is_an_event_stream_error_at_open() -> None:
    source = WebSocketSource(
        url="ws://127.0.0.1:9/",
        topic=TOPIC,
        subscription="s",
        username="projectid0000001",
        password="p" * 16,
        connect_timeout=5,
    )
    with pytest.raises(EventStreamError, match="cannot open a WebSocket consumer"):
        await source.open()


def test_an_earliest_subscription_asks_for_it_and_latest_sends_tuyas_url_unchanged() -> None:
    earliest = consumer_url("wss://h:8285/", TOPIC, "s", initial_position="earliest")
    assert earliest.endswith("&subscriptionInitialPosition=Earliest")
    assert "subscriptionInitialPosition" not in consumer_url("wss://h:8285/", TOPIC, "s")


def test_the_native_transport_without_pulsar_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *args: None if name == "pulsar" else find_spec(name, *args)
    )
    with pytest.raises(EventStreamError, match=r"lockcloud\[pulsar\]"):
        EventStream("projectid0000001", "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC", url="pulsar://127.0.0.1:9")
    websocket = EventStream(
        "projectid0000001", "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC", url="ws://127.0.0.1:9/", transport="websocket"
    )
    assert websocket.transport == "websocket"

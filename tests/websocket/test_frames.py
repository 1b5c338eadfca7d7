"""The WebSocket source's pieces without a server: endpoint URLs, frame parsing, log redaction, options."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from lockcloud import EventStreamError, LockCloud, Region, SubscribeError, ValidationError
from lockcloud.events import WebSocketOptions, WebSocketSource
from lockcloud.events._websocket import consumer_url, native_message_id, parse_frame

from support import ACCESS_SECRET as SECRET

TOPIC = "projectid0000001/out/event"
# This project id is spelled out in the URLs and log lines the tests below expect, so it stays literal here.
ACCESS_ID = "projectid0000001"


def test_consumer_url_is_pulsars_websocket_path_with_tuyas_query() -> None:
    url = consumer_url("wss://mqe.tuyaeu.com:8285/", TOPIC, "projectid0000001-sub", ack_timeout=3.0)
    assert url == (
        "wss://mqe.tuyaeu.com:8285/ws/v2/consumer/persistent/projectid0000001/out/event/projectid0000001-sub"
        "?ackTimeoutMillis=3000&subscriptionType=Failover"
    )  # what Tuya's own SDK opens


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
        ("wss://h:8285/", TOPIC, "s", {"initial_position": "middle"}),
    ],
)
def test_bad_endpoint_input_is_a_validation_error(
    base: str, topic: str, subscription: str, options: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        consumer_url(base, topic, subscription, **options)


def test_an_earliest_subscription_asks_for_it_and_latest_sends_tuyas_url_unchanged() -> None:
    earliest = consumer_url("wss://h:8285/", TOPIC, "s", initial_position="earliest")
    assert earliest.endswith("&subscriptionInitialPosition=Earliest")
    assert "subscriptionInitialPosition" not in consumer_url("wss://h:8285/", TOPIC, "s")


def test_a_good_frame_becomes_a_source_message() -> None:
    frame = json.dumps(
        {
            "messageId": "CAEQAw==",
            "payload": base64.b64encode(b'{"data": "x"}').decode(),
            "properties": {"em": "aes_gcm", "n": 1},
            "publishTime": "2026-12-01T12:00:00.000Z",
        }
    )
    message = parse_frame(frame, TOPIC)
    assert message.defect is None
    assert message.payload == b'{"data": "x"}'
    assert message.properties == {"em": "aes_gcm", "n": "1"}
    # Acknowledged with the id as sent; keyed as pulsar-client keys the same message (ledger 1, entry 3).
    assert message.handle == "CAEQAw=="
    assert message.message_id == "(1,3,-1,-1)"
    assert message.key == (f"persistent://{TOPIC}", "(1,3,-1,-1)")
    assert message.topic == f"persistent://{TOPIC}"
    assert message.partition is None
    assert message.published_at == 1_796_126_400.0


def test_a_message_is_keyed_as_pulsar_client_keys_it_partition_included() -> None:
    pulsar = pytest.importorskip("pulsar")
    cases = [
        pulsar.MessageId(partition=3, ledger_id=12345, entry_id=67, batch_index=-1),
        pulsar.MessageId(partition=-1, ledger_id=9, entry_id=0, batch_index=2),
        pulsar.MessageId(partition=10, ledger_id=2**40, entry_id=2**33, batch_index=5),
    ]
    for native in cases:
        encoded = base64.b64encode(native.serialize()).decode()
        message = parse_frame(json.dumps({"messageId": encoded, "payload": "eA=="}), TOPIC)
        assert message.message_id == str(native)
        assert message.handle == encoded
        partition = native.partition()
        expected_topic = f"persistent://{TOPIC}" + (f"-partition-{partition}" if partition >= 0 else "")
        assert message.key == (expected_topic, str(native))
        assert message.partition == (partition if partition >= 0 else None)


@pytest.mark.parametrize("encoded", ["bm90LWFuLWlk", "CAE=", "CAEQ", "////", "CAEQAxgDKf8="])
def test_a_message_id_that_is_not_pulsars_keys_as_sent(encoded: str) -> None:
    assert native_message_id(encoded) is None
    message = parse_frame(json.dumps({"messageId": encoded, "payload": "eA=="}), TOPIC)
    assert message.message_id == message.handle == encoded
    assert message.key == (TOPIC, encoded)


def test_an_unreadable_publish_time_is_none_not_a_failure() -> None:
    frame = json.dumps({"messageId": "CAEQAw==", "payload": "eA==", "publishTime": "yesterday"})
    message = parse_frame(frame, TOPIC)
    assert message.defect is None
    assert message.published_at is None


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
    message = parse_frame(frame, TOPIC)
    assert message.defect is not None
    assert reason in message.defect
    assert message.handle is None
    assert message.message_id is None
    raw = frame if isinstance(frame, bytes) else frame.encode()
    assert message.payload == raw


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        ('{"messageId": "CAEQAw=="}', "no payload"),
        ('{"messageId": "CAEQAw==", "payload": "%%% not base64"}', "not base64"),
    ],
)
def test_a_frame_with_an_id_but_no_usable_payload_is_a_defect_that_can_be_acknowledged(
    frame: str, reason: str
) -> None:
    message = parse_frame(frame, TOPIC)
    assert message.defect is not None
    assert reason in message.defect
    assert message.handle == "CAEQAw=="
    assert message.key == (f"persistent://{TOPIC}", "(1,3,-1,-1)")
    assert message.payload == frame.encode()


def test_identical_garbage_frames_share_a_dedupe_key_and_different_ones_do_not() -> None:
    first = parse_frame("garbage", TOPIC)
    again = parse_frame("garbage", TOPIC)
    other = parse_frame("other garbage", TOPIC)
    assert first.key == again.key != other.key
    # Never confused with a real message id.
    assert first.key != (TOPIC, "garbage")


def test_the_password_header_is_redacted_in_websockets_debug_lines(caplog: pytest.LogCaptureFixture) -> None:
    wire = logging.getLogger("lockcloud.events.websocket")
    with caplog.at_level(logging.DEBUG, logger="lockcloud.events.websocket"):
        wire.debug("> %s: %s", "password", "7e3ee9916b8f32b8")
        wire.debug("> %s: %s", "Password", "7e3ee9916b8f32b8")
        wire.debug("> %s: %s", "username", "projectid0000001")
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["> password: <redacted>", "> Password: <redacted>", "> username: projectid0000001"]


def test_regions_have_websocket_urls_on_port_8285() -> None:
    for region in Region:
        assert region.websocket_url.startswith("wss://mqe.")
        assert region.websocket_url.endswith(":8285/")
        host = region.pulsar_url.split("://")[1].split(":")[0]
        assert host in region.websocket_url
    assert Region.EU.websocket_url == "wss://mqe.tuyaeu.com:8285/"


def test_cloud_events_websocket_defaults_to_the_regions_websocket_url() -> None:
    cloud = LockCloud(ACCESS_ID, SECRET, region=Region.US)
    stream = cloud.events(transport="websocket")
    assert isinstance(stream.source, WebSocketSource)
    assert stream.source.url == "wss://mqe.tuyaus.com:8285/"
    assert stream.source.endpoint.startswith(
        "wss://mqe.tuyaus.com:8285/ws/v2/consumer/persistent/projectid0000001/out/event/projectid0000001-sub?"
    )
    assert SECRET not in repr(stream.source) + stream.source.description + stream.source.endpoint


def test_from_env_reads_the_websocket_url() -> None:
    cloud = LockCloud.from_env(
        {
            "LOCKCLOUD_ACCESS_ID": ACCESS_ID,
            "LOCKCLOUD_ACCESS_SECRET": SECRET,
            "LOCKCLOUD_WEBSOCKET_URL": "ws://127.0.0.1:9/",
        }
    )
    assert cloud.websocket_url == "ws://127.0.0.1:9/"
    stream = cloud.events(transport="websocket", receiver_queue_size=10, ack_timeout=0.5)
    assert isinstance(stream.source, WebSocketSource)
    assert "receiverQueueSize=10" in stream.source.endpoint
    assert "ackTimeoutMillis=500" in stream.source.endpoint


@pytest.mark.parametrize(
    "options",
    [
        {"transport": "mqtt"},
        {"transport": "websocket", "ping_interval": 0},
        {"transport": "websocket", "connect_timeout": 0},
        {"transport": "websocket", "url": "pulsar://127.0.0.1:6650"},
        {"transport": "websocket", "receive_window": 10},
        {"transport": "websocket", "operation_timeout": 10},
        {"transport": "pulsar", "ack_timeout": 1.0},
        {"ping_timeout": 1.0},
    ],
)
def test_bad_stream_options_are_refused_before_connecting(options: dict[str, Any]) -> None:
    cloud = LockCloud(ACCESS_ID, SECRET, websocket_url="ws://127.0.0.1:9/")
    with pytest.raises(ValidationError):
        cloud.events(**options)


def test_the_pulsar_client_log_options_are_ignored_over_websocket() -> None:
    cloud = LockCloud(ACCESS_ID, SECRET, websocket_url="ws://127.0.0.1:9/")
    stream = cloud.events(transport="websocket", pulsar_log_level="error", pulsar_log_file="/tmp/x.log")
    assert isinstance(stream.source, WebSocketSource)


async def test_nothing_listening_is_a_subscribe_error_at_open() -> None:
    source = WebSocketSource(
        WebSocketOptions(
            url="ws://127.0.0.1:9/", access_id=ACCESS_ID, access_secret=SECRET, connect_timeout=5
        )
    )
    with pytest.raises(SubscribeError, match="refused") as caught:
        await source.open()
    assert caught.value.reason == "refused"
    assert "8285" in caught.value.fix
    await source.close(1)


def test_the_native_transport_without_pulsar_client_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    import lockcloud.events._pulsar as native

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(native, "_native", None)
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *args: None if name == "pulsar" else find_spec(name, *args)
    )
    cloud = LockCloud(ACCESS_ID, SECRET, websocket_url="ws://127.0.0.1:9/")
    with pytest.raises(EventStreamError, match=r"lockcloud\[pulsar\]") as caught:
        cloud.events()
    assert "transport='websocket'" in str(caught.value)
    assert isinstance(cloud.events(transport="websocket").source, WebSocketSource)

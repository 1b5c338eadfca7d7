"""The push options: one base for what both transports share, each option named once, every bad value refused in one
line naming it, and each keyword of ``LockCloud.events()`` reaching its field (or refused with the wrong transport).
"""

from __future__ import annotations

import math
import pathlib
import typing
from typing import Any

import attrs
import pytest

from lockcloud import LockCloud, ValidationError
from lockcloud.events import (
    EventsOptions,
    PulsarOptions,
    PulsarSettings,
    PulsarSource,
    SubscriptionOptions,
    SubscriptionSettings,
    WebSocketOptions,
    WebSocketSettings,
    WebSocketSource,
    _subscription,
    _websocket,
)

from support import ACCESS_ID
from support import ACCESS_SECRET as SECRET

URLS = {PulsarOptions: "pulsar+ssl://mqe.tuyaeu.com:7285/", WebSocketOptions: "wss://mqe.tuyaeu.com:8285/"}
OPTION_CLASSES = [PulsarOptions, WebSocketOptions]
SHARED = (
    "url",
    "access_id",
    "access_secret",
    "env",
    "subscription",
    "subscription_type",
    "initial_position",
    "consumer_name",
    "receiver_queue_size",
    "verify",
    "connect_timeout",
)

NOT_A_COUNT = [math.nan, math.inf, -1, 0, True, False, "10", 1.5, 10.0, None, 2**31, -(10**30)]
NOT_A_DURATION = [math.nan, math.inf, -math.inf, -1, 0, True, "10", None]
# Timeouts handed to pulsar-client or the WebSocket pinger: more than a day is refused, not overflowed at open.
NOT_A_TIMEOUT = [*NOT_A_DURATION, 86_400.5, 1e300, 10**9]
# Each option, the values it refuses, and values it takes.
BAD: dict[str, list[object]] = {
    "url": ["", "http://mqe.tuyaeu.com:7285/", 5, None, "wss://alice:pw@mqe.tuyaeu.com/"],
    "access_id": ["", None, 5],
    "access_secret": ["", None, 5],
    "env": ["", "a/b", "..", 5, None],
    "subscription": [5, True, b"sub"],
    "subscription_type": ["fast", "Failover", True, None],
    "initial_position": ["middle", "Earliest", 1, None],
    "consumer_name": [5, False],
    "receiver_queue_size": NOT_A_COUNT,
    "verify": ["", 1, None, pathlib.Path("ca.pem")],
    "connect_timeout": NOT_A_TIMEOUT,
    "receive_window": NOT_A_COUNT,
    "operation_timeout": NOT_A_TIMEOUT,
    "log_level": ["loud", "WARN", 1, None],
    "log_file": [5, pathlib.Path("x.log")],
    "ack_timeout": [math.nan, math.inf, -1, -0.5, True, "3", None],
    "ping_interval": NOT_A_TIMEOUT,
    "ping_timeout": NOT_A_TIMEOUT,
    "max_frame_size": NOT_A_COUNT,
}
GOOD: dict[str, list[object]] = {
    "env": ["event", "event-test"],
    "subscription": [None, "other-sub"],
    "subscription_type": ["failover", "exclusive", "shared", "key_shared"],
    "initial_position": ["latest", "earliest"],
    "consumer_name": [None, "worker-1"],
    "receiver_queue_size": [1, 1000, 2**31 - 1],
    "verify": [True, False, "/etc/ssl/certs/ca-certificates.crt"],
    "connect_timeout": [0.001, 1, 10.0, 86_400],
    "receive_window": [1, 500],
    "operation_timeout": [0.5, 30],
    "log_level": ["debug", "info", "warn", "warning", "error"],
    "log_file": [None, "/tmp/pulsar.log"],
    "ack_timeout": [0, 0.5, 3],
    "ping_interval": [0.5, 20],
    "ping_timeout": [0.5, 20, 86_400],
    "max_frame_size": [1, 8 << 20],
}


def _make(options: type[SubscriptionOptions], **changes: Any) -> SubscriptionOptions:
    arguments: dict[str, Any] = {"url": URLS[options], "access_id": ACCESS_ID, "access_secret": SECRET}
    return options(**{**arguments, **changes})


def _fields(options: type[Any]) -> list[str]:
    return [field.name for field in attrs.fields(options)]


def _cases(values: dict[str, list[object]]) -> list[Any]:
    return [
        pytest.param(options, name, value, id=f"{options.__name__}-{name}-{value!r}")
        for options in OPTION_CLASSES
        for name, examples in values.items()
        if name in _fields(options)
        for value in examples
    ]


def test_the_shared_options_live_in_one_base_and_neither_source_redefines_them() -> None:
    assert tuple(_fields(SubscriptionOptions)) == SHARED
    for options in OPTION_CLASSES:
        fields = attrs.fields(options)
        assert issubclass(options, SubscriptionOptions)
        assert all(getattr(fields, name).inherited for name in SHARED), options
    own = {options: set(_fields(options)) - set(SHARED) for options in OPTION_CLASSES}
    assert own == {
        PulsarOptions: {"receive_window", "operation_timeout", "log_level", "log_file"},
        WebSocketOptions: {"ack_timeout", "ping_interval", "ping_timeout", "max_frame_size"},
    }


def test_the_subscription_literals_are_defined_once() -> None:
    assert _websocket.SubscriptionType is _subscription.SubscriptionType
    assert _websocket.InitialPosition is _subscription.InitialPosition
    assert _subscription.SUBSCRIPTION_TYPES == ("failover", "exclusive", "shared", "key_shared")
    assert _subscription.INITIAL_POSITIONS == ("latest", "earliest")


@pytest.mark.parametrize(
    ("settings", "options"),
    [
        (SubscriptionSettings, SubscriptionOptions),
        (PulsarSettings, PulsarOptions),
        (WebSocketSettings, WebSocketOptions),
    ],
)
def test_each_typed_keyword_is_an_option_of_the_same_type(settings: Any, options: type[Any]) -> None:
    """The keywords of ``LockCloud.events()`` and the options' fields cannot drift apart: same names, same types."""
    keyword_types = typing.get_type_hints(settings)
    field_types = {field.name: field.type for field in attrs.fields(attrs.resolve_types(options))}
    assert set(keyword_types) == set(_subscription.keywords(options))
    for keyword, field in _subscription.keywords(options).items():
        assert keyword_types[keyword] == field_types[field], keyword


def test_the_events_keywords_are_the_sources_and_the_streams() -> None:
    assert set(PulsarSettings.__annotations__) | set(WebSocketSettings.__annotations__) <= set(
        EventsOptions.__annotations__
    )


@pytest.mark.parametrize(("options", "name", "value"), _cases(BAD))
def test_a_bad_option_is_one_line_naming_it(
    options: type[SubscriptionOptions], name: str, value: object
) -> None:
    with pytest.raises(ValidationError) as raised:
        _make(options, **{name: value})
    message = str(raised.value)
    assert name in message
    assert "\n" not in message


@pytest.mark.parametrize(("options", "name", "value"), _cases(GOOD))
def test_a_good_option_is_kept_as_given(options: type[SubscriptionOptions], name: str, value: object) -> None:
    made = _make(options, **{name: value})
    assert getattr(made, name) == value
    assert type(getattr(made, name)) is type(value)


@pytest.mark.parametrize("value", [1.5, 10.0, "10", True])
def test_counts_are_whole_numbers_over_either_transport(value: object) -> None:
    # A float used to pass as a count (the check took it for seconds), and reach pulsar-client or the queue.
    for options in OPTION_CLASSES:
        with pytest.raises(ValidationError, match="receiver_queue_size must be a whole number"):
            _make(options, receiver_queue_size=value)


def test_the_base_alone_is_not_a_source_s_options() -> None:
    with pytest.raises(TypeError, match="PulsarOptions and WebSocketOptions"):
        SubscriptionOptions(url="pulsar://127.0.0.1:6650", access_id=ACCESS_ID, access_secret=SECRET)


# -- the flat keywords of LockCloud.events() ---------------------------------------------------------------------

KEYWORD_EXAMPLES: dict[str, object] = {
    "env": "event-test",
    "subscription": "other-sub",
    "subscription_type": "shared",
    "initial_position": "earliest",
    "consumer_name": "worker-1",
    "receiver_queue_size": 7,
    "verify": False,
    "connect_timeout": 2.5,
    "receive_window": 9,
    "operation_timeout": 4.0,
    "pulsar_log_level": "error",
    "pulsar_log_file": "/tmp/pulsar.log",
    "ack_timeout": 0.0,
    "ping_interval": 5.0,
    "ping_timeout": 6.0,
    "max_frame_size": 4096,
}


@pytest.mark.parametrize(
    ("transport", "options", "source"),
    [("pulsar", PulsarOptions, PulsarSource), ("websocket", WebSocketOptions, WebSocketSource)],
)
async def test_each_keyword_of_a_transport_sets_its_option(
    transport: str, options: type[SubscriptionOptions], source: type[Any]
) -> None:
    fields = _subscription.keywords(options)
    assert set(fields) - {"url"} <= set(KEYWORD_EXAMPLES)
    given = {name: value for name, value in KEYWORD_EXAMPLES.items() if name in fields}
    async with LockCloud(ACCESS_ID, SECRET, base_url="http://127.0.0.1:9") as cloud:
        stream = cloud.events(transport=transport, url=URLS[options], **given)  # type: ignore[arg-type]
    assert isinstance(stream.source, source)
    made = stream.source.options
    assert {name: getattr(made, fields[name]) for name in given} == given


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"transport": "pulsar", "ack_timeout": 1.0}, "ack_timeout is an option of transport='websocket'"),
        (
            {"transport": "pulsar", "max_frame_size": 10},
            "max_frame_size is an option of transport='websocket'",
        ),
        (
            {"transport": "websocket", "receive_window": 10},
            r"receive_window is an option of the native transport \(transport='pulsar'\)",
        ),
        (
            {"transport": "websocket", "operation_timeout": 10},
            r"operation_timeout is an option of the native transport \(transport='pulsar'\)",
        ),
        (
            {"relay": "redis://127.0.0.1:9", "receiver_queue_size": 10},
            "receiver_queue_size is a push transport's option; a stream with relay= reads Redis instead",
        ),
        (
            {"relay": "redis://127.0.0.1:9", "pulsar_log_level": "error"},
            "pulsar_log_level is a push transport's option",
        ),
        (
            {"relay": "redis://127.0.0.1:9", "ping_interval": 1.0},
            "ping_interval is a push transport's option",
        ),
        ({"relay_group": "web"}, r"relay_group needs relay= \(the Redis URL to read\)"),
        ({"transport": "websocket", "relay_start": "0"}, r"relay_start needs relay="),
        (
            {"transport": "websocket", "receiver_queue_size": "10"},
            "receiver_queue_size must be a whole number",
        ),
        ({"transport": "pulsar", "receiver_queue_size": 2.0}, "receiver_queue_size must be a whole number"),
    ],
)
async def test_a_keyword_of_another_source_is_refused_naming_it(
    keywords: dict[str, Any], message: str
) -> None:
    async with LockCloud(ACCESS_ID, SECRET, base_url="http://127.0.0.1:9") as cloud:
        with pytest.raises(ValidationError, match=message):
            cloud.events(**keywords)


async def test_pulsar_client_s_log_keywords_are_ignored_over_websocket() -> None:
    async with LockCloud(ACCESS_ID, SECRET, base_url="http://127.0.0.1:9") as cloud:
        stream = cloud.events(transport="websocket", pulsar_log_level="debug", pulsar_log_file="/tmp/p.log")
    assert isinstance(stream.source, WebSocketSource)
    assert _subscription.pulsar_client_keywords(PulsarOptions) == {"pulsar_log_level", "pulsar_log_file"}

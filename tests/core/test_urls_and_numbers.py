"""Malformed URLs and non-finite numbers are one clear ``ValidationError`` naming the option, before any library
below sees them; plain schemes to another host warn, once."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import lockcloud._core.network
from lockcloud import InsecureTransportWarning, LockCloud, RetryPolicy, ValidationError
from lockcloud.events import PlaintextPulsarWarning, PulsarOptions, WebSocketOptions
from lockcloud.events._dead_letters import DeadLetterQuota
from lockcloud.testing import FaultInjector

from support import ACCESS_SECRET as SECRET

# Each of these reached httpx, yarl, pulsar-client or the idna codec and raised ValueError / UnicodeError there.
MALFORMED_HOSTS = [
    ("[::1", "not a valid URL"),  # an unclosed "["
    ("a..b", "empty label"),
    ("a" * 300 + ".com", "label"),
    ("h:99999", "port outside 1-65535"),
    ("h:0", "port outside 1-65535"),
    ("h:port", "port outside 1-65535"),
    ("h\x1b[31m", "control or invisible"),
    ("h\udcff", "control or invisible"),  # bytes that were not UTF-8, as os.fsdecode gives them
    ("h\u200b", "control or invisible"),
    ("h st", "spaces"),
    ("", "must name a host"),
]


@pytest.mark.parametrize(("host", "complaint"), MALFORMED_HOSTS)
@pytest.mark.parametrize(
    ("option", "scheme"), [("base_url", "https"), ("pulsar_url", "pulsar+ssl"), ("websocket_url", "wss")]
)
def test_a_malformed_url_is_one_validation_error_naming_the_option(
    option: str, scheme: str, host: str, complaint: str
) -> None:
    with pytest.raises(ValidationError) as info:
        LockCloud("id", SECRET, **{option: f"{scheme}://{host}/"})
    message = str(info.value)
    assert message.startswith(option)
    assert complaint in message
    assert message.isprintable(), "the value is shown escaped, never raw on a terminal"
    assert len(message) < 200


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda url: PulsarOptions(url=url, access_id="id", access_secret=SECRET), "url"),
        (lambda url: WebSocketOptions(url=url, access_id="id", access_secret=SECRET), "websocket_url"),
    ],
)
@pytest.mark.parametrize(("host", "complaint"), MALFORMED_HOSTS[:6])
def test_push_options_refuse_malformed_urls_alike(
    make: Callable[[str], Any], name: str, host: str, complaint: str
) -> None:
    scheme = "pulsar" if name == "url" else "ws"
    with pytest.raises(ValidationError, match=complaint):
        make(f"{scheme}://{host}/")


def test_a_password_in_a_url_is_never_echoed() -> None:
    for url in ("https://user:hunter2@h\x1b/", "https://user:hunter2@h/", "https://user:hunter2@[::1/"):
        with pytest.raises(ValidationError) as info:
            LockCloud("id", SECRET, base_url=url)
        assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["https://openapi.tuyaeu.com", "http://127.0.0.1:8080/", "http://[::1]:2", "https://bücher.example/"],
)
def test_good_urls_pass(url: str) -> None:
    LockCloud("id", SECRET, base_url=url)


NOT_FINITE = [math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", NOT_FINITE)
@pytest.mark.parametrize(
    "make",
    [
        lambda v: LockCloud("id", SECRET, timeout=v),
        lambda v: RetryPolicy(deadline=v),
        lambda v: RetryPolicy(initial_backoff=v),
        lambda v: PulsarOptions(
            url="pulsar://127.0.0.1:1", access_id="id", access_secret=SECRET, connect_timeout=v
        ),
        lambda v: PulsarOptions(
            url="pulsar://127.0.0.1:1", access_id="id", access_secret=SECRET, operation_timeout=v
        ),
        lambda v: WebSocketOptions(
            url="ws://127.0.0.1:1", access_id="id", access_secret=SECRET, ping_interval=v
        ),
        lambda v: WebSocketOptions(
            url="ws://127.0.0.1:1", access_id="id", access_secret=SECRET, ack_timeout=v
        ),
        lambda v: DeadLetterQuota(per=v),
    ],
)
def test_durations_refuse_nan_and_infinity(make: Callable[[float], Any], value: float) -> None:
    with pytest.raises(ValidationError, match="finite"):
        make(value)


@pytest.mark.parametrize("value", NOT_FINITE)
async def test_event_stream_and_enrollment_durations_refuse_nan(value: float) -> None:
    async with LockCloud("id", SECRET, base_url="http://127.0.0.1:9") as cloud:
        with pytest.raises(ValidationError, match="finite"):
            cloud.events(url="pulsar://127.0.0.1:1", dedupe_window=value)
        with pytest.raises(ValidationError, match="finite"):
            cloud.enroll("dev", user_id="u", user_type=1, unlock_type="fingerprint", idle_timeout=value)


@pytest.mark.parametrize("value", NOT_FINITE)
def test_simulated_latency_refuses_nan(value: float) -> None:
    from lockcloud.sim import Simulator

    with pytest.raises(ValidationError, match="finite"):
        FaultInjector(Simulator()).latency(value)


@pytest.fixture
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lockcloud._core.network, "_warned", set())


@pytest.mark.usefixtures("fresh_warnings")
@pytest.mark.parametrize(
    ("url", "category", "secure"),
    [
        ("http://198.51.100.7:80", InsecureTransportWarning, "https://"),
        ("ws://198.51.100.7:8285/", InsecureTransportWarning, "wss://"),
        ("pulsar://198.51.100.7:6650", PlaintextPulsarWarning, "pulsar+ssl://"),
        ("redis://198.51.100.7:6379/0", InsecureTransportWarning, "rediss://"),
    ],
)
def test_every_plain_scheme_to_another_host_warns_once(
    url: str, category: type[Warning], secure: str
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lockcloud._core.network.warn_if_plain(url, what="the URL")
        lockcloud._core.network.warn_if_plain(url, what="the URL")
    assert [type(w.message) for w in caught] == [category]
    assert secure in str(caught[0].message)
    assert "in clear" in str(caught[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for local in ("127.0.0.1", "localhost", "[::1]", "sim.localhost"):
            lockcloud._core.network.warn_if_plain(url.replace("198.51.100.7", local), what="the URL")
        lockcloud._core.network.warn_if_plain(url.replace(url.split(":")[0], secure[:-3]), what="the URL")


@pytest.mark.usefixtures("fresh_warnings")
async def test_a_websocket_stream_on_plain_ws_to_another_host_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    from lockcloud.events import WebSocketSource

    connected: list[str] = []

    async def connect(self: WebSocketSource) -> None:  # no traffic off this machine: only the warning matters
        connected.append(self.url)

    monkeypatch.setattr(WebSocketSource, "_connect", connect)
    source = WebSocketSource(
        WebSocketOptions(url="ws://198.51.100.7:8285/", access_id="id", access_secret=SECRET)
    )
    with pytest.warns(InsecureTransportWarning, match="wss://"):
        await source.open()
    assert connected == ["ws://198.51.100.7:8285/"]
    await source.close(0.1)


BAD_REDIS_URLS = [
    ("redis+cluster://", "at least one host"),
    ("redis+cluster:///", "at least one host"),
    ("rediss+cluster://h:notaport/", "port"),
    ("redis+cluster://h:99999/", "port"),
    ("redis+cluster://h:0/", "port"),
    ("redis+cluster://h:nan/", "port"),
    ("redis+cluster://h: 7000/", "port"),
    ("redis+cluster://h:1,,h:2/", "empty host"),
    ("redis+cluster://:7000/", "port without its host"),
    ("redis+cluster://[::1:7000/", "IPv6"),
    ("redis+cluster://h:7000/3", "database 0"),
    ("redis+cluster://h:7000/?ssl_ca_certs=/ca.pem", "ssl_ca_certs"),
    ("redis+sentinel://h:26379", "service name"),
    ("rediss+sentinel://h:26379/", "service name"),
    ("redis+sentinel://h:26379/mymaster/nan", "database"),
    ("redis+sentinel://h:26379/mymaster/-1", "database"),
    ("redis+sentinel://h:26379/mymaster/0/more", "there is more"),
    ("redis+sentinel://h:26379/mymaster/0?retries=3", "retries"),
    ("redis+sentinel://h:26379/mymaster/0?sentinel_password=", "without a value"),
    ("redis+sentinel://h:26379/my%20master/0", "service name"),
    ("redis+cluster://h\x1b[31m:7000/", "malformed host"),
    ("redis+cluster://h:7000/#frag", "fragment"),
]


def _redis_users() -> list[tuple[str, Callable[[str], Any], str]]:
    from lockcloud import RedisTokenStore
    from lockcloud.events import PulsarSource, RedisRelayForwarder, RedisRelaySource

    def forwarder(url: str) -> Any:
        options = PulsarOptions(url="pulsar://127.0.0.1:6650", access_id="p", access_secret=SECRET)
        return RedisRelayForwarder(PulsarSource(options), url, "p", access_secret=SECRET)

    return [
        ("store", lambda url: RedisTokenStore(url), "RedisTokenStore URL"),
        ("reader", lambda url: RedisRelaySource(url, "p", access_secret=SECRET), "relay URL"),
        ("forwarder", forwarder, "relay URL"),
    ]


@pytest.mark.parametrize("user", range(3), ids=["store", "reader", "forwarder"])
@pytest.mark.parametrize(("url", "complaint"), BAD_REDIS_URLS)
def test_a_malformed_cluster_or_sentinel_url_is_one_line_naming_the_option(
    user: int, url: str, complaint: str
) -> None:
    _, make, option = _redis_users()[user]
    with_password = url.replace("://", "://admin:hunter2@", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureTransportWarning)
        with pytest.raises(ValidationError) as caught:
            make(with_password)
    message = str(caught.value)
    assert message.startswith(f"{option}: ")
    assert complaint in message
    assert "\n" not in message
    assert "hunter2" not in message


def test_cluster_and_sentinel_urls_name_their_nodes() -> None:
    from lockcloud._core.redis_url import parse_redis_url

    cluster = parse_redis_url(
        "rediss+cluster://:pw@Node-1:7000,[fd00::2],10.0.0.3:7002/?ssl_ca_certs=/ca.pem", option="u"
    )
    assert cluster is not None
    assert cluster.hosts == (("node-1", 7000), ("fd00::2", 6379), ("10.0.0.3", 7002))
    assert cluster.password == "pw"
    assert cluster.tls_files == {"ssl_ca_certs": "/ca.pem"}
    assert cluster.address == "cluster node-1:7000,[fd00::2]:6379,10.0.0.3:7002"
    assert "pw" not in repr(cluster)
    sentinel = parse_redis_url(
        "redis+sentinel://app:s%40cret@s1,s2:26380/my-master/2?sentinel_password=sp", option="u"
    )
    assert sentinel is not None
    assert (sentinel.username, sentinel.password, sentinel.sentinel_password) == ("app", "s@cret", "sp")
    assert (sentinel.service, sentinel.db) == ("my-master", 2)
    assert sentinel.address == "sentinel my-master at s1:26379,s2:26380"
    assert "cret" not in repr(sentinel)
    assert parse_redis_url("redis://h:6379/0", option="u") is None


def test_tls_cluster_and_sentinel_urls_verify_certificates_and_host_names() -> None:
    from redis.asyncio.sentinel import SentinelManagedSSLConnection

    from lockcloud import RedisTokenStore

    cluster = RedisTokenStore("rediss+cluster://127.0.0.1:7000/", secret=SECRET)
    kwargs = cluster._redis.nodes_manager.connection_kwargs  # type: ignore[union-attr]
    assert kwargs["ssl_cert_reqs"] == "required"
    assert kwargs["ssl_check_hostname"] is True
    sentinel = RedisTokenStore("rediss+sentinel://127.0.0.1:26379/mymaster/0", secret=SECRET)
    pool = sentinel._redis.connection_pool
    assert pool.connection_class is SentinelManagedSSLConnection
    assert pool.connection_kwargs["ssl_cert_reqs"] == "required"
    assert pool.connection_kwargs["ssl_check_hostname"] is True
    for watcher in pool.sentinel_manager.sentinels:  # type: ignore[attr-defined]
        assert watcher.connection_pool.connection_kwargs["ssl_check_hostname"] is True


@pytest.mark.usefixtures("fresh_warnings")
@pytest.mark.parametrize("kind", ["cluster", "sentinel"])
@pytest.mark.parametrize("user", range(3), ids=["store", "reader", "forwarder"])
def test_plain_cluster_or_sentinel_urls_to_another_host_warn(kind: str, user: int) -> None:
    _, make, _ = _redis_users()[user]
    path = "/" if kind == "cluster" else "/mymaster/0"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make(f"redis+{kind}://127.0.0.1:7000,198.51.100.7:7001{path}")
        make(f"rediss+{kind}://198.51.100.8:7000{path}")
    (warning,) = caught
    assert warning.category is InsecureTransportWarning
    assert f"redis+{kind}://198.51.100.7" in str(warning.message)
    assert f"use rediss+{kind}://" in str(warning.message)

"""Broker failures are fast and named: a held subscription, a refused connection, auth and TLS answers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pulsar
import pytest

from lockcloud import LockCloud
from lockcloud._core.errors import StreamAuthenticationError, StreamSubscriptionError, SubscribeError
from lockcloud.events import PulsarOptions, PulsarSource
from lockcloud.sim.broker import LocalBroker

GUARD = 60.0


async def test_a_subscription_held_by_another_consumer_fails_within_connect_timeout(
    broker: LocalBroker, push: Any
) -> None:
    """What ``lockcloud enroll`` met while ``lockcloud listen`` was running: now one named error, quickly."""
    async with LockCloud(push.ACCESS_ID, push.SECRET) as cloud:
        holder = cloud.events(url=broker.url, pulsar_log_level="error", subscription_type="exclusive")
        second = cloud.events(
            url=broker.url, pulsar_log_level="error", subscription_type="exclusive", connect_timeout=2
        )
        async with holder:
            started = time.monotonic()
            with pytest.raises(SubscribeError) as caught:
                async with asyncio.timeout(GUARD):
                    await second.open()
            elapsed = time.monotonic() - started
    error = caught.value
    assert error.reason in ("busy", "timeout")
    assert error.topic == push.TOPIC
    assert error.subscription == f"{push.ACCESS_ID}-sub"
    assert "another consumer" in str(error)
    assert "subscription of your own" in str(error)
    # Bounded by connect_timeout (and the broker's own answer), not pulsar-client's 30 s operation timeout.
    assert elapsed < GUARD
    assert not second.is_open


@pytest.mark.parametrize(
    ("result", "reason", "fix"),
    [
        ("AuthenticationError", "auth", "access id and secret"),
        ("AuthorizationError", "auth", "message service"),
        ("ConsumerBusy", "busy", "subscription of your own"),
        ("ConnectError", "unreachable", "check the URL"),
        ("TopicNotFound", "failed", "lockcloud.events.pulsar log"),
    ],
)
def test_broker_answers_become_named_errors(result: str, reason: str, fix: str) -> None:
    source = PulsarSource(
        PulsarOptions(url="pulsar+ssl://mqe.tuyaeu.com:7285/", access_id="id", access_secret="s" * 32)
    )
    error = source._subscribe_error(getattr(pulsar.Result, result), "")
    assert error.reason == reason
    # The same classes as over WebSocket, for the refusals that retrying does not cure.
    expected = {"auth": StreamAuthenticationError, "busy": StreamSubscriptionError}.get(
        reason, SubscribeError
    )
    assert type(error) is expected
    assert fix in str(error)
    assert "pulsar+ssl://mqe.tuyaeu.com:7285/" in str(error)
    assert "'id/out/event'" in str(error)
    assert "s" * 32 not in str(error)


async def test_an_unresolvable_host_fails_fast(push: Any) -> None:
    async with LockCloud(push.ACCESS_ID, push.SECRET) as cloud:
        stream = cloud.events(url="pulsar+ssl://no-such-host.invalid:7285", connect_timeout=5)
    with pytest.raises(SubscribeError) as caught:
        await stream.open()
    assert caught.value.reason == "unreachable"

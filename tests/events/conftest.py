"""Helpers for the events tests: the test project, its push messages, a publisher and streams on the test broker.

Messages are made by :class:`lockcloud.testing.PushBuilder` on a clock stopped at ``Push.T0`` and published by a
:class:`lockcloud.testing.PushPublisher`, the helpers the package ships for applications' tests. Tests run with
``--import-mode=importlib``, where a test module cannot import this conftest, so the helpers reach tests through
fixtures: ``push`` (the :class:`Push` namespace), ``producer`` and ``make_stream``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lockcloud._core.wire import MessageEncryption, topic_for
from lockcloud.events import EventStream
from lockcloud.events._options import pulsar_stream
from lockcloud.sim.broker import LocalBroker
from lockcloud.testing import PushBuilder, PushPublisher


class Push:
    """The test project and its messages. ``build`` is its :class:`~lockcloud.testing.PushBuilder`; the functions
    below are shorthands for what the tests build most, as payload bytes."""

    # Not support.py's: test_lifecycle's subprocess script (which cannot import it) spells these two out too.
    ACCESS_ID = "4tuyaprojectid00"
    SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
    OTHER_SECRET = "zzzzzzzzZZZZZZZZyyyyyyyyYYYYYYYY"
    TOPIC = topic_for(ACCESS_ID)
    T0 = 1_700_000_000_000
    build = PushBuilder(SECRET, product_key="pk1", clock=lambda: Push.T0)

    @staticmethod
    def enrollment_body(index: int, device_id: str = "lock-1", **biz: Any) -> dict[str, Any]:
        """The decrypted body of enrollment message ``index`` (its ``period``; ``ts`` is ``T0 + index``), with
        ``biz`` added to its ``bizData``."""
        body = dict(Push.build.enrollment(device_id, period=index, t=Push.T0 + index).body)
        body["bizData"] = {**body["bizData"], **biz}
        return body

    @staticmethod
    def envelope(
        body: Any, *, em: MessageEncryption | None = "aes_gcm", protocol: int = 20, secret: str | None = None
    ) -> bytes:
        payload, _ = Push.build.envelope(body, em=em, protocol=protocol, secret=secret)
        return payload

    @staticmethod
    def enrollment(index: int, device_id: str = "lock-1", em: MessageEncryption | None = "aes_gcm") -> bytes:
        return Push.envelope(Push.enrollment_body(index, device_id), em=em)


@pytest.fixture
def push() -> type[Push]:
    return Push


class Producer(PushPublisher):
    """A publisher to the test project's topic, with the tests' most common message as a shorthand."""

    async def enrollment(
        self, index: int, device_id: str = "lock-1", em: MessageEncryption | None = "aes_gcm"
    ) -> None:
        await self.send(*Push.build.envelope(Push.enrollment_body(index, device_id), em=em))


@pytest.fixture
async def producer(broker: LocalBroker, tmp_path: Path) -> AsyncIterator[Producer]:
    publisher = Producer(
        broker.url,
        Push.ACCESS_ID,
        Push.SECRET,
        build=Push.build,
        log_file=str(tmp_path / "producer-pulsar.log"),
    )
    async with publisher:
        yield publisher


@pytest.fixture
def make_stream(broker: LocalBroker) -> Callable[..., EventStream]:
    """``EventStream`` on the test broker; the subscription starts at the earliest message when first created."""

    def make(**options: Any) -> EventStream:
        options.setdefault("initial_position", "earliest")
        options.setdefault("pulsar_log_level", "error")
        options.setdefault("resubscribe_delay", 0.05)
        return pulsar_stream(Push.ACCESS_ID, Push.SECRET, {"url": broker.url, **options})  # type: ignore[typeddict-item]

    return make

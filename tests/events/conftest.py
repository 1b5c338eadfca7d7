"""Helpers for the events tests: envelopes encrypted as Tuya sends them, a producer and streams on the test broker.

Tests run with ``--import-mode=importlib``, where a test module cannot import this conftest, so the helpers reach
tests through fixtures: ``push`` (the :class:`Push` namespace), ``producer`` and ``make_stream``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pulsar
import pulsar.asyncio
import pytest

from lockcloud.crypto import encrypt_message
from lockcloud.events import EventStream
from lockcloud.events._options import pulsar_stream
from lockcloud.events._pulsar import native_threads, threads_alive
from lockcloud.sim.broker import LocalBroker


class Push:
    ACCESS_ID = "4tuyaprojectid00"
    SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"
    OTHER_SECRET = "zzzzzzzzZZZZZZZZyyyyyyyyYYYYYYYY"
    TOPIC = "4tuyaprojectid00/out/event"
    T0 = 1_700_000_000_000

    @staticmethod
    def enrollment_body(index: int, device_id: str = "lock-1", **biz: Any) -> dict[str, Any]:
        biz_data = {
            "event": "unlockMethodEntry",
            "operate": 1,
            "raised": True,
            "finish": False,
            "period": index,
        }
        biz_data.update(biz)
        return {
            "bizCode": "doorUnlockMethodStatus",
            "bizData": biz_data,
            "devId": device_id,
            "productKey": "pk1",
            "ts": Push.T0 + index,
            "uuid": f"uuid-{index}",
        }

    @staticmethod
    def envelope(
        body: Any, *, em: str | None = "aes_gcm", protocol: int = 20, secret: str | None = None
    ) -> bytes:
        plaintext = body if isinstance(body, bytes) else json.dumps(body).encode()
        data = encrypt_message(plaintext, secret or Push.SECRET, em)
        return json.dumps(
            {"data": data, "protocol": protocol, "pv": "2.0", "sign": "s", "t": Push.T0}
        ).encode()

    @staticmethod
    def enrollment(index: int, device_id: str = "lock-1", em: str | None = "aes_gcm") -> bytes:
        return Push.envelope(Push.enrollment_body(index, device_id), em=em)

    @staticmethod
    def properties(em: str | None) -> dict[str, str]:
        return {"em": em} if em else {}

    @staticmethod
    def tampered(payload: bytes) -> bytes:
        """The envelope with one bit of its GCM tag flipped."""
        document = json.loads(payload)
        raw = bytearray(base64.b64decode(document["data"]))
        raw[-1] ^= 0x01
        document["data"] = base64.b64encode(bytes(raw)).decode()
        return json.dumps(document).encode()


@pytest.fixture
def push() -> type[Push]:
    return Push


class Producer:
    """Publishes like Tuya does: one envelope per message, ``em`` as a message property."""

    def __init__(self, producer: pulsar.asyncio.Producer) -> None:
        self._producer: pulsar.asyncio.Producer | None = producer

    async def send(self, payload: bytes, props: Mapping[str, str] | None = None) -> None:
        assert self._producer is not None, "the producer fixture has been torn down"
        await self._producer.send(payload, properties=dict(props or {}))

    async def enrollment(self, index: int, device_id: str = "lock-1", em: str | None = "aes_gcm") -> None:
        await self.send(Push.enrollment(index, device_id, em), Push.properties(em))


async def wait_for_native_threads_to_end(before: set[int]) -> None:
    """Wait until the native threads started since ``before`` are gone (bounded).

    pulsar-client can abort the interpreter at exit if one of its threads is still finishing; waiting for them
    after closing a client keeps the test process's exit clean (see lockcloud/events/_pulsar.py).
    """
    for _ in range(1000):
        if not threads_alive(native_threads() - before):
            return
        await asyncio.sleep(0.001)


@pytest.fixture
async def producer(broker: LocalBroker) -> AsyncIterator[Producer]:
    before = native_threads()
    client: pulsar.asyncio.Client | None = pulsar.asyncio.Client(
        broker.url, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error)
    )
    assert client is not None
    wrapper = Producer(await client.create_producer(Push.TOPIC, batching_enabled=False))
    try:
        yield wrapper
    finally:
        await client.close()
        # Drop every reference to the client's objects: its destructor stops the client's threads.
        wrapper._producer = None
        client = None
        await wait_for_native_threads_to_end(before)


@pytest.fixture
def make_stream(broker: LocalBroker) -> Callable[..., EventStream]:
    """``EventStream`` on the test broker; the subscription starts at the earliest message when first created."""

    def make(**options: Any) -> EventStream:
        options.setdefault("initial_position", "earliest")
        options.setdefault("pulsar_log_level", "error")
        options.setdefault("resubscribe_delay", 0.05)
        return pulsar_stream(Push.ACCESS_ID, Push.SECRET, {"url": broker.url, **options})  # type: ignore[typeddict-item]

    return make

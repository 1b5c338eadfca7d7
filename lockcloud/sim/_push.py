"""Push messages of the simulated cloud: how they look decrypted, their encrypted Pulsar envelope, and the publisher
that produces them to ``{access_id}/out/event`` on a broker."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from lockcloud.crypto import encrypt_message
from lockcloud.events._stream import topic_for

__all__ = ["MessageEncryption", "PulsarPublisher", "PushMessage", "encode_push"]

logger = logging.getLogger("lockcloud.sim")

MessageEncryption = Literal["aes_gcm", "aes_ecb"]

DEVICE_EVENT = 20
STATUS_REPORT = 4


@attrs.frozen
class PushMessage:
    """One push message as the simulator produced it, before encryption.

    ``body`` is the decrypted JSON object (``{bizCode, bizData, devId, productKey, ts, uuid}`` for protocol 20,
    ``{dataId, devId, productKey, status}`` for protocol 4); ``t`` the envelope time in epoch milliseconds.
    """

    protocol: int
    body: Mapping[str, Any]
    t: int

    @property
    def device_id(self) -> str:
        return str(self.body.get("devId", ""))

    @property
    def biz_code(self) -> str | None:
        code = self.body.get("bizCode")
        return code if isinstance(code, str) else None

    @property
    def biz_data(self) -> Mapping[str, Any]:
        data = self.body.get("bizData")
        return data if isinstance(data, Mapping) else {}


def encode_push(
    message: PushMessage, access_secret: str, em: MessageEncryption = "aes_gcm"
) -> tuple[bytes, dict[str, str]]:
    """The message payload and properties Tuya would publish: envelope ``{data, protocol, pv, sign, t}`` with
    ``data`` encrypted by ``em`` (also set as the ``em`` property).

    Tuya does not document how ``sign`` is made and no client checks it; the simulator fills it with an
    HMAC-SHA256 of ``data`` and ``t`` under the access secret, which is not Tuya's algorithm.
    """
    plaintext = json.dumps(message.body, separators=(",", ":")).encode()
    data = encrypt_message(plaintext, access_secret, em)
    sign = hmac.new(access_secret.encode(), f"{data}{message.t}".encode(), hashlib.sha256).hexdigest()
    envelope = {"data": data, "protocol": message.protocol, "pv": "2.0", "sign": sign, "t": message.t}
    return json.dumps(envelope, separators=(",", ":")).encode(), {"em": em}


class PulsarPublisher:
    """Produces push messages, in order, to ``{access_id}/out/{env}`` on the broker at ``url``, keyed by device id.

    Messages are queued by :meth:`submit` (never blocking the request that caused them) and sent one at a time by a
    worker task; :meth:`drain` waits until everything queued so far has been handed to the broker. The blocking
    pulsar-client calls run in worker threads, so no completion callback can land on a closed event loop.
    """

    def __init__(
        self,
        url: str,
        access_id: str,
        access_secret: str,
        *,
        em: MessageEncryption = "aes_gcm",
        env: str = "event",
        log_file: str | None = None,
        operation_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.topic = topic_for(access_id, env)
        self.em: MessageEncryption = em
        self._access_secret = access_secret
        self._log_file = log_file
        self._operation_timeout = operation_timeout
        self._client: Any = None
        self._producer: Any = None
        self._queue: asyncio.Queue[PushMessage] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0

    def __repr__(self) -> str:
        return f"PulsarPublisher(url={self.url!r}, topic={self.topic!r}, em={self.em!r})"

    async def start(self) -> None:
        """Connect and create the producer; raises the pulsar-client exception if the broker is unreachable."""
        await asyncio.to_thread(self._connect)
        self._worker = asyncio.create_task(self._run(), name="lockcloud-sim-publisher")

    def _connect(self) -> None:
        import pulsar

        level = pulsar.LoggerLevel.Warn
        log = pulsar.FileLogger(level, self._log_file) if self._log_file else pulsar.ConsoleLogger(level)
        timeout = max(1, round(self._operation_timeout))
        self._client = pulsar.Client(self.url, operation_timeout_seconds=timeout, logger=log)
        try:
            self._producer = self._client.create_producer(
                self.topic, batching_enabled=False, send_timeout_millis=timeout * 1000
            )
        except Exception:
            self._client.close()
            self._client = None
            raise

    def submit(self, message: PushMessage) -> None:
        self._queue.put_nowait(message)

    async def drain(self) -> None:
        """Wait until every message submitted so far was sent (or failed and was logged)."""
        if self._worker is not None and not self._worker.done():
            await self._queue.join()

    async def _run(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                payload, properties = encode_push(message, self._access_secret, self.em)
                # Keyed by device, as Tuya does: one lock's messages stay in order on one partition.
                key = {"partition_key": message.device_id} if message.device_id else {}
                await asyncio.to_thread(self._producer.send, payload, properties=properties, **key)
                self.sent += 1
            except Exception as exc:  # the broker went away: the message is lost, the simulator goes on
                self.failed += 1
                logger.warning("push message to %s not delivered: %s", self.topic, type(exc).__name__)
            finally:
                self._queue.task_done()

    async def close(self, grace: float = 5.0) -> None:
        """Send what is queued (for up to ``grace`` seconds), then close producer and client."""
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drain(), grace)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        client, self._client, self._producer = self._client, None, None
        if client is not None:
            await asyncio.to_thread(_close_quietly, client)


def _close_quietly(client: Any) -> None:
    try:
        client.close()
    except Exception as exc:
        logger.debug("pulsar client did not close cleanly: %s", type(exc).__name__)

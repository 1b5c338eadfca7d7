"""The publisher that produces the simulator's push messages, in order, to ``{access_id}/out/{env}`` on a broker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from lockcloud._core import validation
from lockcloud._core.errors import LockCloudError
from lockcloud._core.wire import PRODUCTION_ENV, MessageEncryption, topic_for
from lockcloud.sim._push import PushMessage, encode_push

__all__ = ["BrokerUnavailableError", "PulsarPublisher"]

_DEFAULT_PULSAR_PORTS = {"pulsar": 6650, "pulsar+ssl": 6651}


class BrokerUnavailableError(LockCloudError, ConnectionError):
    """The simulator cannot produce to the broker it was pointed at (``url``): nothing listens there, or the
    broker did not let it create its producer within the operation timeout."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"the simulator cannot produce push messages to the broker at {url}: {reason}")
        self.url = url
        self.reason = reason


logger = logging.getLogger("lockcloud.sim")


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
        env: str = PRODUCTION_ENV,
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
        """Connect and create the producer; :class:`BrokerUnavailableError` if the broker cannot be reached."""
        parts = validation.url(self.url, "broker_url", schemes=("pulsar", "pulsar+ssl"))
        host, port = parts.hostname or "", parts.port or _DEFAULT_PULSAR_PORTS[parts.scheme]
        # A TCP handshake of our own first: pulsar-client would wait its whole operation timeout to say "TimeOut".
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self._operation_timeout)
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise BrokerUnavailableError(self.url, f"cannot connect to {host}:{port} ({reason})") from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        try:
            await asyncio.to_thread(self._connect)
        except Exception as exc:  # pulsar-client's own exceptions: Timeout, ConnectError, ...
            raise BrokerUnavailableError(self.url, f"the broker refused the producer ({exc})") from None
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

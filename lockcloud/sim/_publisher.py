"""The one Pulsar publisher: push messages produced to ``{access_id}/out/{env}`` on a broker, as Tuya produces them.

The simulator queues its messages on it (:meth:`PulsarPublisher.submit`, sent in order by a worker task);
:class:`lockcloud.testing.PushPublisher` is the same class with a :class:`~lockcloud.testing.PushBuilder` for tests,
whose calls await the broker (:meth:`PulsarPublisher.send`, :meth:`PulsarPublisher.publish`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, Self

from lockcloud._core import validation
from lockcloud._core.errors import LockCloudError, ValidationError
from lockcloud._core.network import pulsar_address
from lockcloud._core.wire import PRODUCTION_ENV, MessageEncryption, topic_for
from lockcloud.sim._push import PushMessage, encode_push
from lockcloud.sim.broker import installed

__all__ = ["BrokerUnavailableError", "PulsarPublisher"]

logger = logging.getLogger("lockcloud.sim")

#: How long :meth:`PulsarPublisher.close` waits for the Pulsar client's native threads to end.
_THREAD_EXIT_WAIT = 1.0

_PULSAR_CLIENT_MISSING = "pulsar-client is not installed: pip install 'lockcloud[sim]'"


class BrokerUnavailableError(LockCloudError, ConnectionError):
    """Push messages cannot be produced to the broker at ``url``: nothing listens there, the broker did not let a
    producer be created within the operation timeout, or pulsar-client is not installed (``reason`` says which)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"push messages cannot be produced to the broker at {url}: {reason}")
        self.url = url
        self.reason = reason


class PulsarPublisher:
    """Produces push messages to ``{access_id}/out/{env}`` on the broker at ``url``, one envelope per message with
    ``em`` as a message property and the device id as the message key, as Tuya does.

    Two ways to send, on one producer: :meth:`submit` queues a message without blocking (the simulator's requests
    never wait for the broker) and a worker task sends the queue in order, :meth:`drain` waiting until everything
    queued so far was handed over; :meth:`send` and :meth:`publish` return once the broker has stored the message
    and raise when it did not. The blocking pulsar-client calls run in worker threads, so no completion callback can
    land on a closed event loop, and :meth:`close` waits (briefly) for the client's native threads to end.
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
        log_level: Literal["warn", "error"] = "warn",
        operation_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.topic = topic_for(access_id, env)
        self.em: MessageEncryption = em
        self._access_secret = access_secret
        self._log_file = log_file
        self._log_level = log_level
        self._operation_timeout = operation_timeout
        self._client: Any = None
        self._producer: Any = None
        self._threads: set[int] = set()
        self._queue: asyncio.Queue[PushMessage] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r}, topic={self.topic!r}, em={self.em!r})"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- connecting ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and create the producer; :class:`BrokerUnavailableError` (one line) if that cannot be done."""
        validation.url(self.url, "broker_url", schemes=("pulsar", "pulsar+ssl"))
        if not installed("pulsar"):
            raise BrokerUnavailableError(self.url, _PULSAR_CLIENT_MISSING)
        host, port = pulsar_address(self.url)
        # A TCP handshake of our own first: pulsar-client would wait its whole operation timeout to say "TimeOut".
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self._operation_timeout)
        except (OSError, TimeoutError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            raise BrokerUnavailableError(self.url, f"cannot connect to {host}:{port} ({reason})") from None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        from lockcloud.events._pulsar import native_threads

        before = native_threads()
        try:
            await asyncio.to_thread(self._connect)
        except Exception as exc:  # pulsar-client's own exceptions: Timeout, ConnectError, ...
            raise BrokerUnavailableError(self.url, f"the broker refused the producer ({exc})") from None
        finally:
            self._threads |= native_threads() - before
        self._worker = asyncio.create_task(self._run(), name="lockcloud-sim-publisher")

    def _connect(self) -> None:
        import pulsar

        level = pulsar.LoggerLevel.Warn if self._log_level == "warn" else pulsar.LoggerLevel.Error
        log = pulsar.FileLogger(level, self._log_file) if self._log_file else pulsar.ConsoleLogger(level)
        timeout = max(1, round(self._operation_timeout))
        self._client = pulsar.Client(self.url, operation_timeout_seconds=timeout, logger=log)
        try:
            self._producer = self._client.create_producer(
                self.topic, batching_enabled=False, send_timeout_millis=timeout * 1000
            )
        except Exception:
            _close_quietly(self._client)
            self._client = None
            raise

    # -- sending, awaited ---------------------------------------------------------------------------------------

    async def send(
        self, payload: bytes, properties: Mapping[str, str] | None = None, *, key: str | None = None
    ) -> None:
        """Publish ``payload`` as it is, with ``properties`` and the message key ``key``; returns once the broker
        stored it."""
        producer = self._producer
        if producer is None:
            raise ValidationError("the publisher is not started (use it with async with)")
        # Keyed by device, as Tuya does: one lock's messages stay in order on one partition.
        keyed = {"partition_key": key} if key else {}
        await asyncio.to_thread(producer.send, payload, properties=dict(properties or {}), **keyed)

    def encode(self, message: PushMessage, em: MessageEncryption) -> tuple[bytes, dict[str, str]]:
        """The payload and properties of ``message``, encrypted with the project's secret."""
        return encode_push(message, self._access_secret, em)

    async def publish(self, message: PushMessage, *, em: MessageEncryption | None = None) -> None:
        """Encrypt ``message`` (with ``em``, by default the publisher's) and publish it, keyed by its device id."""
        payload, properties = self.encode(message, self.em if em is None else em)
        await self.send(payload, properties, key=message.device_id or None)

    # -- sending, queued ----------------------------------------------------------------------------------------

    def submit(self, message: PushMessage) -> None:
        """Queue ``message`` (never blocking); once started, it is published after everything submitted before
        it."""
        self._queue.put_nowait(message)

    async def drain(self) -> None:
        """Wait until every message submitted so far was sent (or failed and was logged)."""
        if self._worker is not None and not self._worker.done():
            await self._queue.join()

    async def _run(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self.publish(message)
                self.sent += 1
            except Exception as exc:  # the broker went away: the message is lost, the simulator goes on
                self.failed += 1
                logger.warning("push message to %s not delivered: %s", self.topic, type(exc).__name__)
            finally:
                self._queue.task_done()

    # -- closing ------------------------------------------------------------------------------------------------

    async def close(self, grace: float = 5.0) -> None:
        """Send what is queued (for up to ``grace`` seconds), close producer and client, and wait (briefly) for
        the client's native threads to end."""
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.drain(), grace)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        client, self._client, self._producer = self._client, None, None
        if client is None:
            return
        from lockcloud.events._pulsar import native_threads, threads_alive

        before = native_threads()
        await asyncio.to_thread(_close_quietly, client)
        # The last reference goes here, so the client's destructor stops its threads; a thread still finishing
        # when the interpreter exits can abort it (pulsar-client 3.x).
        del client
        threads = self._threads | (native_threads() - before)
        self._threads = set()
        deadline = time.monotonic() + _THREAD_EXIT_WAIT
        while threads_alive(threads) and time.monotonic() < deadline:  # noqa: ASYNC110 - threads have no event
            await asyncio.sleep(0.001)


def _close_quietly(client: Any) -> None:
    try:
        client.close()
    except Exception as exc:  # already closed or the broker is gone: nothing left to release
        logger.debug("pulsar client did not close cleanly: %s", type(exc).__name__)

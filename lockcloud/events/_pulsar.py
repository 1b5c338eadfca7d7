"""The Pulsar side of an event stream: client, Tuya ``auth1`` login, one Failover consumer, receive and ack.

Imported only when a stream with a broker URL is opened, so ``import lockcloud`` never loads ``pulsar``.

All completions from the C++ client are hopped onto the event loop through :func:`_settle_later`, which ignores a
loop that has already closed. ``pulsar.asyncio``'s own futures call ``call_soon_threadsafe`` unguarded, and a
receive or close completing after the loop is gone aborts the whole process; that is why the consumer's
``receive_async`` / ``acknowledge_async`` / ``close_async`` are called directly here. ``pulsar.asyncio`` is still
used to build the client and to subscribe.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import certifi
import pulsar
import pulsar.asyncio

from lockcloud._errors import EventStreamError
from lockcloud.crypto import pulsar_password
from lockcloud.events._stream import InitialPosition, Received, SourceClosed, SubscriptionType

__all__ = ["PulsarSource", "auth_params"]

logger = logging.getLogger("lockcloud.events")


_CONSUMER_TYPES = {
    "failover": pulsar.ConsumerType.Failover,
    "exclusive": pulsar.ConsumerType.Exclusive,
    "shared": pulsar.ConsumerType.Shared,
    "key_shared": pulsar.ConsumerType.KeyShared,
}
_INITIAL_POSITIONS = {
    "latest": pulsar.InitialPosition.Latest,
    "earliest": pulsar.InitialPosition.Earliest,
}
_LOG_LEVELS = {
    "debug": pulsar.LoggerLevel.Debug,
    "info": pulsar.LoggerLevel.Info,
    "warn": pulsar.LoggerLevel.Warn,
    "warning": pulsar.LoggerLevel.Warn,
    "error": pulsar.LoggerLevel.Error,
}


def auth_params(access_id: str, access_secret: str) -> str:
    """``auth_params_string`` for ``pulsar.AuthenticationBasic`` that makes it send Tuya's ``auth1`` data.

    Basic authentication sends ``username + ":" + password``; splitting Tuya's JSON document at its colon gives
    exactly ``{"username":"<id>","password":"<md5 password>"}`` on the wire (PROTOCOL.md §6).
    """
    password = pulsar_password(access_id, access_secret)
    return json.dumps(
        {
            "username": '{"username":' + json.dumps(access_id) + ',"password"',
            "password": json.dumps(password) + "}",
            "method": "auth1",
        }
    )


def _settle_later(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, value: Any
) -> None:
    # Runs on a pulsar-client thread.
    # RuntimeError: the loop has closed, the process is shutting down. An unacknowledged message comes back later.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(_settle, future, result, value)


def _settle(future: asyncio.Future[Any], result: Any, value: Any) -> None:
    if future.done():
        return
    if result == pulsar.Result.Ok:
        future.set_result(value)
    elif result == pulsar.Result.AlreadyClosed:
        future.set_exception(SourceClosed())
    else:
        future.set_exception(EventStreamError(f"pulsar operation failed: {result}"))


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    # Marks an abandoned future's exception as retrieved, so asyncio does not log it at garbage collection.
    if not future.cancelled():
        future.exception()


def _ack_done(result: Any) -> None:
    # Runs on a pulsar-client thread. A lost acknowledgement only means a redelivery, which the stream dedupes.
    if result != pulsar.Result.Ok:
        logger.debug("acknowledgement not confirmed: %s", result)


# Interpreter exit versus pulsar-client's threads
# ------------------------------------------------
# pulsar-client (3.13) aborts or segfaults the interpreter at exit ("terminate called without an active
# exception") when one of its native threads is still running while the interpreter finalizes. That happens
# (1) when a client was never closed, and (2) even after a clean close: the client's destructor lets a detached
# thread finish on its own, for a millisecond or two, and under CPU load the interpreter can get to finalization
# first. Measured here: ~25% of short-lived processes under load, whatever logger is configured. So a source
# remembers the native threads its client started (Linux: /proc/self/task), drops every reference to the client
# when closing so that its destructor runs, and waits for those threads (and the one closing starts) to be gone. At exit, clients that were
# never closed are shut down the same way.

_TASKS = "/proc/self/task"
_THREAD_EXIT_WAIT = 1.0


def native_threads() -> set[int]:
    """Ids of this process's native threads that Python does not know about (empty where /proc is missing)."""
    try:
        native = {int(name) for name in os.listdir(_TASKS)}
    except OSError:
        return set()
    return native - {thread.native_id for thread in threading.enumerate() if thread.native_id is not None}


def threads_alive(threads: set[int]) -> bool:
    if not threads:
        return False
    try:
        return any(os.path.exists(f"{_TASKS}/{tid}") for tid in threads)
    except OSError:
        return False


_open_sources: weakref.WeakSet[PulsarSource] = weakref.WeakSet()
_exiting_threads: set[int] = set()


@atexit.register
def _shut_down_at_exit() -> None:
    # Completions triggered here find the event loop closed and are dropped by _settle_later.
    before = native_threads()
    for source in list(_open_sources):
        source.shutdown()
        _exiting_threads.update(source._threads)
    _exiting_threads.update(native_threads() - before)
    deadline = time.monotonic() + _THREAD_EXIT_WAIT
    while threads_alive(_exiting_threads) and time.monotonic() < deadline:
        time.sleep(0.001)


class PulsarSource:
    """One client and one consumer on ``topic``; :meth:`receive` keeps a single receive pending at all times."""

    def __init__(
        self,
        *,
        url: str,
        topic: str,
        subscription: str,
        authentication_params: str,
        subscription_type: SubscriptionType = "failover",
        initial_position: InitialPosition = "latest",
        consumer_name: str | None = None,
        prefetch: int = 100,
        verify: bool | str = True,
        connect_timeout: float = 10.0,
        operation_timeout: float = 30.0,
        log_level: str = "warn",
        log_file: str | None = None,
    ) -> None:
        if subscription_type not in _CONSUMER_TYPES:
            raise EventStreamError(f"unknown subscription type {subscription_type!r}")
        if initial_position not in _INITIAL_POSITIONS:
            raise EventStreamError(f"unknown initial position {initial_position!r}")
        if log_level.lower() not in _LOG_LEVELS:
            raise EventStreamError(f"unknown pulsar log level {log_level!r}")
        self.url = url
        self.topic = topic
        self.subscription = subscription
        self._authentication_params = authentication_params
        self._consumer_type = _CONSUMER_TYPES[subscription_type]
        self._initial_position = _INITIAL_POSITIONS[initial_position]
        self._consumer_name = consumer_name
        self._prefetch = max(1, prefetch)
        self._verify = verify
        self._connect_timeout = connect_timeout
        self._operation_timeout = operation_timeout
        self._log_level = _LOG_LEVELS[log_level.lower()]
        self._log_file = log_file
        self._client: pulsar.asyncio.Client | None = None
        self._consumer: Any = None
        self._pending: asyncio.Future[Any] | None = None
        self._threads: set[int] = set()

    def __repr__(self) -> str:
        return f"PulsarSource(url={self.url!r}, topic={self.topic!r}, subscription={self.subscription!r})"

    def _client_options(self) -> dict[str, Any]:
        logger_ = (
            pulsar.FileLogger(self._log_level, self._log_file)
            if self._log_file
            else pulsar.ConsoleLogger(self._log_level)
        )
        options: dict[str, Any] = {
            "authentication": pulsar.AuthenticationBasic(auth_params_string=self._authentication_params),
            "operation_timeout_seconds": max(1, round(self._operation_timeout)),
            "connection_timeout_ms": max(1, round(self._connect_timeout * 1000)),
            "logger": logger_,
        }
        if self._verify is False:
            # Explicit opt-out only: Tuya's official SDKs always skip verification, lockcloud never does by default.
            options.update(tls_allow_insecure_connection=True, tls_validate_hostname=False)
        else:
            ca_file = self._verify if isinstance(self._verify, str) else certifi.where()
            options.update(
                tls_trust_certs_file_path=ca_file,
                tls_allow_insecure_connection=False,
                tls_validate_hostname=True,
            )
        return options

    async def open(self) -> None:
        """Create the client and subscribe; raises :class:`EventStreamError` if the broker cannot be reached."""
        before = native_threads()
        try:
            self._client = pulsar.asyncio.Client(self.url, **self._client_options())
        except Exception as exc:
            raise EventStreamError(f"cannot create a Pulsar client for {self.url}: {exc}") from exc
        _open_sources.add(self)
        try:
            await self.subscribe()
        finally:
            # The client starts its threads lazily, on the first subscription.
            self._threads = native_threads() - before

    async def subscribe(self) -> None:
        assert self._client is not None
        try:
            consumer = await self._client.subscribe(
                self.topic,
                self.subscription,
                consumer_type=self._consumer_type,
                initial_position=self._initial_position,
                consumer_name=self._consumer_name,
                receiver_queue_size=self._prefetch,
                max_total_receiver_queue_size_across_partitions=self._prefetch,
            )
        except pulsar.asyncio.PulsarException as exc:
            raise EventStreamError(
                f"cannot subscribe to {self.topic!r} as {self.subscription!r} at {self.url}: {exc}"
            ) from None
        self._consumer = consumer._consumer
        self._pending = None

    async def receive(self) -> Received:
        """The next message. Cancelling the caller leaves the broker receive pending for the next call."""
        if self._pending is None:
            self._pending = self._start(self._consumer.receive_async)
        pending = self._pending
        try:
            message = await asyncio.shield(pending)
        finally:
            if pending.done():
                self._pending = None
        topic = message.topic_name()
        message_id = message.message_id()
        text_id = str(message_id)
        return Received(message.data(), message.properties(), (topic, text_id), text_id, message_id)

    def acknowledge(self, handle: Any) -> None:
        """Fire-and-forget acknowledgement by message id, on whichever consumer is current."""
        if self._consumer is not None:
            self._consumer.acknowledge_async(handle, _ack_done)

    async def resubscribe(self) -> None:
        """Drop a broken consumer and subscribe again (the client itself reconnects on its own)."""
        await self._close_consumer(self._operation_timeout)
        await self.subscribe()

    async def close(self, grace: float) -> None:
        """Close consumer and client; past ``grace`` seconds the client is shut down without waiting for the broker."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # Closing starts a thread of its own (the client finishes its shutdown on a detached thread).
        before_close = native_threads()
        await self._close_consumer(grace)
        if self._client is not None:
            closed = self._start(self._client._client.close_async)
            try:
                await asyncio.wait_for(closed, max(0.0, deadline - loop.time()))
            except (TimeoutError, EventStreamError) as exc:
                logger.debug("pulsar client did not close cleanly (%s); shutting it down", type(exc).__name__)
            finally:
                self.shutdown()
        # shutdown() dropped the last reference to the client, whose destructor has stopped its threads; the
        # last of them may still be finishing (see the top of this module).
        self._threads |= native_threads() - before_close
        wait_until = loop.time() + min(_THREAD_EXIT_WAIT, max(grace, 0.1))
        while threads_alive(self._threads) and loop.time() < wait_until:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.001)
        leftover = {tid for tid in self._threads | _exiting_threads if threads_alive({tid})}
        _exiting_threads.clear()
        _exiting_threads.update(leftover)
        self._threads = set()

    def shutdown(self) -> None:
        """Stop the client at once, without waiting for the broker (synchronous; safe to repeat)."""
        client, self._client = self._client, None
        consumer, self._consumer = self._consumer, None
        _open_sources.discard(self)
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.close()
        if client is not None:
            client.shutdown()

    async def _close_consumer(self, grace: float) -> None:
        consumer, self._consumer = self._consumer, None
        pending, self._pending = self._pending, None
        if consumer is None:
            return
        closed = self._start(consumer.close_async)
        try:
            await asyncio.wait_for(closed, grace)
        except (TimeoutError, EventStreamError) as exc:
            logger.debug("pulsar consumer did not close cleanly: %s", type(exc).__name__)
        if pending is not None:
            # A pending receive is completed with AlreadyClosed by the close; nothing waits on it any more.
            pending.add_done_callback(_consume_outcome)

    def _start(self, operation: Callable[[Callable[[Any, Any], None]], None]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def done(result: Any, value: Any = None) -> None:
            _settle_later(loop, future, result, value)

        operation(done)
        return future

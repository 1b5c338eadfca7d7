"""The Pulsar source: Tuya ``auth1`` login, one consumer on the project's topic, batched receives, acks.

``pulsar`` is imported only when a :class:`PulsarSource` opens, so ``import lockcloud.events`` never loads it.
pulsar-client is the ``lockcloud[pulsar]`` extra: without it, making a :class:`PulsarSource` raises
:class:`~lockcloud.EventStreamError` naming the extra (the WebSocket source needs none).

Receiving takes whatever pulsar-client has already queued straight from the event loop's thread, up to
``receive_window`` messages a batch, and leaves one ``receive_async`` pending only when the queue is empty: its
completion (on a pulsar-client thread) wakes the event loop once for the next batch, not once per message.
Every completion hops onto the loop through :func:`_call_soon`, which ignores a loop that has already closed:
``pulsar.asyncio``'s own futures call ``call_soon_threadsafe`` unguarded, and a completion arriving after the loop
is gone aborts the whole process. That is why the raw consumer and client calls are used here.

pulsar-client's own log goes to a private file that is forwarded to the ``lockcloud.events.pulsar`` logger
(never to the user's stderr; a Python logger handed to pulsar-client can abort the process at exit), or to
``log_file`` when one is given.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import ssl
import tempfile
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args

import attrs

from lockcloud._core import validation
from lockcloud._core.errors import (
    EventStreamError,
    PlaintextPulsarWarning,
    StreamAuthenticationError,
    StreamSubscriptionError,
    SubscribeError,
    ValidationError,
)
from lockcloud._core.network import is_local_host, pulsar_address, warn_if_plain
from lockcloud._core.wire import topic_for, topic_partition
from lockcloud.crypto import pulsar_password
from lockcloud.events._source import Outcome, SourceClosed, SourceMessage
from lockcloud.events._subscription import (
    PULSAR_CLIENT,
    SubscriptionOptions,
    SubscriptionSettings,
    one_of,
    optional_text,
)

__all__ = [
    "PlaintextPulsarWarning",
    "PulsarOptions",
    "PulsarSettings",
    "PulsarSource",
    "auth_params",
    "topic_for",
]

logger = logging.getLogger("lockcloud.events")
pulsar_logger = logging.getLogger("lockcloud.events.pulsar")

LogLevel = Literal["debug", "info", "warn", "warning", "error"]

_LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)
#: Subscribing gives up after this many connect_timeouts in all (see PulsarSource._subscribe: pulsar-lite's ids).
_SUBSCRIBE_ATTEMPTS = 4
#: What pulsar-client is given, beyond its own operation timeout, to answer a subscribe.
_ANSWER_MARGIN = 5.0


def _attempt_seconds(options: PulsarOptions) -> int:
    """pulsar-client's operation timeout (whole seconds), which bounds each subscribe attempt.

    On a broker on this machine (pulsar-lite, whose consumer ids collide between processes) an eighth of
    ``connect_timeout``, so that a colliding attempt fails fast and the next one, with fresh ids, follows; on any
    other broker ``connect_timeout`` itself (capped by ``operation_timeout``), as a distant broker may need it.
    """
    if is_local_host(urllib.parse.urlsplit(options.url).hostname or ""):
        return max(1, int(options.connect_timeout / 8))
    return max(1, round(min(options.operation_timeout, options.connect_timeout)))


def auth_params(access_id: str, access_secret: str) -> str:
    """``auth_params_string`` for ``pulsar.AuthenticationBasic`` that makes it send Tuya's ``auth1`` data.

    Basic authentication sends ``username + ":" + password``; splitting Tuya's JSON document at its colon gives
    exactly ``{"username":"<id>","password":"<md5 password>"}`` on the wire.
    """
    password = pulsar_password(access_id, access_secret)
    return json.dumps(
        {
            "username": '{"username":' + json.dumps(access_id) + ',"password"',
            "password": json.dumps(password) + "}",
            "method": "auth1",
        }
    )


class PulsarSettings(SubscriptionSettings, total=False):
    """The Pulsar keywords of ``LockCloud.events()`` (see :class:`PulsarOptions` for each)."""

    receive_window: int
    operation_timeout: float
    pulsar_log_level: LogLevel
    pulsar_log_file: str | None


@attrs.frozen(kw_only=True)
class PulsarOptions(SubscriptionOptions):
    """Where and how a :class:`PulsarSource` subscribes: the options of :class:`SubscriptionOptions`, and these.

    ``url`` is the broker's ``pulsar+ssl://`` (or plain ``pulsar://``) URL, and ``receive_window`` the most
    messages handed over in one batch. Each subscribe attempt is bounded by pulsar-client's own operation timeout:
    ``connect_timeout`` (at most ``operation_timeout``), an eighth of it on a broker on this machine; one that
    times out is tried again with fresh consumer ids, for up to 4 ``connect_timeout`` in all (a consumer joining
    others on a local pulsar-lite broker needs that), except on an exclusive subscription. ``log_level`` /
    ``log_file`` set pulsar-client's own log (see the module docstring); as keywords of ``LockCloud.events()``
    they are ``pulsar_log_level`` / ``pulsar_log_file``.
    """

    receive_window: int = attrs.field(default=500, validator=validation.positive_count)
    operation_timeout: float = attrs.field(default=30.0, validator=validation.positive_timeout)
    log_level: LogLevel = attrs.field(default="warn", validator=one_of(_LOG_LEVELS), metadata=PULSAR_CLIENT)
    log_file: str | None = attrs.field(default=None, validator=optional_text, metadata=PULSAR_CLIENT)

    def _check_url(self, value: object) -> None:
        validation.url(value, "url", schemes=("pulsar+ssl", "pulsar"))


# The same refusals raise the same classes over either transport (see lockcloud/events/_websocket.py).
_ERROR_OF_REASON: dict[str, type[SubscribeError]] = {
    "auth": StreamAuthenticationError,
    "busy": StreamSubscriptionError,
}

# -- pulsar-client, loaded on first use ------------------------------------------------------------------------

PULSAR_EXTRA_MISSING = (
    "the native Pulsar transport needs pulsar-client, which is not installed: pip install 'lockcloud[pulsar]',"
    " or read the same topic over WebSocket (cloud.events(transport='websocket'), lockcloud listen --websocket)"
)

_native: Any = None


def require_pulsar_client() -> None:
    """Raise :class:`~lockcloud.EventStreamError` naming the ``pulsar`` extra unless pulsar-client is installed."""
    import importlib.util

    if _native is None and importlib.util.find_spec("pulsar") is None:
        raise EventStreamError(PULSAR_EXTRA_MISSING)


def _load() -> Any:
    global _native
    if _native is None:
        require_pulsar_client()
        import pulsar

        _native = pulsar
    return _native


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    # Runs on a pulsar-client thread. RuntimeError: the loop has closed, the process is shutting down; an
    # unacknowledged message comes back later.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback, *args)


def _ack_done(result: Any) -> None:
    # Runs on a pulsar-client thread. A lost acknowledgement only means a redelivery, which the stream dedupes.
    pass


# Interpreter exit versus pulsar-client's threads
# ------------------------------------------------
# pulsar-client (3.13) aborts or segfaults the interpreter at exit ("terminate called without an active
# exception") when one of its native threads is still running while the interpreter finalizes. That happens
# (1) when a client was never closed, and (2) even after a clean close: the client's destructor lets a detached
# thread finish on its own, for a millisecond or two, and under CPU load the interpreter can get to finalization
# first. So a source remembers the native threads its client started (Linux: /proc/self/task), drops every
# reference to the client when closing so that its destructor runs, and waits for those threads (and the one
# closing starts) to be gone. At exit, clients that were never closed are shut down the same way.

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
    # Completions triggered here find the event loop closed and are dropped by _call_soon.
    before = native_threads()
    for source in list(_open_sources):
        source.shutdown()
        _exiting_threads.update(source._threads)
    _exiting_threads.update(native_threads() - before)
    deadline = time.monotonic() + _THREAD_EXIT_WAIT
    while threads_alive(_exiting_threads) and time.monotonic() < deadline:
        time.sleep(0.001)


class _LogForwarder:
    """Tails the file pulsar-client logs to and passes each new line to :mod:`logging`."""

    def __init__(self) -> None:
        handle, self.path = tempfile.mkstemp(prefix="lockcloud-pulsar-", suffix=".log")
        os.close(handle)
        self._offset = 0
        self._partial = b""
        self.last = time.monotonic()

    def forward(self) -> None:
        self.last = time.monotonic()
        try:
            with open(self.path, "rb") as log:
                log.seek(self._offset)
                chunk = log.read()
        except OSError:
            return
        if not chunk:
            return
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                pulsar_logger.log(_level_of(line), "%s", line)

    def remove(self) -> None:
        self.forward()
        with contextlib.suppress(OSError):
            os.unlink(self.path)


def _level_of(line: str) -> int:
    head = line[:80].upper()
    for token, level in ((" ERROR ", logging.ERROR), (" WARN ", logging.WARNING), (" INFO ", logging.INFO)):
        if token in head:
            return level
    return logging.DEBUG


class _Receiver:
    """Takes one consumer's messages in order, with no pulsar-client thread running Python per message.

    What is already in pulsar-client's receiver queue is taken synchronously (``receive(0)`` returns at once), in
    batches of at most ``batch``. Only once the queue is empty does a single ``receive_async`` wait for the next
    message; its completion, on a pulsar-client thread, stores the message and wakes the event loop once. A
    pending receive gets the next message before anything is queued behind it, so taking its message first keeps
    the order. (A completion per message on a pulsar-client thread must take the GIL from the busy event loop each
    time, which throttled delivery: draining a backlog spent most of its time waiting for that hand-over.)
    """

    __slots__ = ("arrived", "batch", "consumer", "failure", "lock", "loop", "pending", "waiter")

    def __init__(self, consumer: Any, loop: asyncio.AbstractEventLoop, batch: int) -> None:
        self.consumer = consumer
        self.loop = loop
        self.batch = batch
        self.lock = threading.Lock()
        # A receive_async is outstanding; nothing is ready until it completes.
        self.pending = False
        # The message the last receive_async brought, not yet taken.
        self.arrived: Any = None
        # A pulsar Result or exception once receiving failed; nothing more is received after it.
        self.failure: Any = None
        self.waiter: asyncio.Future[None] | None = None

    def take(self) -> list[Any]:
        """The messages ready now (at most ``batch``), in order; if none, a receive is left pending."""
        with self.lock:
            if self.pending or self.failure is not None:
                return []
            first, self.arrived = self.arrived, None
        taken = [] if first is None else [first]
        receive = self.consumer.receive
        try:
            while len(taken) < self.batch:
                taken.append(receive(0))
        except _native.Timeout:
            if not taken:
                self._wait_for_next()
        except Exception as exc:
            # AlreadyClosed, or the connection failed: the source raises it once this batch is handed over.
            self.failure = exc
        return taken

    def _wait_for_next(self) -> None:
        self.pending = True
        try:
            self.consumer.receive_async(self.done)  # may complete at once, on this thread
        except Exception as exc:
            with self.lock:
                self.pending = False
                self.failure = exc

    def done(self, result: Any, message: Any) -> None:
        # Runs on a pulsar-client thread, or inside receive_async when a message was queued meanwhile.
        with self.lock:
            self.pending = False
            if result == _native.Result.Ok:
                self.arrived = message
            else:
                self.failure = result
            waiter, self.waiter = self.waiter, None
        if waiter is not None:
            _call_soon(self.loop, _wake, waiter)

    def closed(self) -> bool:
        failure = self.failure
        return failure == _native.Result.AlreadyClosed or isinstance(failure, _native.AlreadyClosed)

    async def next_batch(self) -> list[Any]:
        """The messages ready (waiting for at least one); :class:`ReceiveFailed` once receiving has failed."""
        while True:
            taken = self.take()
            if taken:
                return taken
            with self.lock:
                failure = self.failure
                waiter: asyncio.Future[None] | None = None
                if failure is None and self.pending:
                    waiter = self.waiter = self.loop.create_future()
            if failure is not None:
                raise ReceiveFailed(failure)
            if waiter is None:
                continue  # the receive completed meanwhile
            try:
                await waiter
            finally:
                with self.lock:
                    if self.waiter is waiter:
                        self.waiter = None


class ReceiveFailed(Exception):
    """Receiving from a consumer failed (``args[0]``: pulsar-client's Result or exception)."""


def batch_receiver(consumer: Any, batch: int) -> _Receiver:
    """Takes ``consumer``'s messages (a raw pulsar-client consumer) in batches of at most ``batch``, from the
    running event loop's thread; see :class:`_Receiver`. Close the consumer to end it."""
    _load()
    return _Receiver(consumer, asyncio.get_running_loop(), batch)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class PulsarSource:
    """A :class:`~lockcloud.events.Source` reading the project's Pulsar topic through one consumer.

    Keys are ``(topic, message id)``; acknowledgements are individual and fire-and-forget; :meth:`redeliver` is a
    negative acknowledgement. A plaintext ``pulsar://`` URL to another host warns (:class:`PlaintextPulsarWarning`)
    once per host.
    """

    def __init__(self, options: PulsarOptions) -> None:
        if not isinstance(options, PulsarOptions):
            raise ValidationError("PulsarSource takes a PulsarOptions")
        require_pulsar_client()
        warn_if_plain(options.url, what="the push URL", stacklevel=4)
        self.options = options
        self.url = options.url
        self.topic = options.topic
        self.subscription = options.subscription_name
        self._client: Any = None
        self._consumer: Any = None
        self._receiver: _Receiver | None = None
        self._closed = False
        self._threads: set[int] = set()
        self._log: _LogForwarder | None = None
        # Topic name -> partition number (None: not partitioned), parsed once per topic rather than per message.
        self._partitions: dict[str, int | None] = {}

    @property
    def description(self) -> str:
        return f"{self.url} topic {self.topic!r} subscription {self.subscription!r}"

    def __repr__(self) -> str:
        return f"PulsarSource(url={self.url!r}, topic={self.topic!r}, subscription={self.subscription!r})"

    # -- opening ------------------------------------------------------------------------------------------------

    def _failure(self, what: str, reason: str, fix: str) -> SubscribeError:
        kind = _ERROR_OF_REASON.get(reason, SubscribeError)
        return kind(
            what, reason=reason, url=self.url, topic=self.topic, subscription=self.subscription, fix=fix
        )

    def _client_options(self, pulsar: Any, log_path: str) -> dict[str, Any]:
        options = self.options
        level = {
            "debug": pulsar.LoggerLevel.Debug,
            "info": pulsar.LoggerLevel.Info,
            "warn": pulsar.LoggerLevel.Warn,
            "warning": pulsar.LoggerLevel.Warn,
            "error": pulsar.LoggerLevel.Error,
        }[options.log_level]
        client_options: dict[str, Any] = {
            "authentication": pulsar.AuthenticationBasic(
                auth_params_string=auth_params(options.access_id, options.access_secret)
            ),
            "operation_timeout_seconds": _attempt_seconds(options),
            "connection_timeout_ms": max(1, round(options.connect_timeout * 1000)),
            "logger": pulsar.FileLogger(level, log_path),
        }
        if options.verify is False:
            # Explicit opt-out only: Tuya's official SDKs always skip verification, lockcloud never does by default.
            client_options.update(tls_allow_insecure_connection=True, tls_validate_hostname=False)
        else:
            client_options.update(
                tls_trust_certs_file_path=self._ca_file(),
                tls_allow_insecure_connection=False,
                tls_validate_hostname=True,
            )
        return client_options

    def _ca_file(self) -> str:
        if isinstance(self.options.verify, str):
            return self.options.verify
        import certifi

        return certifi.where()

    async def open(self) -> None:
        """Check the broker is reachable (and its certificate trusted), then create the client and subscribe.

        Raises :class:`~lockcloud.SubscribeError` within ``connect_timeout`` (plus the time to subscribe) naming
        the cause and the fix.
        """
        if self._closed:
            raise SourceClosed("this source was closed")
        await self._probe()
        pulsar = _load()
        before = native_threads()
        if self.options.log_file:
            log_path = self.options.log_file
        else:
            self._log = _LogForwarder()
            log_path = self._log.path
        try:
            self._client = pulsar.Client(self.url, **self._client_options(pulsar, log_path))._client
        except Exception as exc:
            raise self._failure(
                f"pulsar-client refused the settings ({exc})", "failed", "check the URL"
            ) from None
        _open_sources.add(self)
        try:
            await self._subscribe()
        finally:
            # The client starts its threads lazily, on the first subscription.
            self._threads = native_threads() - before
            self._forward_log()

    async def _probe(self) -> None:
        """A TCP (and for pulsar+ssl, a TLS) handshake of our own, so that these failures are fast and named."""
        host, port = pulsar_address(self.url)
        tls = urllib.parse.urlsplit(self.url).scheme == "pulsar+ssl"
        context: ssl.SSLContext | None = None
        if tls:
            context = ssl.create_default_context(
                cafile=self._ca_file() if self.options.verify is not False else None
            )
            if self.options.verify is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        timeout = self.options.connect_timeout
        try:
            async with asyncio.timeout(timeout):
                _, writer = await asyncio.open_connection(
                    host, port, ssl=context, server_hostname=host if tls else None
                )
        except ssl.SSLCertVerificationError as exc:
            raise self._failure(
                f"the broker's TLS certificate is not trusted ({exc.verify_message})",
                "tls",
                "check the URL is the region's push endpoint and the system clock; for a private CA pass "
                "verify='/path/to/ca.pem' (verify=False switches checking off)",
            ) from None
        except ssl.SSLError as exc:
            raise self._failure(
                f"the TLS handshake failed ({exc.reason or exc})",
                "tls",
                "pulsar+ssl:// needs a TLS endpoint (the plaintext port takes pulsar://)",
            ) from None
        except ConnectionRefusedError:
            raise self._failure(
                "the connection was refused",
                "refused",
                "check that the broker runs and the host and port are right (Tuya: port 7285 open outbound)",
            ) from None
        except TimeoutError:
            raise self._failure(
                f"no connection within connect_timeout={timeout:g} s",
                "unreachable",
                "check the host, the network and the firewall (Tuya: port 7285 open outbound)",
            ) from None
        except OSError as exc:
            raise self._failure(
                f"cannot connect ({exc.strerror or exc})",
                "unreachable",
                "check the host name and the network",
            ) from None
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()

    async def _subscribe(self) -> None:
        pulsar = _load()
        _pulsar = pulsar._pulsar

        options = self.options
        conf = _pulsar.ConsumerConfiguration()
        conf.consumer_type(
            {
                "failover": pulsar.ConsumerType.Failover,
                "exclusive": pulsar.ConsumerType.Exclusive,
                "shared": pulsar.ConsumerType.Shared,
                "key_shared": pulsar.ConsumerType.KeyShared,
            }[options.subscription_type]
        )
        conf.receiver_queue_size(options.receiver_queue_size)
        conf.max_total_receiver_queue_size_across_partitions(options.receiver_queue_size)
        if options.consumer_name:
            conf.consumer_name(options.consumer_name)
        conf.subscription_initial_position(
            pulsar.InitialPosition.Earliest
            if options.initial_position == "earliest"
            else pulsar.InitialPosition.Latest
        )
        conf.schema(pulsar.schema.BytesSchema().schema_info())
        loop = asyncio.get_running_loop()
        # pulsar-lite keys a subscription's consumers by the id the client gave them, and every client numbers
        # its consumers from 0 (one per partition): a process joining others on a subscription collides, the
        # broker drops the connection, and pulsar-client retries the same ids until its operation timeout fails
        # the subscribe (Result.Timeout). The next attempt gets fresh ids. (Pulsar itself scopes ids by
        # connection.) So each attempt is bounded by pulsar-client itself, whose operation timeout is a fraction of
        # connect_timeout (see _attempt_seconds): no attempt is ever abandoned while pulsar-client still runs it,
        # where it could later take partitions behind our back. Listeners started together then subscribe one
        # after another, an attempt apart. An exclusive subscription is not meant to be joined: one attempt.
        started = loop.time()
        budget = options.connect_timeout * _SUBSCRIBE_ATTEMPTS
        attempt_seconds = _attempt_seconds(options)
        attempts = 0
        while True:
            attempts += 1
            subscribed: asyncio.Future[Any] = loop.create_future()

            def done(value: Any, subscribed: asyncio.Future[Any] = subscribed) -> None:
                _call_soon(loop, _settle_value, subscribed, value)

            self._client.subscribe_async_v2(self.topic, self.subscription, conf, done)
            try:
                # pulsar-client answers within its operation timeout; the margin is for a loaded machine.
                async with asyncio.timeout(attempt_seconds + _ANSWER_MARGIN):
                    value = await asyncio.shield(subscribed)
            except TimeoutError:
                # pulsar-client did not answer at all: stop the whole client, so that nothing it was still doing
                # can subscribe later, and report it.
                subscribed.add_done_callback(_close_late_consumer)
                self.shutdown()
                raise self._failure(
                    f"pulsar-client did not answer the subscribe within {attempt_seconds + _ANSWER_MARGIN:g} s",
                    "timeout",
                    "see the lockcloud.events.pulsar log",
                ) from None
            timed_out = isinstance(value, _pulsar.Error) and value.error == pulsar.Result.Timeout
            if not timed_out:
                break
            if options.subscription_type == "exclusive" or loop.time() - started + attempt_seconds > budget:
                raise self._failure(
                    f"the broker did not confirm the subscription within {loop.time() - started:.0f} s"
                    + (f" ({attempts} attempts of {attempt_seconds:g} s)" if attempts > 1 else ""),
                    "timeout",
                    "another consumer may be holding the subscription (a running 'lockcloud listen', or another "
                    "process): stop it or pass a subscription of your own",
                )
            logger.info(
                "subscribing to %s timed out after %g s (attempt %d); trying again",
                self.topic,
                attempt_seconds,
                attempts,
            )
        if isinstance(value, _pulsar.Error):
            raise self._subscribe_error(value.error, value.message) from None
        self._consumer = value
        self._receiver = _Receiver(value, loop, options.receive_window)

    def _subscribe_error(self, result: Any, message: str) -> SubscribeError:
        pulsar = _load()
        if result in (pulsar.Result.AuthenticationError, pulsar.Result.AuthorizationError):
            return self._failure(
                f"the broker refused the credentials ({result})",
                "auth",
                "check the access id and secret, and that the project subscribes to the message service",
            )
        if result == pulsar.Result.ConsumerBusy:
            return self._failure(
                "another consumer holds the subscription",
                "busy",
                "stop the other consumer (a running 'lockcloud listen'?) or pass a subscription of your own",
            )
        if result in (pulsar.Result.ConnectError, pulsar.Result.Timeout):
            return self._failure(
                f"no usable connection to the broker ({result})",
                "unreachable" if result == pulsar.Result.ConnectError else "timeout",
                "check the URL, the network, and (pulsar+ssl) the certificate; see the lockcloud.events.pulsar log",
            )
        detail = f"{result}: {message}" if message else str(result)
        return self._failure(f"the broker answered {detail}", "failed", "see the lockcloud.events.pulsar log")

    # -- receiving ----------------------------------------------------------------------------------------------

    async def receive(self) -> Sequence[SourceMessage]:
        """Every message ready (at least one). Cancelling the caller loses nothing: the receive stays pending."""
        while True:
            receiver = self._receiver
            if receiver is None:
                if self._closed:
                    raise SourceClosed("the source is closed")
                raise EventStreamError("no consumer (subscribing again failed)")
            taken = receiver.take()
            if taken:
                if self._log is not None and time.monotonic() - self._log.last > 1.0:
                    self._log.forward()
                message = self._message
                return [message(raw) for raw in taken]
            with receiver.lock:
                failure = receiver.failure
                waiter: asyncio.Future[None] | None = None
                if failure is None and receiver.pending:
                    waiter = receiver.waiter = receiver.loop.create_future()
            if failure is not None:
                self._forward_log()
                if self._closed or receiver.closed():
                    raise SourceClosed("the consumer was closed")
                raise EventStreamError(f"the consumer failed: {failure}")
            if waiter is None:
                continue  # the receive completed meanwhile
            try:
                await waiter
            finally:
                with receiver.lock:
                    if receiver.waiter is waiter:
                        receiver.waiter = None
                # When the stream closes, its pump is cancelled here, and the cancelled task keeps this frame in
                # its traceback: holding the consumer from it kept pulsar-client's resolver thread alive, and
                # close() waited a full second for that thread to go.
                del receiver

    def _message(self, raw: Any) -> SourceMessage:
        topic = raw.topic_name()
        text_id = str(raw.message_id())
        partitions = self._partitions
        partition = partitions.get(topic, -1)
        if partition == -1:
            partition = partitions[topic] = topic_partition(topic)
        # The handle is pulsar-client's message itself: acknowledging by message costs less than by message id.
        return SourceMessage(
            raw.data(),
            raw.properties(),
            (topic, text_id),
            message_id=text_id,
            handle=raw,
            topic=topic,
            partition=partition,
            published_at=raw.publish_timestamp() / 1000.0,
        )

    def acknowledge(self, message: SourceMessage) -> None:
        """Fire-and-forget acknowledgement of the message, on whichever consumer is current."""
        consumer = self._consumer
        if consumer is not None:
            consumer.acknowledge_async(message.handle, _ack_done)

    def redeliver(self, message: SourceMessage) -> None:
        """Negative acknowledgement: the broker offers the message again after its redelivery delay."""
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                self._consumer.negative_acknowledge(message.handle)

    def report(self, message: SourceMessage, outcome: Outcome) -> None:
        """Nothing to do: the broker learns what matters from acknowledgements."""

    async def resubscribe(self) -> None:
        """Drop a broken consumer and subscribe again (the client itself reconnects on its own)."""
        if self._closed:
            raise SourceClosed("the source is closed")
        await self._close_consumer(self.options.operation_timeout)
        await self._subscribe()

    # -- closing ------------------------------------------------------------------------------------------------

    async def close(self, grace: float) -> None:
        """Close consumer and client; past ``grace`` seconds the client is shut down without waiting for the broker."""
        self._closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # Closing starts a thread of its own (the client finishes its shutdown on a detached thread).
        before_close = native_threads()
        await self._close_consumer(grace)
        if self._client is not None:
            closed = self._start(self._client.close_async)
            try:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    await closed
            except (TimeoutError, EventStreamError) as exc:
                logger.debug("pulsar client did not close cleanly (%s); shutting it down", type(exc).__name__)
            finally:
                self.shutdown()
        # shutdown() dropped the last reference to the client, whose destructor has stopped its threads; the
        # last of them may still be finishing (see above).
        self._threads |= native_threads() - before_close
        wait_until = loop.time() + min(_THREAD_EXIT_WAIT, max(grace, 0.1))
        while threads_alive(self._threads) and loop.time() < wait_until:  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.001)
        leftover = {tid for tid in self._threads | _exiting_threads if threads_alive({tid})}
        _exiting_threads.clear()
        _exiting_threads.update(leftover)
        self._threads = set()
        if self._log is not None:
            self._log.remove()
            self._log = None

    def shutdown(self) -> None:
        """Stop the client at once, without waiting for the broker (synchronous; safe to repeat)."""
        self._closed = True
        client, self._client = self._client, None
        consumer, self._consumer = self._consumer, None
        self._receiver = None
        _open_sources.discard(self)
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.close()
        if client is not None:
            client.shutdown()

    async def _close_consumer(self, grace: float) -> None:
        consumer, self._consumer = self._consumer, None
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            with receiver.lock:
                waiter, receiver.waiter = receiver.waiter, None
            if waiter is not None:
                _wake(waiter)
        if consumer is None:
            return
        closed = self._start(consumer.close_async)
        try:
            async with asyncio.timeout(grace):
                await closed
        except (TimeoutError, EventStreamError) as exc:
            logger.debug("pulsar consumer did not close cleanly: %s", type(exc).__name__)

    def _forward_log(self) -> None:
        if self._log is not None:
            self._log.forward()

    def _start(self, operation: Callable[[Callable[[Any], None]], None]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def done(result: Any) -> None:
            _call_soon(loop, _settle_result, future, result)

        operation(done)
        return future


def _settle_result(future: asyncio.Future[Any], result: Any) -> None:
    if future.done():
        return
    if result == _native.Result.Ok:
        future.set_result(None)
    else:
        future.set_exception(EventStreamError(f"pulsar operation failed: {result}"))


def _settle_value(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _close_late_consumer(future: asyncio.Future[Any]) -> None:
    # A subscription confirmed after we gave up on it: close that consumer rather than leave it holding messages.
    if future.cancelled():
        return
    value = future.result()
    if not isinstance(value, _native._pulsar.Error):
        with contextlib.suppress(Exception):
            value.close_async(_ack_done)

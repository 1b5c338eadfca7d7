"""``EventStream``: at-least-once delivery of typed push events through async iterators.

How a message travels
---------------------
One pump task takes messages from the source (the Pulsar consumer; for a webhook stream, the HTTP handler calls
:meth:`EventStream._accept` itself), one at a time and in order:

1. **Dedupe.** The broker's message id is looked up in a window of the last ``dedupe_window`` ids. A redelivery of a
   message already acknowledged is acknowledged again and dropped; a redelivery of one still being worked on is
   dropped and acknowledged together with the original.
2. **Decode.** A message that cannot be decoded goes to the dead-letter sink and is then acknowledged, so that it
   can never block its partition. If the sink itself fails, the message stays unacknowledged (and is logged).
3. **Fan out.** The event goes to the stream's own iterator (the *firehose*, unless ``firehose=False``) and to every
   open :class:`Subscription` whose filter matches, each through a bounded buffer. A full buffer makes the pump
   wait: memory stays bounded whatever the backlog, and a slow reader slows the stream instead of losing events.
4. **Acknowledge.** Every recipient holds a claim on the message. A claim is released when its iterator is asked
   for the next item, by ``event.ack()``, or when the ``async with`` of a subscription or of the stream is left
   without an exception. The broker acknowledgement is sent once every claim is released. A loop body that raises
   leaves its message unacknowledged: the broker delivers it again after the next subscription.

Closing the stream acknowledges nothing that is still buffered: those messages come back next time.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import hashlib
import logging
import os
import random
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, TypeVar, overload

import attrs

from lockcloud._errors import DecodeError, EventStreamError, ValidationError
from lockcloud._wire import topic_for
from lockcloud.events._dead_letters import DeadLetterSink, as_sink, deliver
from lockcloud.events._decode import _decode
from lockcloud.events._models import DeadLetter, EnrollmentProgress, Event, StreamStats

if TYPE_CHECKING:
    from lockcloud.events._pulsar import PulsarSource
    from lockcloud.events._websocket import WebSocketSource

__all__ = ["EventStream", "Subscription"]

logger = logging.getLogger("lockcloud.events")

E = TypeVar("E", bound=Event)
T = TypeVar("T")

SubscriptionType = Literal["failover", "exclusive", "shared", "key_shared"]
InitialPosition = Literal["latest", "earliest"]
Transport = Literal["pulsar", "websocket"]

PULSAR_EXTRA_MISSING = (
    "the native Pulsar transport needs pulsar-client: pip install 'lockcloud[pulsar]',"
    " or use the WebSocket transport (transport='websocket')"
)


def require_pulsar_client() -> None:
    """Raise :class:`EventStreamError` naming the ``pulsar`` extra unless pulsar-client is installed."""
    import importlib.util

    if importlib.util.find_spec("pulsar") is None:
        raise EventStreamError(PULSAR_EXTRA_MISSING)


class SourceClosed(EventStreamError):
    """The source was closed while an operation on it was pending (internal: the stream handles it)."""


class Outcome(enum.Enum):
    """What the stream did with one incoming message."""

    BUFFERED = "buffered"
    DUPLICATE = "duplicate"
    DEAD_LETTER = "dead_letter"
    DEAD_LETTER_FAILED = "dead_letter_failed"
    UNMATCHED = "unmatched"
    CLOSED = "closed"


class Received:
    """One incoming message as the stream sees it, wherever it came from.

    ``key`` identifies the message for deduplication; ``handle`` is what the source needs to acknowledge it.
    ``rejected`` is set by a source that already knows the message must go to the dead letters (a WebSocket
    frame that is not JSON, say).
    """

    __slots__ = ("handle", "key", "message_id", "payload", "properties", "rejected")

    def __init__(
        self, payload: bytes, properties: dict[str, str], key: object, message_id: str | None, handle: Any
    ) -> None:
        self.payload = payload
        self.properties = properties
        self.key = key
        self.message_id = message_id
        self.handle = handle
        self.rejected: DecodeError | None = None


class _Closed(Exception):
    """Internal: the channel was closed (never leaves this module)."""


class _Channel(Generic[T]):
    """A bounded FIFO between the pump and one iterator. Cancelling either side loses nothing."""

    def __init__(self, capacity: int) -> None:
        self._items: collections.deque[T] = collections.deque()
        self._capacity = max(1, capacity)
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._putters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, item: T) -> bool:
        """Append ``item``, waiting while the channel is full; False (item not taken) once it is closed."""
        while len(self._items) >= self._capacity and not self.closed:
            await self._wait(self._putters)
        if self.closed:
            return False
        self._items.append(item)
        self._wake(self._getters)
        return True

    async def get(self) -> T:
        while not self._items:
            if self.closed:
                raise _Closed
            await self._wait(self._getters)
        item = self._items.popleft()
        self._wake(self._putters)
        return item

    def close(self) -> list[T]:
        """Close, wake every waiter, and return what was still buffered."""
        self.closed = True
        left = list(self._items)
        self._items.clear()
        for waiters in (self._getters, self._putters):
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)
        return left

    async def _wait(self, waiters: collections.deque[asyncio.Future[None]]) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Woken and cancelled in the same step: pass the wake-up on, or another waiter would sleep on.
                self._wake(waiters)
            raise
        finally:
            if waiter in waiters:
                waiters.remove(waiter)

    @staticmethod
    def _wake(waiters: collections.deque[asyncio.Future[None]]) -> None:
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class _Delivery:
    """One incoming message while recipients work on it; acknowledged when the last claim is released."""

    __slots__ = ("acknowledged", "duplicates", "outstanding", "received", "stream")

    def __init__(self, stream: EventStream, received: Received, outstanding: int) -> None:
        self.stream = stream
        self.received = received
        self.outstanding = outstanding
        self.duplicates: list[Received] = []
        self.acknowledged = False

    def release_one(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0:
            self.stream._completed(self)


class _Claim:
    """One recipient's share of a delivery (what ``event.ack()`` releases)."""

    __slots__ = ("delivery", "released")

    def __init__(self, delivery: _Delivery) -> None:
        self.delivery = delivery
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.delivery.release_one()

    @property
    def acknowledged(self) -> bool:
        return self.delivery.acknowledged


_ACKNOWLEDGED = object()


class _Cursor(Generic[E]):
    """Iteration over one channel: the previous event is released when the next one is asked for."""

    def __init__(self, stream: EventStream, capacity: int) -> None:
        self.stream = stream
        self.channel: _Channel[E] = _Channel(capacity)
        self.current: E | None = None

    async def next(self) -> E:
        self.release_current()
        try:
            event = await self.channel.get()
        except _Closed:
            self.stream._raise_if_failed()
            raise StopAsyncIteration from None
        self.current = event
        return event

    def release_current(self) -> None:
        current, self.current = self.current, None
        if current is not None:
            current.ack()


class Subscription(Generic[E]):
    """The events of one stream that match a filter, for one consumer; made by :meth:`EventStream.subscribe`.

    It receives events from the moment it is created. Use it as ``async with`` and iterate it::

        async with stream.enrollment_progress(device_id) as progress:
            async for event in progress:
                if event.finish:
                    break

    Leaving the ``async with`` normally counts as done with the last event; leaving it with an exception leaves
    that event unacknowledged. Events buffered but never taken are released (this subscriber does not want them;
    other recipients still hold their own claims). An open subscription nobody reads from eventually stalls the
    stream (its buffer fills up), so always close it. ``asyncio.timeout`` around ``anext(subscription)`` is safe:
    a cancelled wait loses nothing.
    """

    def __init__(
        self,
        stream: EventStream,
        *,
        device_ids: frozenset[str] | None,
        biz_codes: frozenset[str] | None,
        event_types: tuple[type[Event], ...] | None,
        where: Callable[[Event], bool] | None,
        buffer_size: int,
    ) -> None:
        self._stream = stream
        self._cursor: _Cursor[E] = _Cursor(stream, buffer_size)
        self.device_ids = device_ids
        self.biz_codes = biz_codes
        self.event_types = event_types
        self._where = where
        self.closed = False

    def __repr__(self) -> str:
        parts = []
        if self.device_ids is not None:
            parts.append(f"device_ids={sorted(self.device_ids)!r}")
        if self.biz_codes is not None:
            parts.append(f"biz_codes={sorted(self.biz_codes)!r}")
        if self.event_types is not None:
            parts.append(f"event_types={[t.__name__ for t in self.event_types]!r}")
        state = "closed" if self.closed else f"buffered={len(self._cursor.channel)}"
        return f"<Subscription {' '.join(parts)} {state}>"

    def matches(self, event: Event) -> bool:
        if self.device_ids is not None and event.device_id not in self.device_ids:
            return False
        if self.event_types is not None and not isinstance(event, self.event_types):
            return False
        if self.biz_codes is not None and getattr(event, "biz_code", None) not in self.biz_codes:
            return False
        return self._where is None or self._where(event)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> E:
        return await self._cursor.next()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(done=exc_type is None)

    def close(self, *, done: bool = True) -> None:
        """Stop receiving. ``done`` releases the last event taken; buffered, untaken events are released always."""
        if self.closed:
            return
        self.closed = True
        self._stream._unregister(self)
        if done:
            self._cursor.release_current()
        for event in self._cursor.channel.close():
            event.ack()

    async def aclose(self) -> None:
        self.close()

    def _abandon(self) -> None:
        # The stream is closing: stop without releasing anything, so that buffered messages are redelivered.
        self.closed = True
        self._cursor.channel.close()


class EventStream:
    """Typed push events of one Tuya cloud project, at least once, through async iterators.

    Usually made by ``LockCloud.events()``. ``url`` is the Pulsar service URL (the region's, or a local broker's),
    the topic is ``{access_id}/out/{env}`` and the subscription ``{access_id}-sub`` (Failover) unless given.
    ``async with`` subscribes (raising :class:`~lockcloud.EventStreamError` if that fails) and closes consumer and
    client on the way out, also when the task is cancelled::

        async with cloud.events() as stream:
            async for event in stream:
                handle(event)   # acknowledged when the loop asks for the next event

    Options:

    * ``firehose``: iterate the stream itself to get every event (default). With ``firehose=False`` events reach
      only :meth:`subscribe` iterators, and an event no subscription matches is acknowledged and counted in
      ``stats.unmatched``; use that for a stream shared by components that each watch some devices. With the
      firehose on, somebody must iterate the stream, or its buffer fills and the stream waits.
    * ``ack_unmatched``: with False, an event no subscription wants is left unacknowledged, so the broker hands it
      to the next consumer of the subscription once this stream closes: for a short-lived stream that borrows the
      project's one subscription (an enrollment without a stream of its own) next to the application's consumer.
    * ``buffer_size``: events buffered per iterator (and messages prefetched from the broker); memory is bounded.
    * ``dedupe_window``: how many recent message ids are remembered to suppress redeliveries.
    * ``dead_letters``: where undecodable messages go: ``None`` keeps the last 1,000 in memory
      (:class:`MemoryDeadLetters`, at ``stream.dead_letters``), a path writes each payload into that directory,
      a callable (sync or async) is called with each :class:`DeadLetter`. Each is also logged with its reason.
    * ``transport``: ``"pulsar"`` (Pulsar's own protocol; needs the ``lockcloud[pulsar]`` extra) or
      ``"websocket"`` (Pulsar's WebSocket API, pure Python; ``url`` is then ``wss://host:8285/``). Same
      guarantees either way. WebSocket only: ``ack_timeout`` (seconds before the server sends an unacknowledged
      message again; 0 for never), ``ping_interval`` / ``ping_timeout`` (liveness), and ``resubscribe_delay`` /
      ``max_resubscribe_delay`` also pace its reconnections.
    * ``verify``: TLS certificate verification for ``pulsar+ssl://`` and ``wss://``: True (certifi's CA bundle),
      a CA bundle path, or False to switch verification off explicitly.
    * ``subscription_type`` (``failover``), ``initial_position`` (``latest``; only matters when the subscription
      is first created), ``consumer_name``, ``connect_timeout``, ``operation_timeout``, ``close_timeout``,
      ``resubscribe_delay`` / ``max_resubscribe_delay`` (backoff after a consumer failure; broker restarts and
      dropped connections are handled by the client's own reconnection), ``pulsar_log_level`` and
      ``pulsar_log_file`` (the C++ client's log; it is never bridged to :mod:`logging`).
    """

    #: None for a webhook stream.
    access_id: str | None
    url: str | None
    topic: str | None
    subscription: str | None

    def __init__(
        self,
        access_id: str,
        access_secret: str,
        *,
        url: str,
        env: str = "event",
        subscription: str | None = None,
        subscription_type: SubscriptionType = "failover",
        initial_position: InitialPosition = "latest",
        consumer_name: str | None = None,
        firehose: bool = True,
        ack_unmatched: bool = True,
        buffer_size: int = 100,
        dedupe_window: int = 10_000,
        dead_letters: DeadLetterSink | str | os.PathLike[str] | None = None,
        verify: bool | str = True,
        connect_timeout: float = 10.0,
        operation_timeout: float = 30.0,
        close_timeout: float = 5.0,
        resubscribe_delay: float = 1.0,
        max_resubscribe_delay: float = 30.0,
        pulsar_log_level: str = "warn",
        pulsar_log_file: str | None = None,
        transport: Transport = "pulsar",
        ack_timeout: float = 3.0,
        ping_interval: float = 20.0,
        ping_timeout: float = 20.0,
    ) -> None:
        if not access_id:
            raise ValidationError("access_id is required")
        if not url:
            raise ValidationError("url is required")
        if transport not in ("pulsar", "websocket"):
            raise ValidationError(f"transport must be 'pulsar' or 'websocket', not {transport!r}")
        if transport == "pulsar":
            require_pulsar_client()
        self._init_core(
            access_secret,
            firehose=firehose,
            buffer_size=buffer_size,
            dedupe_window=dedupe_window,
            dead_letters=dead_letters,
            close_timeout=close_timeout,
        )
        self.access_id = access_id
        self.url = url
        self.topic = topic_for(access_id, env)
        self.subscription = subscription or f"{access_id}-sub"
        self._source_options: dict[str, Any] = {
            "url": url,
            "topic": self.topic,
            "subscription": self.subscription,
            "subscription_type": subscription_type,
            "initial_position": initial_position,
            "consumer_name": consumer_name,
            "prefetch": buffer_size,
            "verify": verify,
            "connect_timeout": connect_timeout,
            "operation_timeout": operation_timeout,
            "log_level": pulsar_log_level,
            "log_file": pulsar_log_file,
        }
        self.transport: Transport = transport
        if transport == "websocket":
            for name in ("operation_timeout", "log_level", "log_file"):
                del self._source_options[name]
            self._source_options.update(
                ack_timeout=ack_timeout,
                ping_interval=ping_interval,
                ping_timeout=ping_timeout,
                reconnect_delay=resubscribe_delay,
                max_reconnect_delay=max_resubscribe_delay,
            )
        self._resubscribe_delay = resubscribe_delay
        self._max_resubscribe_delay = max_resubscribe_delay
        self._ack_unmatched = ack_unmatched

    @classmethod
    def webhook(
        cls,
        access_secret: str,
        *,
        firehose: bool = True,
        buffer_size: int = 100,
        dedupe_window: int = 10_000,
        dead_letters: DeadLetterSink | str | os.PathLike[str] | None = None,
    ) -> EventStream:
        """A stream fed by :func:`~lockcloud.events.webhook_app` instead of a broker. Same iteration, same rules."""
        stream = cls.__new__(cls)
        stream._init_core(
            access_secret,
            firehose=firehose,
            buffer_size=buffer_size,
            dedupe_window=dedupe_window,
            dead_letters=dead_letters,
            close_timeout=0.0,
        )
        stream.access_id = None
        stream.url = None
        stream.topic = None
        stream.subscription = None
        stream._source_options = {}
        stream._resubscribe_delay = stream._max_resubscribe_delay = 0.0
        stream._ack_unmatched = True
        return stream

    def _init_core(
        self,
        access_secret: str,
        *,
        firehose: bool,
        buffer_size: int,
        dedupe_window: int,
        dead_letters: DeadLetterSink | str | os.PathLike[str] | None,
        close_timeout: float,
    ) -> None:
        if not access_secret:
            raise ValidationError("access_secret is required")
        if buffer_size < 1:
            raise ValidationError("buffer_size must be at least 1")
        if dedupe_window < 0:
            raise ValidationError("dedupe_window must not be negative")
        self._access_secret = access_secret
        self._buffer_size = buffer_size
        self._dedupe_window = dedupe_window
        self._window: collections.OrderedDict[object, object] = collections.OrderedDict()
        self.dead_letters: DeadLetterSink = as_sink(dead_letters)
        self.stats = StreamStats()
        self._firehose: _Cursor[Event] | None = _Cursor(self, buffer_size) if firehose else None
        self._by_device: dict[str, set[Subscription[Any]]] = {}
        self._unindexed: set[Subscription[Any]] = set()
        self._close_timeout = close_timeout
        self._source: PulsarSource | WebSocketSource | None = None
        self._pump: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._state = "new"
        self._closed = asyncio.Event()
        # Acknowledgements flow until the stream starts closing its source; after that a release is a no-op.
        self._acks_enabled = False

    def __repr__(self) -> str:
        where = f"topic={self.topic!r} url={self.url!r}" if self.url else "webhook"
        return f"<EventStream {where} {self._state}>"

    @property
    def is_open(self) -> bool:
        return self._state == "open"

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose(done=exc_type is None)

    async def open(self) -> None:
        """Subscribe and start delivering (``async with`` does this)."""
        if self._state != "new":
            raise EventStreamError(f"an event stream can be opened once; this one is {self._state}")
        self._state = "opening"
        if self.url is None:
            self._state = "open"
            self._acks_enabled = True
            return
        assert self.access_id is not None
        source = self._make_source(self.access_id)
        self._source = source
        try:
            await source.open()
        except BaseException:
            self._state = "closed"
            self._source = None
            self._closed.set()
            await source.close(self._close_timeout)
            raise
        self._state = "open"
        self._acks_enabled = True
        self._pump = asyncio.create_task(self._run_pump(source), name=f"lockcloud-events-pump {self.topic}")

    def _make_source(self, access_id: str) -> PulsarSource | WebSocketSource:
        if self.transport == "websocket":
            from lockcloud.crypto import pulsar_password
            from lockcloud.events._websocket import WebSocketSource

            return WebSocketSource(
                username=access_id,
                password=pulsar_password(access_id, self._access_secret),
                **self._source_options,
            )
        from lockcloud.events._pulsar import PulsarSource, auth_params

        return PulsarSource(
            authentication_params=auth_params(access_id, self._access_secret), **self._source_options
        )

    async def aclose(self, *, done: bool = True) -> None:
        """Stop, then close consumer and client. ``done`` releases the last event the stream's loop took.

        Nothing else still buffered is acknowledged: it is redelivered to the next subscriber.
        """
        if self._state in ("closing", "closed"):
            await self._closed.wait()
            return
        if self._state == "new":
            self._state = "closed"
            self._closed.set()
            return
        self._state = "closing"
        try:
            await self._shut_down(done)
        finally:
            self._closed.set()

    async def _shut_down(self, done: bool) -> None:
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.cancel()
            await asyncio.wait([pump])
        if done and self._firehose is not None:
            self._firehose.release_current()
        self._acks_enabled = False
        self._state = "closed"
        if self._firehose is not None:
            self._firehose.channel.close()
        for subscription in [*self._unindexed, *(s for group in self._by_device.values() for s in group)]:
            subscription._abandon()
        self._unindexed.clear()
        self._by_device.clear()
        source, self._source = self._source, None
        if source is not None:
            await source.close(self._close_timeout)

    # -- iteration ----------------------------------------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._firehose is None:
            raise EventStreamError("this stream was made with firehose=False: iterate its subscriptions")
        if self._state in ("new", "opening"):
            raise EventStreamError("open the stream first: async with cloud.events() as stream")
        return await self._firehose.next()

    @overload
    def subscribe(
        self,
        event_type: type[E],
        *,
        device_id: str | Iterable[str] | None = None,
        biz_code: str | Iterable[str] | None = None,
        where: Callable[[Event], bool] | None = None,
        buffer_size: int | None = None,
    ) -> Subscription[E]: ...

    @overload
    def subscribe(
        self,
        event_type: tuple[type[Event], ...] | None = None,
        *,
        device_id: str | Iterable[str] | None = None,
        biz_code: str | Iterable[str] | None = None,
        where: Callable[[Event], bool] | None = None,
        buffer_size: int | None = None,
    ) -> Subscription[Event]: ...

    def subscribe(
        self,
        event_type: type[Event] | tuple[type[Event], ...] | None = None,
        *,
        device_id: str | Iterable[str] | None = None,
        biz_code: str | Iterable[str] | None = None,
        where: Callable[[Event], bool] | None = None,
        buffer_size: int | None = None,
    ) -> Subscription[Any]:
        """A new iterator over the events that match every given filter; it receives from now on.

        ``event_type`` (a class or tuple of classes), ``device_id`` and ``biz_code`` (one or several) and
        ``where`` (any predicate) narrow it down. Many subscriptions can share one stream: each message is
        acknowledged once every subscription it went to is done with it (see :class:`Subscription`).
        """
        if self._state in ("closing", "closed"):
            raise EventStreamError("the stream is closed")
        size = self._buffer_size if buffer_size is None else buffer_size
        if size < 1:
            raise ValidationError("buffer_size must be at least 1")
        types = None if event_type is None else event_type if isinstance(event_type, tuple) else (event_type,)
        subscription: Subscription[Any] = Subscription(
            self,
            device_ids=_names(device_id),
            biz_codes=_names(biz_code),
            event_types=types,
            where=where,
            buffer_size=size,
        )
        if subscription.device_ids:
            for device in subscription.device_ids:
                self._by_device.setdefault(device, set()).add(subscription)
        else:
            self._unindexed.add(subscription)
        return subscription

    def enrollment_progress(
        self, device_id: str, *, buffer_size: int | None = None
    ) -> Subscription[EnrollmentProgress]:
        """Enrollment progress (``doorUnlockMethodStatus``) of one lock. Subscribe *before* starting enrollment."""
        return self.subscribe(EnrollmentProgress, device_id=device_id, buffer_size=buffer_size)

    def _unregister(self, subscription: Subscription[Any]) -> None:
        self._unindexed.discard(subscription)
        for device in subscription.device_ids or ():
            group = self._by_device.get(device)
            if group is not None:
                group.discard(subscription)
                if not group:
                    del self._by_device[device]

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise EventStreamError(f"the event stream stopped: {self._failure}") from self._failure

    # -- the pump -----------------------------------------------------------------------------------------------

    async def _run_pump(self, source: PulsarSource | WebSocketSource) -> None:
        try:
            while True:
                try:
                    received = await source.receive()
                except EventStreamError as exc:
                    if isinstance(exc, SourceClosed) and self._state != "open":
                        return
                    logger.warning(
                        "event stream %s: consumer failed (%s); subscribing again", self.topic, exc
                    )
                    await self._resubscribe(source)
                    continue
                await self._accept(received)
        except Exception as exc:
            # Not a broker failure (those are retried above) but a bug or a broken sink: stop visibly.
            logger.exception("event stream %s stopped", self.topic)
            self._failure = exc
            if self._firehose is not None:
                self._firehose.channel.close()
            for subscription in [*self._unindexed, *(s for group in self._by_device.values() for s in group)]:
                subscription._abandon()

    async def _resubscribe(self, source: PulsarSource | WebSocketSource) -> None:
        delay = self._resubscribe_delay
        while True:
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            try:
                await source.resubscribe()
            except EventStreamError as exc:
                delay = min(delay * 2, self._max_resubscribe_delay)
                logger.warning(
                    "event stream %s: subscribing failed (%s); next try in ~%.0f s", self.topic, exc, delay
                )
                continue
            self.stats.resubscriptions += 1
            logger.info("event stream %s: subscribed again", self.topic)
            return

    async def _accept(self, received: Received) -> Outcome:
        """Dedupe, decode, dead-letter or fan out one message; waits while a recipient's buffer is full."""
        if self._state != "open":
            return Outcome.CLOSED
        self.stats.received += 1
        key = received.key
        seen = self._window.get(key)
        if seen is not None:
            self.stats.duplicates += 1
            if seen is _ACKNOWLEDGED:
                self._acknowledge(received)
            else:
                assert isinstance(seen, _Delivery)
                seen.duplicates.append(received)
            logger.debug(
                "event stream %s: duplicate of message %s suppressed", self.topic, received.message_id
            )
            return Outcome.DUPLICATE
        if received.rejected is not None:
            return await self._bury(received, received.rejected)
        try:
            event = _decode(received.payload, self._access_secret, received.properties, received.message_id)
        except DecodeError as exc:
            return await self._bury(received, exc)
        recipients = self._recipients(event)
        if not recipients:
            self.stats.unmatched += 1
            if self._ack_unmatched:
                self._remember(key, _ACKNOWLEDGED)
                self._acknowledge(received)
            return Outcome.UNMATCHED
        delivery = _Delivery(self, received, len(recipients))
        self._remember(key, delivery)
        given = 0
        try:
            for cursor in recipients:
                # The event is brand new and not shared yet: the first recipient gets it as is (a copy costs as
                # much as decoding the body); every further recipient gets a copy. Each gets a claim of its own,
                # set past the frozen class because the claim is not part of the event's data.
                claimed = event if given == 0 else attrs.evolve(event)
                object.__setattr__(claimed, "_claim", _Claim(delivery))
                if not await cursor.channel.put(claimed):
                    delivery.release_one()  # that subscription closed meanwhile
                given += 1
        except BaseException:
            # Cancelled while waiting for buffer space (the stream is closing, or a webhook request gave up). The
            # claims of recipients that did not get the event are never released, so the message is not
            # acknowledged; and it is forgotten, so that a redelivery or a webhook retry reaches every recipient
            # (those that already got it see it twice: at least once, never lost).
            if self._window.get(key) is delivery:
                del self._window[key]
            raise
        self.stats.buffered += 1
        return Outcome.BUFFERED

    def _recipients(self, event: Event) -> list[_Cursor[Any]]:
        recipients: list[_Cursor[Any]] = []
        if self._firehose is not None:
            recipients.append(self._firehose)
        if event.device_id is not None:
            for subscription in self._by_device.get(event.device_id, ()):
                if subscription.matches(event):
                    recipients.append(subscription._cursor)
        for subscription in self._unindexed:
            if subscription.matches(event):
                recipients.append(subscription._cursor)
        return recipients

    async def _bury(self, received: Received, error: DecodeError) -> Outcome:
        letter = DeadLetter(
            reason=error.reason,
            payload=received.payload,
            properties=dict(received.properties),
            message_id=received.message_id,
            error=error,
        )
        logger.warning(
            "event stream %s: dead letter (message %s, %d bytes): %s",
            self.topic,
            received.message_id,
            len(received.payload),
            error.reason,
        )
        try:
            await deliver(self.dead_letters, letter)
        except Exception:
            self.stats.dead_letter_failures += 1
            logger.exception(
                "event stream %s: the dead-letter sink failed; message %s stays unacknowledged",
                self.topic,
                received.message_id,
            )
            return Outcome.DEAD_LETTER_FAILED
        self.stats.dead_letters += 1
        self._remember(received.key, _ACKNOWLEDGED)
        self._acknowledge(received)
        return Outcome.DEAD_LETTER

    def _remember(self, key: object, state: object) -> None:
        if not self._dedupe_window:
            return
        self._window[key] = state
        if len(self._window) > self._dedupe_window:
            self._window.popitem(last=False)

    def _completed(self, delivery: _Delivery) -> None:
        if not self._acks_enabled:
            return  # closed: the message is redelivered next time
        key = delivery.received.key
        if self._window.get(key) is delivery:
            self._window[key] = _ACKNOWLEDGED
        delivery.acknowledged = True
        self._acknowledge(delivery.received)
        for duplicate in delivery.duplicates:
            self._acknowledge(duplicate)

    def _acknowledge(self, received: Received) -> None:
        self.stats.acknowledged += 1
        if self._source is not None:
            self._source.acknowledge(received.handle)


def _names(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


def webhook_key(body: bytes, message_id: str | None) -> object:
    """Dedupe key of a webhook delivery: the sender's message id if it gives one, else the body's digest."""
    if message_id:
        return ("webhook", message_id)
    return ("sha256", hashlib.sha256(body).digest())

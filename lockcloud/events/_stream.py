"""``EventStream``: at-least-once delivery of typed push events from a :class:`~lockcloud.events.Source`.

The stream knows nothing of transports: a source (Pulsar, a webhook, ...) hands it messages, the stream delivers.

How a message travels
---------------------
One pump task takes batches of messages from the source and handles each in order:

1. **Dedupe.** The message's key is looked up in a window of the last ``dedupe_window`` keys. A redelivery of a
   message already acknowledged is acknowledged again and dropped; a redelivery of one still being worked on is
   dropped and acknowledged together with the original.
2. **Decode.** A message that cannot be decoded goes to the dead-letter sink and is then acknowledged, so that it
   can never block its partition. If the sink fails, or the dead-letter quota is used up, the message stays
   unacknowledged: the transport keeps it.
3. **Fan out.** The event, one immutable value, goes to the stream's own iterator (the *firehose*, unless
   ``firehose=False``) and to every open :class:`Subscription` whose filter matches, each through a bounded
   buffer. A full buffer makes the pump wait: memory stays bounded whatever the backlog, and a slow reader slows
   the stream instead of losing events.
4. **Acknowledge.** Each recipient's cursor holds a claim on the message. A claim is released when the iterator
   is asked for the next item, by ``subscription.ack(event)`` (``stream.ack(event)`` for the firehose), or when
   the ``async with`` of a subscription or of the stream is left without an exception. The source acknowledges
   the message once every claim is released. A subscription left with an exception gives its message up: the
   source is asked to redeliver it.

Closing the stream acknowledges nothing that is still buffered: those messages come back next time.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import warnings
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from types import TracebackType
from typing import Any, Generic, Self, TypedDict, TypeVar, overload

from lockcloud._core.errors import DecodeError, EventStreamError, ValidationError
from lockcloud._core.validation import seconds
from lockcloud.events._backoff import receive_or_resubscribe
from lockcloud.events._dead_letters import DeadLetterQuota, DeadLetterSink, as_sink, deliver
from lockcloud.events._decode import Decoder
from lockcloud.events._models import DeadLetter, EnrollmentProgress, Event, StreamStats
from lockcloud.events._source import Outcome, Source, SourceMessage

__all__ = ["EventStream", "StreamOptions", "Subscription"]

logger = logging.getLogger("lockcloud.events")

E = TypeVar("E", bound=Event)
T = TypeVar("T")


class StreamOptions(TypedDict, total=False):
    """The delivery options of :class:`EventStream`, as keywords (see its docstring for each)."""

    firehose: bool
    ack_unmatched: bool
    buffer_size: int
    dedupe_window: int
    dead_letters: DeadLetterSink | str | os.PathLike[str] | None
    dead_letter_quota: DeadLetterQuota | None
    close_timeout: float
    resubscribe_delay: float
    max_resubscribe_delay: float


#: Every running pump, held here rather than by its stream: a stream collected while open is collected alone,
#: and its pump is cancelled instead of destroyed while pending.
_running_pumps: set[asyncio.Task[None]] = set()

#: Marks "the default quota" in the signature, so that ``dead_letter_quota=None`` can mean no quota.
_DEFAULT_QUOTA: Any = object()


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

    def offer(self, item: T) -> bool | None:
        """Append ``item`` if there is room, without waiting: True if taken, None if full, False if closed."""
        if self.closed:
            return False
        if len(self._items) >= self._capacity:
            return None
        self._items.append(item)
        if self._getters:
            self._wake(self._getters)
        return True

    async def put(self, item: T) -> bool:
        """Append ``item``, waiting while the channel is full; False (item not taken) once it is closed."""
        while len(self._items) >= self._capacity and not self.closed:
            await self._wait(self._putters)
        if self.closed:
            return False
        self._items.append(item)
        self._wake(self._getters)
        return True

    def take(self) -> T | None:
        """The next item if one is buffered, without waiting (items are never None)."""
        if not self._items:
            return None
        item = self._items.popleft()
        if self._putters:
            self._wake(self._putters)
        return item

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
    """One incoming message and its event while recipients work on it; acknowledged when the last claim is released.

    What the recipients' buffers hold (one object per event, not a pair: fewer objects for the garbage collector).
    """

    __slots__ = ("duplicates", "event", "message", "outstanding", "settled")

    def __init__(self, message: SourceMessage, event: Event, outstanding: int) -> None:
        self.message = message
        self.event = event
        self.outstanding = outstanding
        # Redeliveries that arrived while it was worked on (made on the first: most messages never have one).
        self.duplicates: list[SourceMessage] | None = None
        # True once acknowledged or given up: later releases change nothing.
        self.settled = False


class _FanOut:
    """A message some recipients still have to take once their buffers have room."""

    __slots__ = ("cursors", "delivery", "key", "stream")

    def __init__(
        self, stream: EventStream, key: Hashable, delivery: _Delivery, cursors: list[_Cursor[Any]]
    ) -> None:
        self.stream = stream
        self.key = key
        self.delivery = delivery
        self.cursors = cursors

    def finish(self) -> Awaitable[Outcome]:
        return self.stream._fan_out(self.key, self.delivery, self.cursors)


class _Burial:
    """An undecodable message on its way to the dead-letter sink."""

    __slots__ = ("error", "message", "stream")

    def __init__(self, stream: EventStream, message: SourceMessage, error: DecodeError) -> None:
        self.stream = stream
        self.message = message
        self.error = error

    def finish(self) -> Awaitable[Outcome]:
        return self.stream._bury(self.message, self.error)


_Unfinished = _FanOut | _Burial

#: Messages the pump handles from one batch before letting the readers run (see EventStream._take).
_HAND_OVER_EVERY = 64

#: The dedupe window's mark for a message that needs nothing more (acknowledged, or dead-lettered).
_ACKNOWLEDGED = object()


class _Cursor(Generic[E]):
    """One recipient: its buffer, and its claim on the event it took last (released when it asks for the next)."""

    __slots__ = ("channel", "current", "stream")

    def __init__(self, stream: EventStream, capacity: int) -> None:
        self.stream = stream
        self.channel: _Channel[_Delivery] = _Channel(capacity)
        self.current: _Delivery | None = None

    async def next(self) -> E:
        current = self.current
        if current is not None:
            self.current = None
            self.stream._release(current)
        current = self.channel.take()
        if current is None:
            try:
                current = await self.channel.get()
            except _Closed:
                self.stream._raise_if_failed()
                raise StopAsyncIteration from None
        self.current = current
        return current.event  # type: ignore[return-value]  # this recipient's filter matched its type

    def release_current(self) -> None:
        current, self.current = self.current, None
        if current is not None:
            self.stream._release(current)

    def give_up_current(self) -> None:
        current, self.current = self.current, None
        if current is not None:
            self.stream._give_up(current)

    def ack(self, event: Event) -> None:
        if self.current is not None and self.current.event is event:
            self.release_current()

    def release_buffered(self) -> None:
        for delivery in self.channel.close():
            self.stream._release(delivery)


class Subscription(Generic[E]):
    """The events of one stream that match a filter, for one consumer; made by :meth:`EventStream.subscribe`.

    It receives events from the moment it is created. Use it as ``async with`` and iterate it::

        async with stream.enrollment_progress(device_id) as progress:
            async for event in progress:
                if event.finish:
                    break

    Asking for the next event acknowledges the previous one; :meth:`ack` does it earlier. Leaving the
    ``async with`` normally counts as done with the last event; leaving it with an exception gives that event up
    (the source redelivers it). Events buffered but never taken are released (this subscriber does not want them;
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

    def __anext__(self) -> Awaitable[E]:
        # Not a coroutine itself: the cursor's is the only one made per event.
        return self._cursor.next()

    def ack(self, event: Event) -> None:
        """Done with ``event`` (the last one taken) before asking for the next. Idempotent.

        A message given to several recipients is acknowledged once all of them are done with it; after the
        stream has closed this does nothing (the message is delivered again next time).
        """
        self._cursor.ack(event)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(done=exc_type is None)

    def close(self, *, done: bool = True) -> None:
        """Stop receiving. ``done`` releases the last event taken, else it is given up for redelivery.

        Buffered, untaken events are released always.
        """
        if self.closed:
            return
        self.closed = True
        self._stream._unregister(self)
        if done:
            self._cursor.release_current()
        else:
            self._cursor.give_up_current()
        self._cursor.release_buffered()

    async def aclose(self) -> None:
        self.close()

    def _abandon(self) -> None:
        # The stream is closing: stop without releasing anything, so that buffered messages are redelivered.
        self.closed = True
        self._cursor.channel.close()


class EventStream:
    """Typed push events from one :class:`~lockcloud.events.Source`, at least once, through async iterators.

    Usually made by ``LockCloud.events()`` (a :class:`~lockcloud.events.PulsarSource` on the project's topic);
    ``EventStream(WebhookSource(...), access_secret)`` reads HTTP POSTs instead. ``access_secret`` decrypts the
    messages. ``async with`` opens the source (raising :class:`~lockcloud.EventStreamError` if that fails) and
    closes it on the way out, also when the task is cancelled::

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
    * ``buffer_size``: events buffered per iterator; memory is bounded.
    * ``dedupe_window``: how many recent message keys are remembered to suppress redeliveries.
    * ``dead_letters``: where undecodable messages go: ``None`` keeps the last 1,000 in memory
      (:class:`MemoryDeadLetters`, at ``stream.dead_letters``), a path writes each payload into that directory,
      a callable (sync or async) is called with each :class:`DeadLetter`. Each is also logged with its reason.
    * ``dead_letter_quota``: at most so many dead letters (and bytes) per period (:class:`DeadLetterQuota`; by
      default 1,000 letters or 16 MiB a minute); past it undecodable messages stay unacknowledged instead.
      ``None`` lifts the limit.
    * ``close_timeout`` (how long closing waits for the source), ``resubscribe_delay`` / ``max_resubscribe_delay``
      (backoff after a transport failure).

    A stream garbage-collected while still open emits a :class:`ResourceWarning`: close it.
    """

    def __init__(
        self,
        source: Source,
        access_secret: str,
        *,
        firehose: bool = True,
        ack_unmatched: bool = True,
        buffer_size: int = 100,
        dedupe_window: int = 10_000,
        dead_letters: DeadLetterSink | str | os.PathLike[str] | None = None,
        dead_letter_quota: DeadLetterQuota | None = _DEFAULT_QUOTA,
        close_timeout: float = 5.0,
        resubscribe_delay: float = 1.0,
        max_resubscribe_delay: float = 30.0,
    ) -> None:
        if not isinstance(source, Source):
            raise ValidationError(f"source must implement the Source protocol, not {type(source).__name__}")
        if not access_secret:
            raise ValidationError("access_secret is required")
        if buffer_size < 1:
            raise ValidationError("buffer_size must be at least 1")
        for name, value in (
            ("dedupe_window", dedupe_window),
            ("close_timeout", close_timeout),
            ("resubscribe_delay", resubscribe_delay),
            ("max_resubscribe_delay", max_resubscribe_delay),
        ):
            seconds(value, name, allow_zero=True)
        self.source = source
        self._access_secret = access_secret
        self._decoder = Decoder(access_secret)
        self._buffer_size = buffer_size
        self._dedupe_window = dedupe_window
        self._window: collections.OrderedDict[Hashable, object] = collections.OrderedDict()
        self.dead_letters: DeadLetterSink = as_sink(dead_letters)
        self._quota = DeadLetterQuota() if dead_letter_quota is _DEFAULT_QUOTA else dead_letter_quota
        self._refusing_dead_letters = False
        self.stats = StreamStats()
        self._firehose: _Cursor[Event] | None = _Cursor(self, buffer_size) if firehose else None
        # The recipients of every event while no subscription is open (one list, not one per event).
        self._firehose_only: list[_Cursor[Any]] = [] if self._firehose is None else [self._firehose]
        self._by_device: dict[str, set[Subscription[Any]]] = {}
        self._unindexed: set[Subscription[Any]] = set()
        self._ack_unmatched = ack_unmatched
        self._close_timeout = close_timeout
        self._resubscribe_delay = resubscribe_delay
        self._max_resubscribe_delay = max_resubscribe_delay
        self._pump: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._state = "new"
        self._closed = asyncio.Event()
        # Acknowledgements flow until the stream starts closing its source; after that a release is a no-op.
        self._acks_enabled = False

    def __repr__(self) -> str:
        source = getattr(self, "source", None)
        where = source.description if source is not None else "(no source)"
        return f"<EventStream {where} {getattr(self, '_state', 'new')}>"

    def __del__(self) -> None:
        if getattr(self, "_state", "new") in ("opening", "open"):
            warnings.warn(
                f"unclosed event stream {self!r}: use 'async with' or await aclose()",
                ResourceWarning,
                stacklevel=1,
                source=self,
            )
            pump = self._pump
            if pump is not None and not pump.done():
                with contextlib.suppress(RuntimeError):  # the event loop is closed already
                    pump.cancel()

    @property
    def is_open(self) -> bool:
        return self._state == "open"

    @property
    def topic(self) -> str | None:
        """The source's topic, where it has one (Pulsar)."""
        topic = getattr(self.source, "topic", None)
        return topic if isinstance(topic, str) else None

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose(done=exc_type is None)

    async def open(self) -> None:
        """Open the source and start delivering (``async with`` does this)."""
        if self._state != "new":
            raise EventStreamError(f"an event stream can be opened once; this one is {self._state}")
        self._state = "opening"
        try:
            await self.source.open()
        except BaseException:
            self._state = "closed"
            self._closed.set()
            await asyncio.shield(self.source.close(self._close_timeout))
            raise
        self._state = "open"
        self._acks_enabled = True
        # The pump holds the stream only while it handles a batch, so that a stream its owner forgot is collected
        # (and warned about) rather than kept alive by its own task.
        pump = asyncio.create_task(
            _pump(weakref.ref(self), self.source), name=f"lockcloud-events-pump {self.source.description}"
        )
        _running_pumps.add(pump)
        pump.add_done_callback(_running_pumps.discard)
        self._pump = pump

    async def aclose(self, *, done: bool = True) -> None:
        """Stop, then close the source. ``done`` releases the last event the stream's loop took.

        Nothing else still buffered is acknowledged: it is redelivered to the next subscriber. Runs to the end
        even if the calling task is cancelled meanwhile (the cancellation is raised afterwards).
        """
        if self._state in ("closing", "closed"):
            await self._closed.wait()
            return
        if self._state == "new":
            self._state = "closed"
            self._closed.set()
            return
        self._state = "closing"
        shut_down = asyncio.ensure_future(self._shut_down(done))
        try:
            await asyncio.shield(shut_down)
        except asyncio.CancelledError:
            # Cancelled (asyncio or anyio style) while closing: finish closing first, then let it through.
            await asyncio.wait([shut_down])
            raise
        finally:
            if shut_down.done():
                self._closed.set()

    async def _shut_down(self, done: bool) -> None:
        try:
            pump, self._pump = self._pump, None
            if pump is not None:
                pump.cancel()
                await asyncio.wait([pump])
            if done and self._firehose is not None:
                self._firehose.release_current()
            self._acks_enabled = False
            self._state = "closed"
            self._abandon_all()
            await self.source.close(self._close_timeout)
        finally:
            self._state = "closed"
            self._closed.set()

    def _abandon_all(self) -> None:
        if self._firehose is not None:
            self._firehose.channel.close()
        for subscription in [*self._unindexed, *(s for group in self._by_device.values() for s in group)]:
            subscription._abandon()
        self._unindexed.clear()
        self._by_device.clear()

    # -- iteration ----------------------------------------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    def __anext__(self) -> Awaitable[Event]:
        # Not a coroutine itself: the cursor's is the only one made per event.
        firehose = self._firehose
        if firehose is None:
            return _raise(
                EventStreamError("this stream was made with firehose=False: iterate its subscriptions")
            )
        if self._state in ("new", "opening"):
            return _raise(EventStreamError("open the stream first: async with cloud.events() as stream"))
        return firehose.next()

    def ack(self, event: Event) -> None:
        """Done with ``event``, the last one the stream's own loop took, before asking for the next. Idempotent."""
        if self._firehose is not None:
            self._firehose.ack(event)

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

    # -- what the pump does -------------------------------------------------------------------------------------

    def _stop(self, failure: BaseException) -> None:
        logger.error("event stream %s stopped: %s", self.source.description, failure, exc_info=failure)
        self._failure = failure
        self._abandon_all()

    async def _take(self, batch: Sequence[SourceMessage]) -> None:
        report = self.source.report
        accept = self._accept
        handled = 0
        for message in batch:
            outcome = accept(message)
            if not isinstance(outcome, Outcome):
                outcome = await outcome.finish()
                handled = 0
            report(message, outcome)
            handled += 1
            if handled == _HAND_OVER_EVERY:
                # Let the readers take what is buffered before going on with a long batch: events then live
                # (and are acknowledged) a few dozen messages long instead of a whole batch, so that the
                # garbage collector's young generation frees them instead of promoting thousands of them to
                # the old one, whose full collections cost a scan of every object in the process.
                handled = 0
                await asyncio.sleep(0)

    def _accept(self, message: SourceMessage) -> Outcome | _Unfinished:
        """Dedupe, decode and fan out one message, as far as it goes without waiting.

        What must wait (a recipient's full buffer, the dead-letter sink) is returned as an :class:`_Unfinished`
        for the pump to await; a message taken entirely gives its :class:`Outcome` at once.
        """
        if self._state != "open":
            return Outcome.CLOSED
        stats = self.stats
        stats.received += 1
        key = message.key
        window = self._window
        seen = window.get(key)
        if seen is not None:
            stats.duplicates += 1
            if seen is _ACKNOWLEDGED:
                self._acknowledge(message)
            else:
                assert isinstance(seen, _Delivery)
                if seen.duplicates is None:
                    seen.duplicates = [message]
                else:
                    seen.duplicates.append(message)
            logger.debug("event stream: duplicate of message %s suppressed", message.message_id)
            return Outcome.DUPLICATE
        if message.defect is not None:
            return _Burial(self, message, DecodeError(message.defect, message.payload, message.properties))
        try:
            event = self._decoder.decode(message.payload, message.properties, message.message_id)
        except DecodeError as exc:
            return _Burial(self, message, exc)
        recipients = self._recipients(event)
        if not recipients:
            stats.unmatched += 1
            if self._ack_unmatched:
                self._remember(key, _ACKNOWLEDGED)
                self._acknowledge(message)
            return Outcome.UNMATCHED
        delivery = _Delivery(message, event, len(recipients))
        self._remember(key, delivery)
        for index, cursor in enumerate(recipients):
            taken = cursor.channel.offer(delivery)
            if taken is None:
                return _FanOut(self, key, delivery, recipients[index:])
            if not taken:
                self._release(delivery)  # that subscription closed meanwhile
        stats.buffered += 1
        return Outcome.BUFFERED

    async def _fan_out(self, key: Hashable, delivery: _Delivery, cursors: list[_Cursor[Any]]) -> Outcome:
        """The rest of a fan-out that met a full buffer: wait for room in each remaining recipient's buffer."""
        try:
            for cursor in cursors:
                if not await cursor.channel.put(delivery):
                    self._release(delivery)  # that subscription closed meanwhile
        except BaseException:
            # Cancelled while waiting for buffer space (the stream is closing). The claims of recipients that did
            # not get the event are never released, so the message is not acknowledged; and it is forgotten, so
            # that a redelivery reaches every recipient (those that already got it see it twice: at least once).
            if self._window.get(key) is delivery:
                del self._window[key]
            raise
        self.stats.buffered += 1
        return Outcome.BUFFERED

    def _recipients(self, event: Event) -> list[_Cursor[Any]]:
        if not self._by_device and not self._unindexed:
            return self._firehose_only  # never changed by the caller
        recipients: list[_Cursor[Any]] = []
        if self._firehose is not None:
            recipients.append(self._firehose)
        if self._by_device and event.device_id is not None:
            for subscription in self._by_device.get(event.device_id, ()):
                if subscription.matches(event):
                    recipients.append(subscription._cursor)
        for subscription in self._unindexed:
            if subscription.matches(event):
                recipients.append(subscription._cursor)
        return recipients

    async def _bury(self, message: SourceMessage, error: DecodeError) -> Outcome:
        if self._quota is not None and not self._quota.admit(len(message.payload)):
            self.stats.dead_letters_refused += 1
            if not self._refusing_dead_letters:
                self._refusing_dead_letters = True
                logger.warning(
                    "event stream %s: dead-letter quota used up (%r); undecodable messages stay "
                    "unacknowledged until it frees up",
                    self.source.description,
                    self._quota,
                )
            return Outcome.DEAD_LETTER_REFUSED
        self._refusing_dead_letters = False
        letter = DeadLetter(
            reason=error.reason,
            payload=message.payload,
            properties=dict(message.properties),
            message_id=message.message_id,
            error=error,
        )
        logger.warning(
            "event stream %s: dead letter (message %s, %d bytes): %s",
            self.source.description,
            message.message_id,
            len(message.payload),
            error.reason,
        )
        try:
            await deliver(self.dead_letters, letter)
        except Exception:
            self.stats.dead_letter_failures += 1
            logger.exception(
                "event stream %s: the dead-letter sink failed; message %s stays unacknowledged",
                self.source.description,
                message.message_id,
            )
            return Outcome.DEAD_LETTER_FAILED
        self.stats.dead_letters += 1
        self._remember(message.key, _ACKNOWLEDGED)
        self._acknowledge(message)
        return Outcome.DEAD_LETTER

    def _remember(self, key: Hashable, state: object) -> None:
        if not self._dedupe_window:
            return
        window = self._window
        window[key] = state
        if len(window) > self._dedupe_window:
            window.popitem(last=False)

    def _release(self, delivery: _Delivery) -> None:
        delivery.outstanding -= 1
        if delivery.outstanding > 0 or delivery.settled or not self._acks_enabled:
            return  # others still hold it; or given up; or closed (then it is redelivered next time)
        delivery.settled = True
        key = delivery.message.key
        if self._window.get(key) is delivery:
            self._window[key] = _ACKNOWLEDGED
        self.stats.acknowledged += 1
        self.source.acknowledge(delivery.message)
        if delivery.duplicates is not None:
            for duplicate in delivery.duplicates:
                self._acknowledge(duplicate)

    def _give_up(self, delivery: _Delivery) -> None:
        delivery.outstanding -= 1
        if delivery.settled or not self._acks_enabled:
            return
        delivery.settled = True
        key = delivery.message.key
        if self._window.get(key) is delivery:
            del self._window[key]  # so that the redelivery is delivered, not suppressed
        self.source.redeliver(delivery.message)

    def _acknowledge(self, message: SourceMessage) -> None:
        self.stats.acknowledged += 1
        self.source.acknowledge(message)


async def _pump(ref: weakref.ref[EventStream], source: Source) -> None:
    """Receive batches from ``source`` and hand them to the stream, until the source closes or the stream is gone."""
    stream = ref()
    if stream is None:
        return
    delay, ceiling = stream._resubscribe_delay, stream._max_resubscribe_delay
    del stream

    def wanted() -> bool:
        stream = ref()
        return stream is not None and stream.is_open

    def resubscribed() -> None:
        stream = ref()
        if stream is not None:
            stream.stats.resubscriptions += 1

    while True:
        try:
            batch = await receive_or_resubscribe(
                source, delay, ceiling, who="event stream", wanted=wanted, resubscribed=resubscribed
            )
        except Exception as exc:
            stream = ref()
            if stream is not None:
                stream._stop(exc)
            return
        stream = ref()
        if batch is None or stream is None:
            return
        try:
            await stream._take(batch)
        except Exception as exc:
            # A bug or a broken sink, not a transport failure (those are retried above): stop visibly.
            stream._stop(exc)
            return
        del stream


async def _raise(error: Exception) -> Any:
    # Raised when awaited, as from a coroutine: ``anext(stream)`` itself never raises.
    raise error


def _names(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)

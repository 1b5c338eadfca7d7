"""Enrolling a fingerprint, card or face as one awaitable conversation.

By the documents, enrolling is a PUT followed by ``doorUnlockMethodStatus`` pushes the caller must correlate by hand,
and a cancel call if they give up. :class:`Enrollment` does all of it::

    async with cloud.events(firehose=False) as stream:   # only subscriptions read it
        async with cloud.enroll(device_id, user_id="u1", user_type=UserType.HOME,
                                unlock_type=UnlockType.FINGERPRINT, events=stream) as enrollment:
            async for progress in enrollment:      # EnrollmentProgress, period counting down
                print(progress.period, "presses to go")
        print(enrollment.result)                   # completed / cancelled / failed / timed out, and the new key

Correlation: pushes are matched by device, by event (``unlockMethodEntry``) and by time (the message's timestamp is
not older than the request, on Tuya's clock). The subscription is made *before* the PUT is sent, so a push that
overtakes the PUT's answer is not lost. Many enrollments on different locks share one stream; the lock does not say
which unlock type a push is about, so one lock runs one enrollment at a time per client.

Leaving the block early — an exception, a ``break``, cancellation, or ``idle_timeout`` seconds without a push —
calls the cancel endpoint and waits up to ``cancel_timeout`` seconds for the lock's ``operate=2`` confirmation.

A push that reports ``raised: false`` while neither finished nor cancelled is read as the lock refusing or
aborting the enrollment (``FAILED``); the documents define no other failure signal.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import enum
import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Required, Self, TypedDict, Unpack

import attrs

from lockcloud._core.errors import (
    APIError,
    EventStreamError,
    LockCloudError,
    OutcomeUnknownError,
    ValidationError,
)
from lockcloud.enums import EnrollmentOperation, UnlockMethodEvent, UnlockType, UserType
from lockcloud.models import UnlockKey

if TYPE_CHECKING:
    from lockcloud.events import EnrollmentProgress, EventsOptions, EventStream, Subscription
    from lockcloud.resources.unlock_methods import UnlockMethods

__all__ = ["EnrollOptions", "Enrollment", "EnrollmentResult", "EnrollmentStatus"]

logger = logging.getLogger("lockcloud.enrollment")


class EnrollmentStatus(enum.Enum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


@attrs.frozen
class EnrollmentResult:
    """How an enrollment ended. ``key`` is the new unlock method when the lock reported it in time."""

    status: EnrollmentStatus
    device_id: str
    unlock_type: UnlockType
    key: UnlockKey | None = None
    total_period: int | None = None
    progress_count: int = 0
    reason: str | None = None
    cancel_confirmed: bool | None = None

    @property
    def ok(self) -> bool:
        return self.status is EnrollmentStatus.COMPLETED


_TERMINAL = frozenset(
    {
        EnrollmentStatus.COMPLETED,
        EnrollmentStatus.CANCELLED,
        EnrollmentStatus.FAILED,
        EnrollmentStatus.TIMED_OUT,
    }
)


class EnrollingClient(Protocol):
    """What an enrollment needs of its client (:class:`~lockcloud.LockCloud` is one): the unlocking-method calls,
    a push stream when none is shared, Tuya's clock, and the devices already enrolling (one enrollment per lock)."""

    _active_enrollments: set[str]

    @property
    def unlock_methods(self) -> UnlockMethods: ...

    def events(self, **options: Unpack[EventsOptions]) -> EventStream: ...

    def server_time(self) -> float: ...


class EnrollOptions(TypedDict, total=False):
    """The keywords of :meth:`LockCloud.enroll` and :class:`Enrollment` (a misspelt one is a type error).

    ``user_id``, ``user_type`` and ``unlock_type`` say whose key of which kind is enrolled (required). ``events``
    is an open stream to share (else one is opened for this enrollment). ``idle_timeout`` (60 s) ends the
    enrollment without a push for that long (or, when the stream's source is down then, such as the Redis relay,
    raises the :class:`~lockcloud.RelayError` naming it), ``cancel_timeout`` (10 s) bounds the wait for the lock's cancel
    confirmation, ``key_lookup_timeout`` (5 s) the wait for the new key to be listed, ``clock_tolerance`` (5 s)
    how much older than the request a push may be. ``pin`` is the password to enroll for a password key.
    """

    user_id: Required[str]
    user_type: Required[UserType | int]
    unlock_type: Required[UnlockType | str]
    events: EventStream | None
    idle_timeout: float
    cancel_timeout: float
    key_lookup_timeout: float
    clock_tolerance: float
    pin: str | None


class Enrollment:
    """One enrollment: an async context manager that starts it and an async iterator over its progress.

    Made by :meth:`LockCloud.enroll`, with the keywords of :class:`EnrollOptions`. See the module docstring for
    correlation and cancellation rules.
    """

    def __init__(self, cloud: EnrollingClient, device_id: str, **options: Unpack[EnrollOptions]) -> None:
        from lockcloud._core import validation as check

        unknown = set(options) - set(EnrollOptions.__annotations__)
        if unknown:
            raise ValidationError(f"unknown enrollment option(s): {', '.join(sorted(unknown))}")
        for required in ("user_id", "user_type", "unlock_type"):
            if required not in options:
                raise ValidationError(f"{required} is required")
        events = options.get("events")
        idle_timeout = options.get("idle_timeout", 60.0)
        cancel_timeout = options.get("cancel_timeout", 10.0)
        key_lookup_timeout = options.get("key_lookup_timeout", 5.0)
        clock_tolerance = options.get("clock_tolerance", 5.0)
        pin = options.get("pin")
        self._cloud = cloud
        self.device_id = check.device_id(device_id)
        self.user_id = check.path_part(options["user_id"], "user_id")
        self.user_type = check.user_type(options["user_type"])
        self.unlock_type = check.unlock_type(options["unlock_type"])
        for name, value in (
            ("idle_timeout", idle_timeout),
            ("cancel_timeout", cancel_timeout),
            ("key_lookup_timeout", key_lookup_timeout),
        ):
            check.seconds(value, name)
        self._events = events
        self._owns_events = events is None
        self._idle_timeout = idle_timeout
        self._cancel_timeout = cancel_timeout
        self._key_lookup_timeout = key_lookup_timeout
        self._clock_tolerance = clock_tolerance
        self._pin = pin
        self._subscription: Subscription[EnrollmentProgress] | None = None
        self._started_at: _dt.datetime | None = None
        self._keys_before: set[int] | None = None
        self._status = EnrollmentStatus.IN_PROGRESS
        self._reason: str | None = None
        self._total_period: int | None = None
        self._progress_count = 0
        self._key: UnlockKey | None = None
        self._cancel_confirmed: bool | None = None
        self._entered = False

    def __repr__(self) -> str:
        return f"<Enrollment device_id={self.device_id!r} unlock_type={self.unlock_type.value!r} {self._status.value}>"

    @property
    def status(self) -> EnrollmentStatus:
        return self._status

    @property
    def result(self) -> EnrollmentResult:
        """The outcome so far (``IN_PROGRESS`` until the conversation ends)."""
        return EnrollmentResult(
            status=self._status,
            device_id=self.device_id,
            unlock_type=self.unlock_type,
            key=self._key,
            total_period=self._total_period,
            progress_count=self._progress_count,
            reason=self._reason,
            cancel_confirmed=self._cancel_confirmed,
        )

    # -- starting -----------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._entered:
            raise ValidationError("an Enrollment can be entered once")
        self._entered = True
        active = self._cloud._active_enrollments
        if self.device_id in active:
            raise ValidationError(
                f"an enrollment is already running on {self.device_id!r} in this client; the lock's pushes "
                "do not say which enrollment they belong to"
            )
        active.add(self.device_id)
        try:
            await self._start()
        except BaseException:
            await self._teardown(done=False)
            raise
        return self

    async def _start(self) -> None:
        if self._events is None:
            # A borrowed share of the project's subscription: what is not ours stays for the next consumer.
            self._events = self._cloud.events(firehose=False, ack_unmatched=False)
        if not self._events.is_open:
            await self._events.open()
        self._keys_before = await self._snapshot_keys()
        # Subscribe before the PUT: a push can overtake the PUT's answer.
        self._subscription = self._events.enrollment_progress(self.device_id)
        self._started_at = _dt.datetime.fromtimestamp(
            self._cloud.server_time() - self._clock_tolerance, tz=_dt.UTC
        )
        try:
            await self._cloud.unlock_methods.enroll(
                self.device_id, self.user_id, self.user_type, self.unlock_type, pin=self._pin
            )
        except OutcomeUnknownError:
            # The lock may now be waiting for a finger nobody will press: leave it clean, then tell the caller.
            self._status, self._reason = EnrollmentStatus.FAILED, "the enroll call's outcome is unknown"
            await _shielded(self._cancel_quietly(wait_for_confirmation=False))
            raise
        except LockCloudError as exc:
            self._status, self._reason = EnrollmentStatus.FAILED, f"enroll rejected: {exc}"
            raise
        except BaseException:
            # Cancelled (or interrupted) while the PUT was in flight: it may have started the enrollment.
            self._status, self._reason = EnrollmentStatus.CANCELLED, "cancelled while starting"
            await _shielded(self._cancel_quietly(wait_for_confirmation=False))
            raise

    # -- progress -----------------------------------------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> EnrollmentProgress:
        if self._subscription is None:
            raise EventStreamError("enter the enrollment first: async with cloud.enroll(...) as enrollment")
        while self._status is EnrollmentStatus.IN_PROGRESS:
            try:
                async with asyncio.timeout(self._idle_timeout):
                    progress = await anext(self._subscription)
            except TimeoutError:
                outage = _source_outage(self._events)
                if outage is not None:
                    # No progress could arrive: the cause is the event source, not the lock. No cancel confirmation
                    # could arrive either.
                    self._status = EnrollmentStatus.FAILED
                    self._reason = f"the event source is unavailable: {outage}"
                    await self._cancel_quietly(wait_for_confirmation=False)
                    raise outage.with_traceback(None) from None
                self._status = EnrollmentStatus.TIMED_OUT
                self._reason = f"no progress from the lock for {self._idle_timeout:g} s"
                await self._cancel_quietly(wait_for_confirmation=True)
                raise StopAsyncIteration from None
            except StopAsyncIteration:
                self._status, self._reason = EnrollmentStatus.FAILED, "the event stream ended"
                raise
            if not self._belongs_here(progress):
                self._subscription.ack(progress)
                continue
            await self._apply(progress)
            return progress
        raise StopAsyncIteration

    def _belongs_here(self, progress: EnrollmentProgress) -> bool:
        if progress.event is not UnlockMethodEvent.ENTRY:
            return False
        return self._started_at is None or progress.timestamp >= self._started_at

    async def _apply(self, progress: EnrollmentProgress) -> None:
        self._progress_count += 1
        if progress.total_period is not None:
            self._total_period = progress.total_period
        if progress.operate is EnrollmentOperation.CANCEL:
            self._status, self._reason = EnrollmentStatus.CANCELLED, "cancelled at the lock"
            self._cancel_confirmed = True
        elif progress.finish:
            self._status = EnrollmentStatus.COMPLETED
            self._key = await self._find_new_key()
        elif progress.raised is False:
            self._status, self._reason = EnrollmentStatus.FAILED, "the lock aborted the enrollment"

    async def _assigned_keys(self) -> list[UnlockKey]:
        return await self._cloud.unlock_methods.list_assigned(
            self.device_id, self.user_id, self.user_type, unlock_type=self.unlock_type
        )

    async def _snapshot_keys(self) -> set[int] | None:
        """The user's keys before enrolling, or None where the lock kind cannot list them (keepalive Wi-Fi, access
        control): enrolling still works there, only the new key cannot be named afterwards."""
        try:
            return {key.unlock_no for key in await self._assigned_keys()}
        except APIError as exc:
            logger.info(
                "cannot list keys on %s (%s); the new key will not be looked up", self.device_id, exc.code
            )
            return None

    async def _find_new_key(self) -> UnlockKey | None:
        """The key that appeared in the user's assigned keys; the lock may report it a moment after finishing."""
        before = self._keys_before
        if before is None:
            return None
        delay = 0.05
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._key_lookup_timeout
        while True:
            try:
                new = [key for key in await self._assigned_keys() if key.unlock_no not in before]
            except LockCloudError as exc:
                logger.info("could not look up the new key on %s: %s", self.device_id, type(exc).__name__)
                return None
            if new:
                return max(new, key=lambda key: key.unlock_no)
            if loop.time() + delay > deadline:
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    # -- ending -------------------------------------------------------------------------------------------------

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        done = exc_type is None
        try:
            if self._status is EnrollmentStatus.IN_PROGRESS:
                self._status = EnrollmentStatus.CANCELLED
                self._reason = "left early" if done else f"left by {exc_type.__name__}"  # type: ignore[union-attr]
                # Shielded: a cancelled task must still tell the lock to stop waiting for a finger, and take the
                # lock's confirmation (bounded by cancel_timeout) so that it is not read as the next enrollment's.
                await _shielded(self._cancel_quietly(wait_for_confirmation=True))
        finally:
            # Whatever happened above (anyio cancels every await again until the scope is left), the lock is free
            # for the next enrollment before anything else is awaited.
            await self._teardown(done=done)

    async def cancel(self) -> None:
        """Cancel now (the lock confirms with ``operate=2``); iteration then ends with ``CANCELLED``."""
        if self._status is EnrollmentStatus.IN_PROGRESS:
            self._status, self._reason = EnrollmentStatus.CANCELLED, "cancelled by the caller"
            await self._cancel_quietly(wait_for_confirmation=True)

    async def _cancel_quietly(self, *, wait_for_confirmation: bool) -> None:
        try:
            await self._cloud.unlock_methods.cancel_enrollment(self.device_id, self.unlock_type)
        except LockCloudError as exc:
            logger.warning("cancelling the enrollment on %s failed: %s", self.device_id, exc)
            self._cancel_confirmed = False
            return
        if wait_for_confirmation and self._subscription is not None:
            self._cancel_confirmed = await self._await_cancel_confirmation()

    async def _await_cancel_confirmation(self) -> bool:
        assert self._subscription is not None
        try:
            async with asyncio.timeout(self._cancel_timeout):
                async for progress in self._subscription:
                    if self._belongs_here(progress) and progress.operate is EnrollmentOperation.CANCEL:
                        self._progress_count += 1
                        return True
        except TimeoutError:
            logger.info("no cancel confirmation from %s within %g s", self.device_id, self._cancel_timeout)
        return False

    async def _teardown(self, *, done: bool) -> None:
        self._cloud._active_enrollments.discard(self.device_id)
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close(done=done)
        if self._owns_events and self._events is not None:
            events, self._events = self._events, None
            await _shielded(events.aclose(done=done))


async def _shielded(awaitable: Any) -> None:
    """Run ``awaitable`` to the end even if the surrounding task is cancelled meanwhile, then re-raise that.

    Cancellation may be asyncio's (once) or anyio's (every await of a cancelled scope, again and again): an anyio
    shield keeps the latter from spinning, and the loop outlasts the former.
    """
    import anyio

    task = asyncio.ensure_future(awaitable)
    cancelled = False
    with anyio.CancelScope(shield=True):
        while not task.done():
            try:
                await asyncio.wait([task])
            except asyncio.CancelledError:
                cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    task.result()


def _source_outage(stream: object) -> EventStreamError | None:
    """The failure a stream's source reports while it cannot be read (``outage``, e.g. the Redis relay's:
    a :class:`~lockcloud.RelayError` naming the server)."""
    outage = getattr(getattr(stream, "source", None), "outage", None)
    return outage if isinstance(outage, EventStreamError) else None

"""Where events come from: the :class:`Source` protocol an :class:`~lockcloud.events.EventStream` consumes.

A source knows its transport (a Pulsar consumer, an HTTP endpoint, a relay, a WebSocket); the stream knows
delivery (dedupe, decoding, dead letters, fan-out, acknowledgements). Neither imports the other's internals: a
source hands over :class:`SourceMessage` values and the stream calls back through the protocol's methods.

The contract
------------
* **Lifecycle.** The stream calls :meth:`Source.open` once (raise :class:`~lockcloud.EventStreamError`, or a
  subclass, if it cannot start: the stream's ``open`` re-raises it), then :meth:`Source.receive` in a loop from one
  task, and :meth:`Source.close` once at the end, also after a failed ``open``. ``receive`` is never called
  concurrently with itself, ``resubscribe`` or ``close`` from the pump, but ``close`` may be called while a
  ``receive`` is pending: ``receive`` must then end with :class:`SourceClosed` (or its task is cancelled).
* **Receiving.** ``receive`` waits for at least one message and returns every message that is ready, in order,
  as a non-empty sequence (a batch saves a wake-up per message). Cancelling a pending ``receive`` must lose
  nothing: what it would have returned comes with the next call, or is redelivered by the transport.
* **Acknowledgements.** The stream calls :meth:`Source.acknowledge` exactly when it is done with a message: the
  recipients released it, it went to the dead-letter sink, it was a duplicate of one already acknowledged, or no
  recipient wanted it. Until then the source must consider it outstanding. ``acknowledge`` is synchronous and
  must not block (fire and forget; a lost acknowledgement only means a redelivery, which the stream suppresses).
  :meth:`Source.redeliver` says a recipient gave the message up (its loop raised): the transport should offer it
  again (Pulsar: negative acknowledgement); the stream has already forgotten it, so the redelivery is delivered.
  A message neither acknowledged nor redelivered when the stream closes is redelivered by the transport later.
* **Outcomes.** :meth:`Source.report` is called once for every message, once the stream has settled what to do
  with it (:class:`Outcome`; for a dead letter, after the acknowledgement): an HTTP source answers its caller from
  it; a broker source can ignore it. A message still in a batch when the stream closes is not reported: the
  source's ``close`` answers what it still holds.
* **Dedupe key.** ``SourceMessage.key`` identifies one message across redeliveries and reconnects of this source
  (Pulsar: topic + message id). Two different messages must never share a key; one message must keep its key.
  The stream keeps the last ``dedupe_window`` keys.
* **Failures.** A transient transport failure is raised from ``receive`` as :class:`~lockcloud.EventStreamError`;
  the stream then calls :meth:`Source.resubscribe` with jittered backoff until it succeeds (a
  :class:`SourceClosed` from it ends the reading, as from ``receive``). A source must not
  reconnect behind the stream's back in a way that replays messages under new keys. After a successful
  ``resubscribe`` the transport may redeliver anything unacknowledged: same keys, so no double delivery.
* **Bad data.** A source never drops a message it cannot read. It hands over the raw bytes with
  ``defect`` set to the reason; the stream sends it to the dead-letter sink and acknowledges it only once the
  sink has taken it. Messages that read fine but do not decode (wrong key, not JSON, wrong shape) are the stream's
  concern: the source passes the payload on untouched.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from lockcloud._core.errors import EventStreamError

__all__ = ["Outcome", "Source", "SourceClosed", "SourceMessage"]


class Outcome(enum.Enum):
    """What the stream did with one incoming message (given to :meth:`Source.report`)."""

    #: Handed to at least one recipient; acknowledged once they are all done with it.
    BUFFERED = "buffered"
    #: A redelivery of a message already taken; acknowledged with (or as) the original.
    DUPLICATE = "duplicate"
    #: Undecodable; taken by the dead-letter sink, then acknowledged.
    DEAD_LETTER = "dead_letter"
    #: Undecodable, and the dead-letter sink failed: not acknowledged, so the transport keeps it.
    DEAD_LETTER_FAILED = "dead_letter_failed"
    #: Undecodable, and the stream's dead-letter quota is used up: not acknowledged, so the transport keeps it.
    DEAD_LETTER_REFUSED = "dead_letter_refused"
    #: No recipient wanted it (``firehose=False``); acknowledged unless the stream says ``ack_unmatched=False``.
    UNMATCHED = "unmatched"
    #: The stream is closing: not taken, not acknowledged.
    CLOSED = "closed"


class SourceClosed(EventStreamError):
    """Raised by :meth:`Source.receive` once the source is closed: the stream stops reading, without an error."""


class SourceMessage:
    """One message as a source hands it to the stream.

    ``payload`` is the message body as received (for Tuya, the JSON envelope), ``properties`` its transport
    properties (``em`` picks the cipher), ``key`` the dedupe key (see the module docstring), ``message_id`` a
    printable id for logs and dead letters, and ``handle`` whatever the source needs to acknowledge it (opaque to
    the stream). ``topic``, ``partition`` and ``published_at`` (epoch seconds, the transport's publish time) are
    informational and ``None`` where the transport has no such thing. ``defect`` is set by a source that could not
    read the message at all: the stream dead-letters it without decoding.
    """

    __slots__ = (
        "defect",
        "handle",
        "key",
        "message_id",
        "partition",
        "payload",
        "properties",
        "published_at",
        "topic",
    )

    def __init__(
        self,
        payload: bytes,
        properties: Mapping[str, str],
        key: Hashable,
        *,
        message_id: str | None = None,
        handle: object = None,
        topic: str | None = None,
        partition: int | None = None,
        published_at: float | None = None,
        defect: str | None = None,
    ) -> None:
        self.payload = payload
        self.properties = properties
        self.key = key
        self.message_id = message_id
        self.handle = handle
        self.topic = topic
        self.partition = partition
        self.published_at = published_at
        self.defect = defect

    def __repr__(self) -> str:
        where = f" topic={self.topic!r}" if self.topic is not None else ""
        if self.partition is not None:
            where += f" partition={self.partition}"
        return f"<SourceMessage id={self.message_id!r}{where} {len(self.payload)} bytes>"


@runtime_checkable
class Source(Protocol):
    """A transport that feeds an :class:`~lockcloud.events.EventStream`; see the module docstring for the rules.

    ``description`` names the source in logs, reprs and error messages (for Pulsar: URL, topic, subscription). It
    must not contain secrets.
    """

    @property
    def description(self) -> str: ...

    async def open(self) -> None:
        """Connect and subscribe; raise :class:`~lockcloud.EventStreamError` with the fix in its message if not."""
        ...

    async def receive(self) -> Sequence[SourceMessage]:
        """The next messages (at least one), in order; :class:`SourceClosed` once closed."""
        ...

    def acknowledge(self, message: SourceMessage) -> None:
        """The stream is done with ``message``: it must not come back. Synchronous, non-blocking."""
        ...

    def redeliver(self, message: SourceMessage) -> None:
        """A recipient gave ``message`` up: offer it again (or leave it for redelivery after reconnecting)."""
        ...

    def report(self, message: SourceMessage, outcome: Outcome) -> None:
        """What the stream did with ``message``; called once per message (see the module docstring)."""
        ...

    async def resubscribe(self) -> None:
        """Recover after ``receive`` raised a transport failure; raise :class:`~lockcloud.EventStreamError` if not yet."""
        ...

    async def close(self, grace: float) -> None:
        """Release everything; wait at most ``grace`` seconds for the transport. Called once, also after a failed open."""
        ...

"""The Redis relay: push messages forwarded by listeners to a Redis stream that every web worker reads.

A deployment runs one or more listeners on the project's Failover subscription and several web workers. A worker
that starts an enrollment must see that lock's progress, but the lock's partition is consumed by some listener,
usually in another process. So each listener forwards every message it takes to one Redis stream, and every
worker reads the whole stream through an :class:`~lockcloud.events.EventStream` of its own (fan-out).

* :class:`RedisRelayForwarder` (the listener side) reads any :class:`~lockcloud.events.Source` (normally a
  :class:`~lockcloud.events.PulsarSource`), appends each message to the stream with ``XADD`` (``MAXLEN ~`` keeps
  it bounded), and acknowledges it to its source only after Redis took it: what Pulsar forgets has been relayed.
  It checks that Redis answers before it consumes anything.
* :class:`RedisRelaySource` (the worker side) is a :class:`~lockcloud.events.Source`:
  ``EventStream(RedisRelaySource(url, access_id), access_secret)``. It reads the stream through a consumer group
  of its own, so every reader sees every entry, and ``XACK``\\ s an entry once the stream is done with it.
  Entries carry the Pulsar topic and message id, the stream's dedupe key, so a message relayed twice (a listener
  died before its acknowledgement, its partition moved) is suppressed like a Pulsar redelivery. An entry that is
  not a relayed message goes to the stream's dead letters; the stream goes on.

Every URL form of the token store works here too: one server, a Redis Cluster (``redis+cluster://``; the stream,
its bell and its dead letters share one hash slot), or the master Sentinel names (``redis+sentinel://``).

Entries hold the message as Pulsar delivered it, still encrypted with the project's key: Redis never sees a
decrypted body, and workers decode with the same code (and the same dead-letter rules) as a Pulsar stream.

Needs the ``redis`` package (``lockcloud[redis]``), imported only when a relay is used.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import attrs

try:
    from redis.exceptions import ResponseError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("the Redis relay needs the redis package: pip install 'lockcloud[redis]'") from exc

from lockcloud._core.errors import EventStreamError, RelayError, ValidationError
from lockcloud._core.redis_keys import beside
from lockcloud._core.redis_url import OUTAGES, REDIS_FAILURES, RedisClient, redis_address, redis_client
from lockcloud._core.validation import seconds
from lockcloud._core.wire import topic_partition
from lockcloud.events._backoff import doubled, jittered, receive_or_resubscribe
from lockcloud.events._source import Outcome, Source, SourceClosed, SourceMessage

__all__ = ["RedisRelayForwarder", "RedisRelaySource", "RelayStats", "bell_key", "dead_key", "relay_key"]

logger = logging.getLogger("lockcloud.events")

#: Entry layout version, so that a later layout can be told apart (and dead-lettered by an older reader).
_FORMAT = b"2"
#: The field holding the entry's HMAC, and the one holding the forwarder's clock when it wrote the entry.
_SIGNATURE = b"sig"
_STAMP = b"ts"
#: A relayed message is a few kilobytes; an entry larger than this is refused without being sent to the reader.
DEFAULT_MAX_ENTRY_BYTES = 1024 * 1024
#: How far the forwarder's stamp may lie from the time Redis gave the entry (clocks differ), before it is a replay.
DEFAULT_MAX_SKEW = 300.0
# Fields of a refused entry kept in its dead letter, each cut to this many characters.
_DEAD_LETTER_FIELD_CHARS = 4096
_EPHEMERAL_PREFIX = "lockcloud-reader-"
# A read of the group that never sends an entry larger than ARGV[5] bytes (fields and values together): such an
# entry comes back as its id and {'lockcloud-oversized', size}, and only its size crosses the network. (XREADGROUP
# cannot block inside a script: readers wait on the bell stream instead.)
_GUARDED_READ = """
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], ARGV[4])
if not reply then return {} end
local limit = tonumber(ARGV[5])
local out = {}
for i, entry in ipairs(reply[1][2]) do
    local fields = entry[2]
    if type(fields) == 'table' then
        local size = 0
        for _, part in ipairs(fields) do size = size + string.len(part) end
        if size > limit then fields = {'lockcloud-oversized', tostring(size)} end
    end
    out[i] = {entry[1], fields}
end
return out
"""
_OVERSIZED = b"lockcloud-oversized"
_DEAD_MAXLEN = 10_000
# Acknowledgements Redis did not take are sent again this long after (doubling up to the maximum).
_ACK_RETRY_DELAY = 0.2
_ACK_MAX_RETRY_DELAY = 5.0


def relay_key(access_id: str) -> str:
    """The Redis stream a project's messages are relayed to: ``lockcloud:events:<access id>``."""
    if not access_id:
        raise ValidationError("access_id is required")
    return f"lockcloud:events:{access_id}"


def _client(url: str, timeout: float, block: float = 0.0) -> RedisClient:
    # The socket timeout must outlast a blocking read, or every idle XREADGROUP would look like a dead server.
    return redis_client(
        url,
        what="the Redis relay",
        option="relay URL",
        connect_timeout=timeout,
        socket_timeout=timeout + block,
    )


def _address(client: RedisClient) -> str:
    return redis_address(client)


def bell_key(key: str) -> str:
    """The small stream a forwarder rings after each write, so that readers wait without reading entries:
    ``{<key>}:bell`` (``<key>:bell`` when the key has a hash tag), in the key's Redis Cluster slot."""
    return beside(key, ":bell")


def dead_key(key: str) -> str:
    """The stream where readers keep what they refused from ``key`` (bounded: ``MAXLEN ~ 10000``):
    ``{<key>}:refused`` (``<key>:refused`` when the key has a hash tag), in the key's Redis Cluster slot."""
    return beside(key, ":refused")


def _signing_key(access_secret: str, key: str) -> bytes:
    """HKDF-SHA256 (RFC 5869) of the access secret for one relay stream: an entry signed for one stream (one
    project) verifies on no other."""
    if not access_secret:
        raise ValidationError(
            "access_secret is required: relay entries are signed with a key derived from it, and readers refuse "
            "unsigned ones"
        )
    prk = hmac.new(b"lockcloud relay v2", access_secret.encode(), hashlib.sha256).digest()
    return hmac.new(prk, b"entries\0" + key.encode() + b"\x01", hashlib.sha256).digest()


def _entry_limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
        raise ValidationError("max_entry_bytes must be an integer of at least 1024")
    return value


def _signature(signing_key: bytes, fields: Mapping[bytes, bytes]) -> bytes:
    mac = hmac.new(signing_key, b"lockcloud relay entry v2", hashlib.sha256)
    for name in sorted(fields):
        if name == _SIGNATURE:
            continue
        value = fields[name]
        mac.update(len(name).to_bytes(4, "big") + name + len(value).to_bytes(8, "big") + value)
    return mac.hexdigest().encode()


def _unreachable(address: str, exc: BaseException) -> RelayError:
    # The exception text can hold the URL with its password: name the server and the failure type only.
    return RelayError(
        f"the Redis relay at {address} cannot be reached ({type(exc).__name__})", address=address
    )


async def _check_reachable(client: RedisClient, address: str) -> None:
    try:
        await client.ping()
    except REDIS_FAILURES as exc:
        raise _unreachable(address, exc) from None


# -- the listener side ------------------------------------------------------------------------------------------


@attrs.define
class RelayStats:
    """Counters of a :class:`RedisRelayForwarder`.

    ``relayed`` counts the messages written to Redis (and then acknowledged to the source), ``retries`` the
    writes that failed and were tried again, ``resubscriptions`` the times the source was subscribed again after
    a failure, ``partitions`` how many messages came from each partition topic: the partitions this listener
    owned, and ``callback_errors`` how often ``on_relayed`` raised.
    """

    relayed: int = 0
    retries: int = 0
    resubscriptions: int = 0
    partitions: dict[str, int] = attrs.field(factory=dict)
    #: Times ``on_relayed`` raised (logged; the forwarder goes on).
    callback_errors: int = 0


class RedisRelayForwarder:
    """Forwards every message of ``source`` to the Redis stream at ``relay_url`` (key :func:`relay_key`).

    Usually made by ``LockCloud.relay_forwarder(relay_url)`` (a :class:`~lockcloud.events.PulsarSource` on the
    project's subscription)::

        async with cloud.relay_forwarder("redis://redis:6379/0") as forwarder:
            await forwarder.run()   # until cancelled

    Opening checks Redis first and raises :class:`~lockcloud.RelayError` naming the server if it does not
    answer, before the source is opened: nothing is consumed that could not be relayed. A message is acknowledged
    to the source only once ``XADD`` returned; while Redis is away the same batch is retried (with backoff, up to
    ``max_retry_delay`` seconds apart) and nothing behind it is taken. ``maxlen`` bounds the Redis stream
    (approximately: Redis trims whole nodes). ``on_relayed`` is called with each
    :class:`~lockcloud.events.SourceMessage` after it was relayed (the CLI prints it); if it raises, the error is
    logged and counted (``stats.callback_errors``) and relaying goes on. A message the source could not read
    (``defect`` set) is relayed with its reason, so that readers dead-letter it; so is one whose entry would exceed
    ``max_entry_bytes`` (its payload is then left out: readers refuse larger entries unread).

    Each entry is signed (HMAC-SHA256 under a key derived from ``access_secret`` and the stream's name) and stamped
    with the time it was written; readers refuse entries that are unsigned, tampered, signed for another stream,
    or replayed long after (see :class:`RedisRelaySource`). After each write the forwarder rings
    :func:`bell_key`, a one-entry stream readers wait on.
    """

    def __init__(
        self,
        source: Source,
        relay_url: str,
        access_id: str,
        *,
        access_secret: str | None = None,
        key: str | None = None,
        maxlen: int = 100_000,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
        redis_timeout: float = 5.0,
        retry_delay: float = 0.2,
        max_retry_delay: float = 10.0,
        close_timeout: float = 5.0,
        on_relayed: Callable[[SourceMessage], None] | None = None,
    ) -> None:
        if not isinstance(source, Source):
            raise ValidationError(f"source must be a lockcloud.events.Source, not {type(source).__name__}")
        if maxlen < 1:
            raise ValidationError("maxlen must be at least 1")
        if not redis_timeout > 0 or not retry_delay > 0 or max_retry_delay < retry_delay:
            raise ValidationError(
                "redis_timeout and retry_delay must be positive, max_retry_delay at least retry_delay"
            )
        self.source = source
        self.key = key or relay_key(access_id)
        bell_key(self.key)  # a key whose companions cannot share its cluster slot is refused now
        self._signing_key = _signing_key(access_secret or "", self.key)
        self.maxlen = maxlen
        self.max_entry_bytes = _entry_limit(max_entry_bytes)
        self.stats = RelayStats()
        self.on_relayed = on_relayed
        self._redis = _client(relay_url, redis_timeout)
        self.relay_address = _address(self._redis)
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._close_timeout = close_timeout
        self._state = "new"

    def __repr__(self) -> str:
        return f"<RedisRelayForwarder {self.source.description} -> {self.relay_address} {self.key!r} {self._state}>"

    async def __aenter__(self) -> RedisRelayForwarder:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Check Redis, then open the source; :class:`~lockcloud.EventStreamError` (or a subclass) if either fails."""
        if self._state != "new":
            raise EventStreamError(f"this forwarder is {self._state}")
        self._state = "opening"
        try:
            await _check_reachable(self._redis, self.relay_address)
        except BaseException:
            self._state = "closed"
            await self._redis.aclose()
            raise
        try:
            await self.source.open()
        except BaseException:
            await self.aclose()
            raise
        self._state = "open"

    async def run(self) -> None:
        """Relay messages until cancelled (or the source closes)."""
        if self._state != "open":
            raise EventStreamError(
                "open the forwarder first: async with cloud.relay_forwarder(...) as forwarder"
            )
        source = self.source
        while True:
            batch = await receive_or_resubscribe(
                source,
                self._retry_delay,
                self._max_retry_delay,
                who="relay",
                wanted=lambda: self._state == "open",
                resubscribed=self._count_resubscription,
            )
            if batch is None:
                return
            if not await self._relay(batch):
                return  # closed while Redis was away: the batch stays unacknowledged at the source
            stats = self.stats
            for message in batch:
                source.acknowledge(message)
                source.report(message, Outcome.BUFFERED)
                stats.relayed += 1
                topic = message.topic or "-"
                stats.partitions[topic] = stats.partitions.get(topic, 0) + 1
                if self.on_relayed is not None:
                    self._tell(self.on_relayed, message)

    def _tell(self, callback: Callable[[SourceMessage], None], message: SourceMessage) -> None:
        try:
            callback(message)
        except Exception:
            # The message is relayed and acknowledged either way: a broken callback must not stop the relay.
            self.stats.callback_errors += 1
            logger.exception(
                "relay %s: on_relayed raised for message %s; relaying goes on", self.key, message.message_id
            )

    def _count_resubscription(self) -> None:
        self.stats.resubscriptions += 1

    async def _relay(self, batch: Sequence[SourceMessage]) -> bool:
        """Write the batch to Redis, retrying until it took it (True) or the forwarder was closed (False)."""
        entries: list[dict[Any, Any]] = [
            _entry(message, self._signing_key, self.max_entry_bytes) for message in batch
        ]
        bell = bell_key(self.key)
        delay = self._retry_delay
        while self._state == "open":
            try:
                # One round trip for the batch. A retry after a partial write relays some messages twice: readers
                # suppress the copies by their Pulsar message id.
                async with self._redis.pipeline(transaction=False) as pipe:
                    for fields in entries:
                        pipe.xadd(self.key, fields, maxlen=self.maxlen, approximate=True)
                    # After the entries: a reader woken by the bell finds them.
                    pipe.xadd(bell, {b"n": str(len(entries)).encode()}, maxlen=1, approximate=False)
                    await pipe.execute()
                return True
            except REDIS_FAILURES as exc:
                self.stats.retries += 1
                logger.warning(
                    "relay to %s failed (%s); %d message(s) kept unacknowledged, next try in ~%.1f s",
                    self.relay_address,
                    type(exc).__name__,
                    len(entries),
                    delay,
                )
                await asyncio.sleep(jittered(delay))
                delay = doubled(delay, self._max_retry_delay)
        return False

    async def aclose(self) -> None:
        """Close the source (unrelayed messages stay unacknowledged there) and the Redis connection."""
        if self._state == "closed":
            return
        opened = self._state != "new"
        self._state = "closed"
        try:
            if opened:
                await self.source.close(self._close_timeout)
        finally:
            await self._redis.aclose()


def _entry(
    message: SourceMessage, signing_key: bytes, max_bytes: int = DEFAULT_MAX_ENTRY_BYTES
) -> dict[bytes, bytes]:
    fields: dict[bytes, bytes] = {
        b"v": _FORMAT,
        b"topic": (message.topic or "").encode(),
        # The reader's dedupe key is (topic, id): a source without message ids is keyed by a digest of its key.
        b"id": (message.message_id or _digest(message.key)).encode(),
        b"props": json.dumps(dict(message.properties), separators=(",", ":")).encode(),
        b"payload": message.payload,
    }
    if message.published_at is not None:
        fields[b"published"] = repr(message.published_at).encode()
    if message.defect is not None:
        fields[b"defect"] = message.defect[:_DEAD_LETTER_FIELD_CHARS].encode()
    size = sum(len(name) + len(value) for name, value in fields.items())
    if size > max_bytes:
        # Readers would refuse it unread: relay what it was instead, so that they dead-letter it with its reason.
        fields[b"payload"] = b""
        fields[b"props"] = b"{}"
        fields[b"defect"] = f"too large to relay ({size} bytes, max_entry_bytes {max_bytes})".encode()
    fields[_STAMP] = str(int(time.time() * 1000)).encode()
    fields[_SIGNATURE] = _signature(signing_key, fields)
    return fields


def _digest(key: Hashable) -> str:
    return "key:" + hashlib.sha256(repr(key).encode("utf-8", "replace")).hexdigest()[:32]


# -- the worker side --------------------------------------------------------------------------------------------


class RedisRelaySource:
    """A :class:`~lockcloud.events.Source` reading the relay stream: ``EventStream(RedisRelaySource(url, access_id),
    access_secret)``, or ``cloud.events(relay=url)``.

    Every reader has a consumer group of its own, so each sees every entry. Without ``group`` it is a new group
    starting at ``start`` (``"$"``: entries added from now on) that is destroyed on close (what it held
    unacknowledged is gone with it); opening one also drops the unnamed groups of readers idle for
    ``stale_after`` seconds (processes killed before they could close); a named ``group`` is kept across restarts and resumed where it stopped (its
    unacknowledged entries first), created at ``start`` if new. Entries are read up to ``batch`` at a time,
    blocking ``block`` seconds per read. Acknowledgements are ``XACK``\\ s sent by a background task. An entry a
    recipient gave up is offered again after ``redelivery_delay`` seconds. After a Redis failure the stream
    resubscribes and this reader re-reads its own unacknowledged entries (their keys are unchanged, so nothing
    is delivered twice). The URL's password never appears in :attr:`description`, logs or errors.

    **Nothing read is trusted.** An entry is accepted only if its signature verifies (HMAC-SHA256 under a key
    derived from ``access_secret`` and the stream's name, as :class:`RedisRelayForwarder` signs) and its stamp lies
    within ``max_skew`` seconds of the time Redis took it (a copy of an old entry written again is a replay). An
    entry larger than ``max_entry_bytes`` is measured in Redis and never sent here. A refused entry is
    acknowledged at once (it never stays pending), kept in :func:`dead_key` with its reason, counted
    (:attr:`refused`, by reason in :attr:`refusals`), logged as a warning, and handed to the stream as a message
    that cannot be read, so it lands in the stream's dead letters too.

    While Redis cannot be reached, :attr:`outage` holds the :class:`~lockcloud.RelayError` saying so (``None``
    once a read succeeds again): an enrollment that waits in vain for progress names it as its cause.
    """

    def __init__(
        self,
        url: str,
        access_id: str,
        *,
        access_secret: str | None = None,
        key: str | None = None,
        group: str | None = None,
        start: str = "$",
        batch: int = 100,
        block: float = 1.0,
        timeout: float = 5.0,
        redelivery_delay: float = 1.0,
        stale_after: float = 3600.0,
        max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES,
        max_skew: float = DEFAULT_MAX_SKEW,
    ) -> None:
        seconds(block, "block")
        seconds(timeout, "timeout")
        seconds(redelivery_delay, "redelivery_delay", allow_zero=True)
        seconds(stale_after, "stale_after")
        if batch < 1 or not stale_after > block:
            raise ValidationError(
                "batch must be at least 1, block and timeout positive, redelivery_delay not negative, "
                "stale_after longer than block"
            )
        if group is not None and not group:
            raise ValidationError("group must not be empty")
        _entry_limit(max_entry_bytes)
        seconds(max_skew, "max_skew")
        self.key = key or relay_key(access_id)
        bell_key(self.key)  # a key whose companions cannot share its cluster slot is refused now
        self._signing_key = _signing_key(access_secret or "", self.key)
        self._max_entry_bytes = max_entry_bytes
        self._max_skew_ms = max_skew * 1000
        #: Entries refused (unsigned, tampered, replayed, oversized, malformed), and how many for each reason.
        self.refused = 0
        self.refusals: dict[str, int] = {}
        #: Why Redis cannot be used right now (``None`` while it answers).
        self.outage: RelayError | None = None
        self._bell_id: bytes | None = None
        self._dead: list[dict[Any, Any]] = []
        self.ephemeral = group is None
        self.group = (
            group or f"{_EPHEMERAL_PREFIX}{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        )
        self.consumer = "reader"
        self._start = start
        self._batch = batch
        self._block = block
        self._redelivery_delay = redelivery_delay
        self._stale_after = stale_after
        self._redis = _client(url, timeout, block)
        self.address = _address(self._redis)
        # "0": our own pending entries first (after a restart of a named group, or a failure), then ">": new ones.
        self._cursor = "0"
        self._last_id: str | None = None
        # Entries given up by a recipient: (when to offer again, entry id).
        self._redeliveries: collections.deque[tuple[float, bytes]] = collections.deque()
        self._acks: list[bytes] = []
        self._ack_wanted = asyncio.Event()
        self._acker: asyncio.Task[None] | None = None
        # Whether open got as far as the group: only then is there anything to acknowledge or drop at close.
        self._grouped = False
        self._state = "new"

    def __repr__(self) -> str:
        return f"<RedisRelaySource {self.description} {self._state}>"

    @property
    def description(self) -> str:
        return f"redis relay {self.address} {self.key!r} as {self.group!r}"

    async def open(self) -> None:
        """Check Redis and create the consumer group; :class:`~lockcloud.RelayError` if Redis does not answer."""
        if self._state != "new":
            raise EventStreamError(f"a relay source serves one stream; this one is {self._state}")
        self._state = "opening"
        await _check_reachable(self._redis, self.address)
        await self._create_group(self._start)
        self._grouped = True
        if self.ephemeral:
            await self._drop_stale_readers()
        self._acker = asyncio.create_task(
            self._acknowledge_forever(), name=f"lockcloud-relay-acks {self.key}"
        )
        self._state = "open"

    async def _create_group(self, start: str) -> None:
        try:
            await self._redis.xgroup_create(self.key, self.group, id=start, mkstream=True)
        except OUTAGES as exc:
            raise _unreachable(self.address, exc) from None
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise EventStreamError(f"cannot create the relay group {self.group!r}: {exc}") from None
        except REDIS_FAILURES as exc:
            raise _unreachable(self.address, exc) from None

    async def _drop_stale_readers(self) -> None:
        # An unnamed reader drops its group when it closes; one that was killed cannot, and its group (with its
        # pending entries) would stay in Redis for good. A live reader touches Redis every ``block`` seconds, so
        # a group whose every consumer has been idle for ``stale_after`` is a dead process's. One that lives on
        # after all finds its group gone and makes it again after the last entry it saw (see ``_read``).
        try:
            groups: Any = await self._redis.xinfo_groups(self.key)
            for group in groups:
                name = _text(group.get("name"))
                if not name.startswith(_EPHEMERAL_PREFIX) or name == self.group:
                    continue
                consumers: Any = await self._redis.xinfo_consumers(self.key, name)
                idle = [int(consumer.get("idle", 0)) for consumer in consumers]
                if idle and min(idle) >= self._stale_after * 1000:
                    await self._redis.xgroup_destroy(self.key, name)
                    logger.info(
                        "relay %s: dropped the group of a reader gone for %d s", self.key, min(idle) // 1000
                    )
        except REDIS_FAILURES as exc:
            # Housekeeping only: this reader works without it.
            logger.debug("relay %s: stale readers not swept (%s)", self.key, type(exc).__name__)

    async def receive(self) -> Sequence[SourceMessage]:
        """The next entries (at least one). A cancelled read loses nothing: the next call re-reads our pending."""
        while True:
            if self._state == "closed":
                raise SourceClosed("the relay source is closed")
            if self._state != "open":
                raise EventStreamError("the relay source is not open")
            try:
                messages = await self._reclaim_due()
                if not messages:
                    messages = await self._read()
            except asyncio.CancelledError:
                # The server may have handed out entries we never saw: they are pending for us, read them again.
                self._cursor = "0"
                raise
            except EventStreamError:
                # Closing drops the group or the connection under a pending read: that is the end, not a failure.
                if self._state == "closed":
                    raise SourceClosed("the relay source is closed") from None
                raise
            # redis-py can swallow a cancellation that arrives during a blocking read and return as if the read
            # timed out: without this check a closing stream would wait for its pump forever.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                self._cursor = "0"
                raise asyncio.CancelledError
            if messages:
                return messages

    async def _read(self) -> list[SourceMessage]:
        cursor = self._cursor
        try:
            if cursor == ">" and self._bell_id is None:
                # Seen before reading: a write after the read rings a newer bell, so the wait below ends at once.
                self._bell_id = await self._latest_bell()
            answer: Any = await self._redis.eval(
                _GUARDED_READ,
                1,
                self.key,
                self.group,
                self.consumer,
                self._batch,
                cursor,
                self._max_entry_bytes,
            )
        except OUTAGES as exc:
            # CLUSTERDOWN, TRYAGAIN, no node reachable: the cluster is away, as a single server can be.
            self._cursor = "0"
            raise self._lost(exc) from None
        except ResponseError as exc:
            if "NOGROUP" in str(exc) and self._state != "closed":
                # The group or the whole stream went away (Redis restarted without persistence, or was flushed):
                # start again after the last entry seen, so nothing still in the stream is skipped.
                logger.warning("relay group %s is gone; creating it again", self.group)
                await self._create_group(self._last_id or "$")
                self._cursor = ">"
                self._bell_id = None
                return []
            raise EventStreamError(f"reading the relay failed: {str(exc)[:200]}") from None
        except REDIS_FAILURES as exc:
            self._cursor = "0"
            raise self._lost(exc) from None
        self.outage = None
        entries = [(entry[0], _pairs(entry[1])) for entry in answer or []]
        if cursor != ">":
            # Re-reading our own pending entries, a page at a time; once none are left, new ones.
            self._cursor = entries[-1][0].decode() if entries else ">"
            return self._messages(entries)
        if not entries:
            await self._wait_for_bell()
        return self._messages(entries)

    async def _latest_bell(self) -> bytes:
        last: Any = await self._redis.xrevrange(bell_key(self.key), count=1)
        return bytes(last[0][0]) if last else b"0-0"

    async def _wait_for_bell(self) -> None:
        """Wait until a forwarder rings (or ``block`` seconds, or a redelivery is due); nothing is read."""
        block = self._block
        if self._redeliveries:
            block = min(block, max(0.001, self._redeliveries[0][0] - time.monotonic()))
        bell = bell_key(self.key)
        try:
            rung: Any = await self._redis.xread(
                {bell: self._bell_id or b"$"}, count=1, block=max(1, round(block * 1000))
            )
        except REDIS_FAILURES as exc:
            raise self._lost(exc) from None
        if rung:
            self._bell_id = bytes(rung[0][1][-1][0])

    def _lost(self, exc: BaseException) -> RelayError:
        error = _unreachable(self.address, exc)
        self.outage = error
        return error

    def _messages(self, entries: list[tuple[bytes, dict[bytes, bytes] | None]]) -> list[SourceMessage]:
        messages = []
        for entry_id, fields in entries:
            if not fields:
                # A pending entry trimmed away by MAXLEN comes back without fields: it cannot be delivered any more.
                logger.warning(
                    "relay %s: entry %s was trimmed from the stream before it was processed (raise maxlen)",
                    self.key,
                    entry_id.decode(),
                )
                self._acks.append(entry_id)
                self._ack_wanted.set()
                continue
            self._last_id = entry_id.decode()
            messages.append(self._accept(entry_id, fields))
        return messages

    def _accept(self, entry_id: bytes, fields: dict[bytes, bytes]) -> SourceMessage:
        """The relayed message, or (refused) a message that cannot be read, naming why."""
        if _OVERSIZED in fields:
            size = fields[_OVERSIZED].decode(errors="replace")
            return self._refuse(
                entry_id, "oversized", f"larger than max_entry_bytes ({size} > {self._max_entry_bytes})", {}
            )
        if fields.get(b"v") != _FORMAT:
            return self._refuse(entry_id, "layout", "not a relayed message of this layout (v2)", fields)
        signature = fields.get(_SIGNATURE, b"")
        if not hmac.compare_digest(signature, _signature(self._signing_key, fields)):
            return self._refuse(entry_id, "signature", "its signature does not verify", fields)
        stamp = _milliseconds(fields.get(_STAMP))
        taken = _milliseconds(entry_id.split(b"-", 1)[0])
        if stamp is None or taken is None or abs(taken - stamp) > self._max_skew_ms:
            return self._refuse(
                entry_id, "replay", "stamped too far from when Redis took it (a replayed copy?)", fields
            )
        message = _message(entry_id, fields)
        if message is None:
            return self._refuse(
                entry_id, "malformed", "signed, but its fields are missing or malformed", fields
            )
        return message

    def _refuse(
        self, entry_id: bytes, kind: str, reason: str, fields: Mapping[bytes, bytes]
    ) -> SourceMessage:
        self.refused += 1
        self.refusals[kind] = self.refusals.get(kind, 0) + 1
        text_id = entry_id.decode(errors="replace")
        logger.warning("relay %s: entry %s refused: %s", self.key, text_id, reason)
        # Acknowledged now, whatever becomes of its dead letter: it must not stay pending for ever.
        self._acks.append(entry_id)
        size = sum(len(name) + len(value) for name, value in fields.items())
        self._dead.append(
            {
                b"entry": entry_id,
                b"reason": reason.encode(),
                b"group": self.group.encode(),
                b"size": b"%d" % size,
            }
        )
        self._ack_wanted.set()
        shown = {
            name.decode(errors="replace"): value[:_DEAD_LETTER_FIELD_CHARS].decode(errors="replace")
            for name, value in fields.items()
            if name != _SIGNATURE
        }
        document = json.dumps({"relay_entry": text_id, "reason": reason, "fields": shown}).encode()
        return SourceMessage(
            document,
            {},
            ("relay-entry", entry_id),
            message_id=f"relay:{text_id}",
            handle=entry_id,
            defect=f"relay entry refused: {reason}",
        )

    async def _reclaim_due(self) -> list[SourceMessage]:
        due: list[Any] = []
        now = time.monotonic()
        while self._redeliveries and self._redeliveries[0][0] <= now:
            due.append(self._redeliveries.popleft()[1])
        if not due:
            return []
        try:
            # XCLAIM to ourselves returns the entries again (and counts the delivery), as Pulsar redelivers.
            claimed: Any = await self._redis.xclaim(self.key, self.group, self.consumer, 0, due)
        except REDIS_FAILURES as exc:
            # Still pending for us: re-read with the rest after resubscribing.
            self._cursor = "0"
            raise self._lost(exc) from None
        found = {entry_id for entry_id, _ in claimed}
        gone = [entry_id for entry_id in due if entry_id not in found]
        return self._messages([*claimed, *((entry_id, None) for entry_id in gone)])

    def acknowledge(self, message: SourceMessage) -> None:
        """``XACK`` the entry, from a background task (fire and forget; a lost one means a suppressed re-read)."""
        if isinstance(message.handle, bytes):
            self._acks.append(message.handle)
            self._ack_wanted.set()

    def redeliver(self, message: SourceMessage) -> None:
        """Offer the entry again after ``redelivery_delay`` seconds (it stays pending in Redis meanwhile)."""
        if isinstance(message.handle, bytes):
            self._redeliveries.append((time.monotonic() + self._redelivery_delay, message.handle))

    def report(self, message: SourceMessage, outcome: Outcome) -> None:
        """Nothing to do: Redis learns what matters from acknowledgements."""

    async def resubscribe(self) -> None:
        """After a failed read: check the server again, then re-read our own pending entries."""
        if self._state == "closed":
            raise SourceClosed("the relay source is closed")
        try:
            await _check_reachable(self._redis, self.address)
        except RelayError as exc:
            self.outage = exc
            raise
        self._cursor = "0"
        self._bell_id = None

    async def _acknowledge_forever(self) -> None:
        # Stopped by a flag, not by cancelling it: redis-py may swallow a cancellation that lands in XACK.
        retry: float | None = None
        while self._state != "closed":
            if retry is None:
                await self._ack_wanted.wait()
            else:
                # Acknowledgements Redis did not take are sent again even if no new one comes: left pending in a
                # named group, they would be delivered again by the next reader of that group.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(jittered(retry)):
                        await self._ack_wanted.wait()
            self._ack_wanted.clear()
            if await self._flush_acks():
                retry = None
            else:
                retry = _ACK_RETRY_DELAY if retry is None else doubled(retry, _ACK_MAX_RETRY_DELAY)

    async def _flush_acks(self) -> bool:
        """Send the refused entries' records and the acknowledgements held; False (and still held) if Redis did
        not take them."""
        ids, self._acks = self._acks, []
        dead, self._dead = self._dead, []
        if not ids and not dead:
            return True
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for record in dead:
                    pipe.xadd(dead_key(self.key), record, maxlen=_DEAD_MAXLEN, approximate=True)
                if ids:
                    pipe.xack(self.key, self.group, *ids)
                await pipe.execute()
        except REDIS_FAILURES as exc:
            logger.debug("relay acknowledgements not sent (%s)", type(exc).__name__)
            self._acks[:0] = ids
            self._dead[:0] = dead
            return False
        return True

    async def close(self, grace: float) -> None:
        """Send the last acknowledgements (a named group) or drop the group (an unnamed one); close the client."""
        self._state = "closed"
        self._ack_wanted.set()
        acker, self._acker = self._acker, None
        wait = max(grace, 0.1)
        if acker is not None:
            await asyncio.wait([acker], timeout=wait)
            acker.cancel()
        with contextlib.suppress(TimeoutError, *REDIS_FAILURES):
            async with asyncio.timeout(wait):
                if not self._grouped:
                    pass
                elif self.ephemeral:
                    await self._redis.xgroup_destroy(self.key, self.group)
                else:
                    await self._flush_acks()
        await self._redis.aclose()


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _pairs(flat: object) -> dict[bytes, bytes] | None:
    """``[name, value, name, value, ...]`` as a dict (``None`` for an entry trimmed away)."""
    if not isinstance(flat, list):
        return None
    return {bytes(flat[i]): bytes(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def _milliseconds(value: bytes | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 16:
        return None
    return int(value)


def _message(entry_id: bytes, fields: dict[bytes, bytes]) -> SourceMessage | None:
    payload = fields.get(b"payload")
    message_id = fields.get(b"id")
    topic = fields.get(b"topic")
    properties: object = None
    # RecursionError: JSON nested past the interpreter's limit, which anyone who can write to Redis can send.
    with contextlib.suppress(ValueError, RecursionError):
        properties = json.loads(fields.get(b"props", b""))
    if (
        payload is None
        or not message_id
        or topic is None
        or not isinstance(properties, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in properties.items())
    ):
        return None
    text_id = message_id.decode(errors="replace")
    text_topic = topic.decode(errors="replace") or None
    defect = fields.get(b"defect")
    return SourceMessage(
        payload,
        properties,
        # The Pulsar key, so that a message relayed twice is one message to the stream.
        (text_topic, text_id),
        message_id=text_id,
        handle=entry_id,
        topic=text_topic,
        partition=None if text_topic is None else topic_partition(text_topic),
        published_at=_seconds(fields.get(b"published")),
        defect=None if defect is None else defect.decode(errors="replace"),
    )


def _seconds(value: bytes | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None

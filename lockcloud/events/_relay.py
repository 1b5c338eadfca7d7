"""The Redis relay: push messages forwarded by a listener to a Redis stream that every web worker reads.

A deployment runs one or more listeners on the project's Failover subscription and several web workers. A worker
that starts an enrollment must see that lock's progress, but the lock's partition is consumed by some listener,
usually in another process. So each listener forwards every message it takes from Pulsar to one Redis stream, and
every worker reads the whole stream through an :class:`~lockcloud.events.EventStream` of its own (fan-out).

* :class:`RedisRelayForwarder` (the listener side) appends each Pulsar message to the stream with ``XADD`` (``MAXLEN
  ~`` keeps it bounded), and acknowledges it to Pulsar only after Redis took it: what Pulsar forgets has been
  relayed. It checks that Redis answers before it consumes anything from Pulsar.
* :class:`RedisRelaySource` (the worker side; ``EventStream.from_relay``) reads the stream through a consumer group
  of its own, so every reader sees every entry, and ``XACK``\\ s an entry once the stream released it (after the
  loop body). Entries carry the Pulsar message id, so a message relayed twice (a listener died before its
  acknowledgement, the partition moved) is deduplicated like a Pulsar redelivery. An entry that is not a relayed
  message goes to the stream's dead letters; the stream goes on.

Entries hold the message as Pulsar delivered it, still encrypted with the project's key: Redis never sees a
decrypted body, and workers decode with the same code (and the same dead-letter rules) as a Pulsar stream.

Needs the ``redis`` package (``lockcloud[redis]``), imported only when a relay is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import socket
from collections.abc import Callable
from typing import Any

import attrs

try:
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError, ResponseError
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("the Redis relay needs the redis package: pip install 'lockcloud[redis]'") from exc

from lockcloud._errors import EventStreamError, ValidationError
from lockcloud._wire import topic_for
from lockcloud.events._decode import _decode
from lockcloud.events._models import Event
from lockcloud.events._stream import InitialPosition, Received, SubscriptionType

__all__ = ["RedisRelayForwarder", "RedisRelaySource", "RelayStats", "relay_key"]

logger = logging.getLogger("lockcloud.events")

#: Entry layout version, so that a later layout can be told apart (and dead-lettered by an older reader).
_FORMAT = b"1"
_EPHEMERAL_PREFIX = "lockcloud-reader-"


def relay_key(access_id: str) -> str:
    """The Redis stream a project's messages are relayed to: ``lockcloud:events:<access id>``."""
    return f"lockcloud:events:{access_id}"


def _client(url: str, timeout: float, block: float = 0.0) -> aioredis.Redis:
    try:
        # The socket timeout must outlast a blocking read, or every idle XREADGROUP would look like a dead server.
        return aioredis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout + block)
    except ValueError as exc:
        raise ValidationError(f"not a Redis URL ({exc})") from None


def _address(client: aioredis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


async def _check_reachable(client: aioredis.Redis, address: str) -> None:
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        # The exception text can hold the URL with its password; name the server and the failure type only.
        raise EventStreamError(
            f"the Redis relay at {address} cannot be reached ({type(exc).__name__})"
        ) from None


@attrs.define
class RelayStats:
    """Counters of a :class:`RedisRelayForwarder`.

    ``relayed`` counts the messages written to Redis (and then acknowledged to Pulsar), ``retries`` the writes
    that failed and were tried again, ``resubscriptions`` the Pulsar consumers made again after a failure, and
    ``partitions`` how many messages came from each partition topic: the partitions this listener owned.
    """

    relayed: int = 0
    retries: int = 0
    resubscriptions: int = 0
    partitions: dict[str, int] = attrs.field(factory=dict)


class RedisRelayForwarder:
    """Forwards every message of the project's Pulsar subscription to the Redis stream at ``relay_url``.

    ::

        async with RedisRelayForwarder(access_id, access_secret, pulsar_url=url, relay_url="redis://r:6379/0") as relay:
            await relay.run()   # until cancelled

    Opening checks Redis first and raises :class:`~lockcloud.EventStreamError` naming the server if it does not
    answer, before subscribing to Pulsar. A message is acknowledged to Pulsar only once ``XADD`` returned; while
    Redis is away the same message is retried (with backoff, up to ``max_retry_delay`` seconds apart) and nothing
    behind it is taken. ``maxlen`` bounds the stream (approximately: Redis trims whole nodes). ``on_relayed`` is
    called with each :class:`~lockcloud.events._stream.Received` message after it was relayed (the CLI prints it).
    The Pulsar options are those of :class:`~lockcloud.events.EventStream`.
    """

    def __init__(
        self,
        access_id: str,
        access_secret: str,
        *,
        pulsar_url: str,
        relay_url: str,
        env: str = "event",
        subscription: str | None = None,
        subscription_type: SubscriptionType = "failover",
        initial_position: InitialPosition = "latest",
        consumer_name: str | None = None,
        key: str | None = None,
        maxlen: int = 100_000,
        prefetch: int = 100,
        verify: bool | str = True,
        connect_timeout: float = 10.0,
        operation_timeout: float = 30.0,
        redis_timeout: float = 5.0,
        retry_delay: float = 0.2,
        max_retry_delay: float = 10.0,
        close_timeout: float = 5.0,
        pulsar_log_level: str = "warn",
        pulsar_log_file: str | None = None,
        on_relayed: Callable[[Received], None] | None = None,
    ) -> None:
        if not access_id or not access_secret:
            raise ValidationError("access_id and access_secret are required")
        if not pulsar_url:
            raise ValidationError("pulsar_url is required")
        if maxlen < 1:
            raise ValidationError("maxlen must be at least 1")
        if not redis_timeout > 0 or not retry_delay > 0 or max_retry_delay < retry_delay:
            raise ValidationError(
                "redis_timeout and retry_delay must be positive, max_retry_delay at least retry_delay"
            )
        self.access_id = access_id
        self.key = key or relay_key(access_id)
        self.maxlen = maxlen
        self.stats = RelayStats()
        self._access_secret = access_secret
        self._redis = _client(relay_url, redis_timeout)
        self.relay_address = _address(self._redis)
        self.topic = topic_for(access_id, env)
        self.subscription = subscription or f"{access_id}-sub"
        self._pulsar_options: dict[str, Any] = {
            "url": pulsar_url,
            "topic": self.topic,
            "subscription": self.subscription,
            "subscription_type": subscription_type,
            "initial_position": initial_position,
            "consumer_name": consumer_name,
            "prefetch": prefetch,
            "verify": verify,
            "connect_timeout": connect_timeout,
            "operation_timeout": operation_timeout,
            "log_level": pulsar_log_level,
            "log_file": pulsar_log_file,
        }
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._close_timeout = close_timeout
        self.on_relayed = on_relayed
        self._source: Any = None

    def __repr__(self) -> str:
        return f"<RedisRelayForwarder {self.topic!r} -> {self.relay_address} {self.key!r}>"

    async def __aenter__(self) -> RedisRelayForwarder:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Check Redis, then subscribe to Pulsar; raises :class:`~lockcloud.EventStreamError` if either fails."""
        await _check_reachable(self._redis, self.relay_address)
        from lockcloud.events._pulsar import PulsarSource, auth_params

        source = PulsarSource(
            authentication_params=auth_params(self.access_id, self._access_secret), **self._pulsar_options
        )
        try:
            await source.open()
        except BaseException:
            await source.close(self._close_timeout)
            raise
        self._source = source

    async def run(self) -> None:
        """Relay messages until cancelled."""
        from lockcloud.events._pulsar import SourceClosed

        source = self._source
        if source is None:
            raise EventStreamError("open the relay first: async with RedisRelayForwarder(...) as relay")
        while True:
            try:
                received = await source.receive()
            except SourceClosed:
                return
            except EventStreamError as exc:
                logger.warning("relay %s: consumer failed (%s); subscribing again", self.topic, exc)
                await self._resubscribe(source)
                continue
            await self._relay(received)
            source.acknowledge(received.handle)
            self.stats.relayed += 1
            topic = str(received.key[0]) if isinstance(received.key, tuple) else self.topic
            self.stats.partitions[topic] = self.stats.partitions.get(topic, 0) + 1
            if self.on_relayed is not None:
                self.on_relayed(received)

    def decode(self, received: Received) -> Event:
        """The typed event of a relayed message (for display); raises :class:`~lockcloud.DecodeError`."""
        return _decode(received.payload, self._access_secret, received.properties, received.message_id)

    async def _relay(self, received: Received) -> None:
        topic = received.key[0] if isinstance(received.key, tuple) else self.topic
        fields: dict[Any, Any] = {
            b"v": _FORMAT,
            b"topic": str(topic).encode(),
            b"id": (received.message_id or "").encode(),
            b"props": json.dumps(received.properties, separators=(",", ":")).encode(),
            b"payload": received.payload,
        }
        delay = self._retry_delay
        while True:
            try:
                await self._redis.xadd(self.key, fields, maxlen=self.maxlen, approximate=True)
                return
            except (RedisError, OSError) as exc:
                self.stats.retries += 1
                logger.warning(
                    "relay to %s failed (%s); message %s kept unacknowledged, next try in ~%.1f s",
                    self.relay_address,
                    type(exc).__name__,
                    received.message_id,
                    delay,
                )
                await asyncio.sleep(delay * (0.5 + random.random() / 2))
                delay = min(delay * 2, self._max_retry_delay)

    async def _resubscribe(self, source: Any) -> None:
        delay = self._retry_delay
        while True:
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            try:
                await source.resubscribe()
            except EventStreamError as exc:
                delay = min(delay * 2, self._max_retry_delay)
                logger.warning("relay %s: subscribing failed (%s)", self.topic, exc)
                continue
            self.stats.resubscriptions += 1
            return

    async def aclose(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            await source.close(self._close_timeout)
        await self._redis.aclose()


class RedisRelaySource:
    """Reads the relay stream for one :class:`~lockcloud.events.EventStream` (made by ``EventStream.from_relay``).

    Every reader has a consumer group of its own, so each sees every entry. Without ``group`` it is a new group
    starting at ``start`` (``"$"``: entries added from now on) that is destroyed on close; a named ``group`` is kept
    across restarts and resumed where it stopped (its unacknowledged entries first), created at ``start`` if new.
    Entries are read ``batch`` at a time, blocking ``block`` seconds per read; released entries are ``XACK``\\ ed
    in batches by a background task.
    """

    def __init__(
        self,
        url: str,
        access_id: str,
        *,
        key: str | None = None,
        group: str | None = None,
        start: str = "$",
        batch: int = 100,
        block: float = 1.0,
        timeout: float = 5.0,
    ) -> None:
        if batch < 1 or not block > 0 or not timeout > 0:
            raise ValidationError("batch must be at least 1, block and timeout positive")
        if group is not None and not group:
            raise ValidationError("group must not be empty")
        self.key = key or relay_key(access_id)
        self.ephemeral = group is None
        self.group = (
            group or f"{_EPHEMERAL_PREFIX}{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        )
        self.consumer = "reader"
        self._start = start
        self._batch = batch
        self._block_ms = max(1, round(block * 1000))
        self._redis = _client(url, timeout, block)
        self.address = _address(self._redis)
        self._entries: list[tuple[bytes, dict[bytes, bytes]]] = []
        # Our own pending entries first (after a restart of a named group, or a lost connection), then new ones.
        self._cursor = "0"
        self._last_id: str | None = None
        self._acks: list[bytes] = []
        self._ack_wanted = asyncio.Event()
        self._acker: asyncio.Task[None] | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"RedisRelaySource({self.address!r}, key={self.key!r}, group={self.group!r})"

    async def open(self) -> None:
        await _check_reachable(self._redis, self.address)
        await self._create_group(self._start)
        self._acker = asyncio.create_task(
            self._acknowledge_forever(), name=f"lockcloud-relay-acks {self.key}"
        )

    async def _create_group(self, start: str) -> None:
        try:
            await self._redis.xgroup_create(self.key, self.group, id=start, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise EventStreamError(f"cannot create the relay group {self.group!r}: {exc}") from None
        except (RedisError, OSError) as exc:
            raise EventStreamError(
                f"the Redis relay at {self.address} failed ({type(exc).__name__})"
            ) from None

    async def receive(self) -> Received:
        from lockcloud.events._pulsar import SourceClosed

        while not self._entries:
            if self._closed:
                raise SourceClosed()
            await self._read()
            # redis-py can swallow a cancellation that arrives during a blocking read and return as if the read
            # timed out: without this check a closing stream would wait for its pump forever.
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
        entry_id, fields = self._entries.pop(0)
        self._last_id = entry_id.decode()
        return _received(entry_id, fields)

    async def _read(self) -> None:
        try:
            answer: Any = await self._redis.xreadgroup(
                self.group, self.consumer, {self.key: self._cursor}, count=self._batch, block=self._block_ms
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                # The group or the whole stream went away (Redis restarted without persistence, or was flushed):
                # start again after the last entry seen, so nothing still in the stream is skipped.
                logger.warning("relay group %s is gone; creating it again", self.group)
                await self._create_group(self._last_id or "$")
                return
            raise EventStreamError(f"reading the relay failed: {exc}") from None
        except (RedisError, OSError) as exc:
            raise EventStreamError(
                f"the Redis relay at {self.address} failed ({type(exc).__name__})"
            ) from None
        entries = answer[0][1] if answer else []
        if self._cursor != ">" and not entries:
            self._cursor = ">"  # our pending entries are all re-read
        # A pending entry trimmed away by MAXLEN comes back without fields: nothing to deliver, only to acknowledge.
        for entry_id, fields in entries:
            if fields:
                self._entries.append((entry_id, fields))
            else:
                self.acknowledge(entry_id)
        if self._cursor != ">" and entries:
            self._cursor = entries[-1][0].decode()

    def acknowledge(self, handle: Any) -> None:
        self._acks.append(handle)
        self._ack_wanted.set()

    async def _acknowledge_forever(self) -> None:
        # Stopped by a flag, not by cancelling it: redis-py may swallow a cancellation that lands in XACK.
        while not self._closed:
            await self._ack_wanted.wait()
            self._ack_wanted.clear()
            await self._flush_acks()

    async def _flush_acks(self) -> None:
        ids, self._acks = self._acks, []
        if not ids:
            return
        try:
            await self._redis.xack(self.key, self.group, *ids)
        except (RedisError, OSError) as exc:
            # Kept for the next flush; an entry never acknowledged is only read again by a named group's restart.
            logger.debug("relay acknowledgements not sent (%s)", type(exc).__name__)
            self._acks[:0] = ids

    async def resubscribe(self) -> None:
        """After a failed read: check the server again and re-read our own pending entries."""
        await _check_reachable(self._redis, self.address)
        self._cursor = "0"

    async def close(self, grace: float) -> None:
        self._closed = True
        self._ack_wanted.set()
        acker, self._acker = self._acker, None
        if acker is not None:
            await asyncio.wait([acker], timeout=max(grace, 0.1))
            acker.cancel()
        with contextlib.suppress(TimeoutError, RedisError, OSError):
            async with asyncio.timeout(max(grace, 0.1)):
                if self.ephemeral:
                    await self._redis.xgroup_destroy(self.key, self.group)
                else:
                    await self._flush_acks()
        await self._redis.aclose()


def _received(entry_id: bytes, fields: dict[bytes, bytes]) -> Received:
    payload = fields.get(b"payload")
    message_id = fields.get(b"id")
    topic = fields.get(b"topic")
    properties: object = None
    with contextlib.suppress(ValueError):
        properties = json.loads(fields.get(b"props", b""))
    if (
        fields.get(b"v") == _FORMAT
        and payload is not None
        and message_id
        and topic
        and isinstance(properties, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in properties.items())
    ):
        text_id = message_id.decode(errors="replace")
        return Received(payload, properties, (topic.decode(errors="replace"), text_id), text_id, entry_id)
    # Not something a forwarder wrote: the entry itself goes to the dead letters (its decoding fails).
    raw = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
    document = json.dumps({"relay_entry": entry_id.decode(), "fields": raw}).encode()
    return Received(document, {}, ("relay-entry", entry_id), None, entry_id)

"""The WebSocket source: Pulsar's WebSocket consumer API, as Tuya serves it on port 8285.

Pure Python (the ``websockets`` package), so it runs wherever Python does, unlike pulsar-client's native wheels.
One connection to ``ws[s]://host:port/ws/v2/consumer/persistent/{tenant}/{namespace}/{topic}/{subscription}``,
logged in with ``username`` / ``password`` headers (the access id and the same password as Pulsar's ``auth1``).
Each text frame is one message, ``{"messageId", "payload" (base64), "properties", "publishTime", ...}``, and is
acknowledged by sending ``{"messageId": ...}`` back. A message id names the message on the subscription, not on
the connection, so an acknowledgement sent after a reconnection still counts.

A reader task per connection moves frames into a bounded queue (at most ``receiver_queue_size`` messages wait
here; past that the socket is not read, and the server holds back), so one :meth:`WebSocketSource.receive` hands
over everything that is ready. Acknowledgements go out through one writer task per connection, woken once per
batch. Liveness is websockets' ping/pong: a connection whose pong does not come back within ``ping_timeout`` is
closed; ``receive`` then raises and the stream subscribes again with backoff and jitter.

websockets logs every handshake header at DEBUG, the ``password`` header included: this module's wire logger
(``lockcloud.events.websocket``) replaces that value before the record goes anywhere.
"""

from __future__ import annotations

import asyncio
import binascii
import collections
import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import re
import ssl
import urllib.parse
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from lockcloud._core import validation
from lockcloud._core.errors import (
    EventStreamError,
    StreamAuthenticationError,
    StreamSubscriptionError,
    SubscribeError,
    ValidationError,
)
from lockcloud._core.network import warn_if_plain
from lockcloud.crypto import pulsar_password
from lockcloud.events._source import Outcome, SourceClosed, SourceMessage
from lockcloud.events._subscription import (
    InitialPosition,
    SubscriptionOptions,
    SubscriptionSettings,
    SubscriptionType,
)
from lockcloud.events._wakeup import Wakeup

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection, connect

__all__ = ["WebSocketOptions", "WebSocketSettings", "WebSocketSource", "consumer_url", "parse_frame"]

logger = logging.getLogger("lockcloud.events")

_SUBSCRIPTION_TYPES: dict[str, str] = {
    "failover": "Failover",
    "exclusive": "Exclusive",
    "shared": "Shared",
    "key_shared": "Key_Shared",
}
_SECRET_HEADERS = frozenset({"password"})
_PULSAR_RECEIVER_QUEUE = 1000
# Acknowledgements waiting for a connection; past this the oldest are dropped (a lost acknowledgement is only a
# redelivery, which the stream suppresses).
_MAX_PENDING_COMMANDS = 100_000
# Most acknowledgements written to the socket at once.
_COMMANDS_PER_WRITE = 256
# A message id that can go into an acknowledgement as it is (Pulsar's are base64).
_PLAIN_ID = re.compile(r"[A-Za-z0-9+/=_-]+")
# The close code websockets sends when a frame is over its max_size.
_MESSAGE_TOO_BIG = 1009


class _RedactHandshake(logging.Filter):
    """websockets logs every handshake header at DEBUG; the ``password`` header is a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and record.msg in ("> %s: %s", "< %s: %s"):
            name = str(args[0])
            if name.lower() in _SECRET_HEADERS:
                record.args = (name, "<redacted>")
        return True


wire_logger = logging.getLogger("lockcloud.events.websocket")
wire_logger.addFilter(_RedactHandshake())


class WebSocketSettings(SubscriptionSettings, total=False):
    """The WebSocket keywords of ``LockCloud.events(transport="websocket")`` (see :class:`WebSocketOptions`)."""

    ack_timeout: float
    ping_interval: float
    ping_timeout: float
    max_frame_size: int


def consumer_url(
    base_url: str,
    topic: str,
    subscription: str,
    *,
    subscription_type: SubscriptionType = "failover",
    ack_timeout: float = 3.0,
    receiver_queue_size: int = _PULSAR_RECEIVER_QUEUE,
    consumer_name: str | None = None,
    initial_position: InitialPosition = "latest",
) -> str:
    """The consumer endpoint for ``topic`` (``tenant/namespace/name``) under ``base_url`` (``ws[s]://host:port/``)."""
    parts = _service_root(base_url)
    names = topic.split("/")
    if len(names) != 3 or not all(names):
        raise ValidationError(f"topic must be tenant/namespace/name, not {topic!r}")
    if not subscription:
        raise ValidationError("subscription must not be empty")
    if subscription_type not in _SUBSCRIPTION_TYPES:
        raise ValidationError(f"unknown subscription type {subscription_type!r}")
    if ack_timeout < 0:
        raise ValidationError("ack_timeout must not be negative")
    if receiver_queue_size < 1:
        raise ValidationError("receiver_queue_size must be at least 1")
    if initial_position not in ("latest", "earliest"):
        raise ValidationError(f"unknown initial position {initial_position!r}")
    query = {
        "ackTimeoutMillis": str(round(ack_timeout * 1000)),
        "subscriptionType": _SUBSCRIPTION_TYPES[subscription_type],
    }
    # With the defaults the URL is exactly the one Tuya's SDK opens; Pulsar's receiver queue default is 1000.
    if receiver_queue_size != _PULSAR_RECEIVER_QUEUE:
        query["receiverQueueSize"] = str(receiver_queue_size)
    if consumer_name:
        query["consumerName"] = consumer_name
    if initial_position == "earliest":
        # Pulsar's default is Latest; Tuya's SDK never sends the parameter.
        query["subscriptionInitialPosition"] = "Earliest"
    path = "/".join(urllib.parse.quote(name, safe="") for name in [*names, subscription])
    prefix = parts.path.rstrip("/")
    return (
        f"{parts.scheme}://{parts.netloc}{prefix}/ws/v2/consumer/persistent/{path}"
        f"?{urllib.parse.urlencode(query)}"
    )


def _service_root(base_url: object) -> urllib.parse.SplitResult:
    authority = base_url.partition("//")[2].split("/", 1)[0] if isinstance(base_url, str) else ""
    if "@" in authority:
        # Not repeated back: websockets would send them as Basic credentials, and the URL shows in logs and errors.
        raise ValidationError(
            "websocket_url must not hold credentials (user:password@host): the access id and secret "
            "go in the handshake headers"
        )
    return validation.url(base_url, "websocket_url", schemes=("wss", "ws"))


def parse_frame(frame: str | bytes, topic: str) -> SourceMessage:
    """One consumer frame as a :class:`~lockcloud.events.SourceMessage`; ``defect`` says why it is unreadable.

    The dedupe key is the one pulsar-client gives the same message (its partition topic and the text of its id, as
    decoded from ``messageId``), so a message is one message whichever transport read it; the acknowledgement
    handle is the ``messageId`` as sent. A ``messageId`` that is not a Pulsar message id keys as it is. A frame that
    cannot be acknowledged (not a JSON object, no ``messageId``) has handle ``None`` and a key made from its
    bytes; a frame with an id but no base64 payload keeps its id (it is acknowledged once dead-lettered). Either
    way the payload of an unreadable frame is the frame's own bytes, so the dead letter keeps all of it.
    """
    try:
        # A text frame goes to the parser as it is (bytes would first be sniffed for UTF-16/32, then decoded).
        document = json.loads(frame if isinstance(frame, str | bytes) else bytes(frame))
    except (ValueError, RecursionError):  # RecursionError: nested past the interpreter's limit
        return _unacknowledgeable(_bytes(frame), "WebSocket frame is not JSON")
    if not isinstance(document, dict):
        return _unacknowledgeable(_bytes(frame), "WebSocket frame is not a JSON object")
    message_id = document.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        return _unacknowledgeable(_bytes(frame), "WebSocket frame has no messageId")
    properties = _properties(document.get("properties"))
    published_at = _epoch(document.get("publishTime"))
    defect: str | None = None
    payload = document.get("payload")
    if not isinstance(payload, str):
        defect = "WebSocket frame has no payload"
    else:
        try:
            # What b64decode(validate=True) accepts, without its regular expression.
            body = binascii.a2b_base64(payload, strict_mode=True)
        except (binascii.Error, ValueError):
            defect = "WebSocket frame payload is not base64"
    if defect is not None:
        body = _bytes(frame)
    # The key is the one pulsar-client gives the same message (its partition topic and its id's text), so that a
    # message read over both transports (listeners of either kind forwarding to one relay) is one message.
    # The acknowledgement handle stays the id as the server sent it.
    native = native_message_id(message_id)
    partition: int | None = None
    key_topic, key_id = topic, message_id
    if native is not None:
        ledger, entry, partition, batch = native
        key_id = f"({ledger},{entry},{partition},{batch})"
        key_topic = _qualified(topic, partition)
        if partition < 0:
            partition = None
    return SourceMessage(
        body,
        properties,
        (key_topic, key_id),
        message_id=key_id,
        handle=message_id,
        topic=key_topic,
        partition=partition,
        published_at=published_at,
        defect=defect,
    )


@functools.lru_cache(maxsize=64)
def _qualified(topic: str, partition: int) -> str:
    """The topic as pulsar-client names a message's: fully qualified, and the partition's own when partitioned."""
    name = topic if "://" in topic else f"persistent://{topic}"
    return f"{name}-partition-{partition}" if partition >= 0 and "-partition-" not in name else name


def native_message_id(encoded: str) -> tuple[int, int, int, int] | None:
    """``(ledger, entry, partition, batch index)`` of a WebSocket ``messageId`` (the base64 of Pulsar's serialized
    ``MessageIdData``), or None when it is not one; partition and batch index are -1 when absent."""
    try:
        data = binascii.a2b_base64(encoded, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    ledger = entry = None
    partition = batch = -1
    position, size = 0, len(data)
    try:
        while position < size:
            tag = data[position]  # every field of MessageIdData has a one-byte tag
            position += 1
            value = data[position]
            position += 1
            if value >= 0x80:  # a varint of more than one byte (or a length, for wire type 2)
                value, position = _varint(data, position - 1)
            wire_type = tag & 7
            if wire_type == 2:
                position += value
            elif wire_type != 0 or tag >= 0x80:
                return None
            elif tag == 0x08:
                ledger = value
            elif tag == 0x10:
                entry = value
            elif tag == 0x18 or tag == 0x20:
                # int32 fields carry negative numbers as 64-bit two's complement.
                number = value - (1 << 64) if value >= 1 << 63 else value
                if tag == 0x18:
                    partition = number
                else:
                    batch = number
    except IndexError:
        return None
    if position != size or ledger is None or entry is None:
        return None
    return ledger, entry, partition, batch


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise IndexError("varint longer than 64 bits")


def _bytes(frame: str | bytes) -> bytes:
    return frame.encode("utf-8", "surrogatepass") if isinstance(frame, str) else bytes(frame)


def _unacknowledgeable(raw: bytes, reason: str) -> SourceMessage:
    # No id to acknowledge with: the key comes from the bytes, so the same frame sent again is recognised.
    return SourceMessage(raw, {}, ("websocket-frame", hashlib.sha256(raw).hexdigest()), defect=reason)


def _properties(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): item if isinstance(item, str) else json.dumps(item) for key, item in value.items()}


def _epoch(value: object) -> float | None:
    """Pulsar's ``publishTime`` (ISO 8601, ``Z`` for UTC) as epoch seconds; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _ack_command(message_id: str) -> str:
    """``{"messageId": ...}``; a base64 id (what Pulsar sends) needs no escaping, anything else goes through json."""
    if _PLAIN_ID.fullmatch(message_id):
        return '{"messageId":"' + message_id + '"}'
    return json.dumps({"messageId": message_id})


async def _send_texts(connection: ClientConnection, texts: list[str]) -> None:
    """Send each of ``texts`` as a text frame, all in one write to the socket (one system call, not one each).

    websockets writes every frame on its own; here the frames are made by its protocol object and written
    together, inside its send context (which checks the connection is open and applies flow control).
    """
    async with connection.send_context():
        protocol = connection.protocol
        for text in texts:
            protocol.send_text(text.encode())
        data = protocol.data_to_send()
        if data:
            # send_context's own write, on leaving, finds only what arrives meanwhile (nothing, or an EOF).
            connection.transport.write(b"".join(data))


@attrs.frozen(kw_only=True)
class WebSocketOptions(SubscriptionOptions):
    """Where and how a :class:`WebSocketSource` subscribes: the options of :class:`SubscriptionOptions`, and these.

    ``url`` is the service's root, ``wss://mqe.<region host>:8285/`` (``Region.websocket_url``). Wrong
    credentials raise :class:`~lockcloud.StreamAuthenticationError`, a refused topic or subscription
    :class:`~lockcloud.StreamSubscriptionError`, anything else :class:`~lockcloud.SubscribeError`, each within
    ``connect_timeout``. ``ack_timeout`` is how long the server waits for an acknowledgement before it sends the
    message again (3 s, as Tuya's SDK asks; 0 for never: then only a reconnection brings it back).
    ``ping_interval`` / ``ping_timeout`` detect a dead connection; ``max_frame_size`` bounds one frame. Its
    default, 8 MiB, holds the largest message a Pulsar broker accepts by default (5 MB, base64-encoded in its JSON
    frame): a larger frame cannot be read, so it cannot be dead-lettered, and the subscription stops on it.
    """

    ack_timeout: float = attrs.field(default=3.0, validator=validation.non_negative_seconds)
    ping_interval: float = attrs.field(default=20.0, validator=validation.positive_timeout)
    ping_timeout: float = attrs.field(default=20.0, validator=validation.positive_timeout)
    max_frame_size: int = attrs.field(default=8 << 20, validator=validation.positive_count)

    def __attrs_post_init__(self) -> None:
        self.endpoint  # noqa: B018 - validates the topic, the subscription and the query options now

    def _check_url(self, value: object) -> None:
        _service_root(value)

    @property
    def endpoint(self) -> str:
        """The consumer URL this source connects to (no secrets: those go in headers)."""
        return consumer_url(
            self.url,
            self.topic,
            self.subscription_name,
            subscription_type=self.subscription_type,
            ack_timeout=self.ack_timeout,
            receiver_queue_size=self.receiver_queue_size,
            consumer_name=self.consumer_name,
            initial_position=self.initial_position,
        )


@functools.cache
def _connect_without_redirects() -> type[connect]:
    """websockets' ``connect``, refusing redirects: it strips only the standard credential headers on a redirect
    to another host, not Pulsar's ``password`` header."""
    from websockets.asyncio.client import connect

    class _Connect(connect):
        def process_redirect(self, exc: Exception) -> Exception | str:
            return exc

    return _Connect


def _ssl_context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        # Explicit opt-out only: Tuya's SDK skips verification, lockcloud never does by default.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class WebSocketSource:
    """A :class:`~lockcloud.events.Source` reading the project's topic over Pulsar's WebSocket consumer API.

    Keys are ``(topic, message id)``; acknowledgements are ``{"messageId"}`` frames, sent fire-and-forget on the
    current connection; :meth:`redeliver` is a ``negativeAcknowledge``. A frame that is not a JSON object with a
    ``messageId`` cannot be acknowledged: it reaches the stream with ``defect`` set (a dead letter, never
    acknowledged blind). A lost connection (or a pong that never came) makes :meth:`receive` raise
    :class:`~lockcloud.EventStreamError`; the stream then calls :meth:`resubscribe` with backoff and jitter, and
    the server sends whatever was not acknowledged again, under the same keys.
    """

    def __init__(self, options: WebSocketOptions) -> None:
        if not isinstance(options, WebSocketOptions):
            raise ValidationError("WebSocketSource takes a WebSocketOptions")
        self.options = options
        self.url = options.url
        self.topic = options.topic
        self.subscription = options.subscription_name
        self.endpoint = options.endpoint
        self._ssl = _ssl_context(options.verify) if self.endpoint.startswith("wss:") else None
        self._connection: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ready: collections.deque[SourceMessage] = collections.deque()
        self._room = asyncio.Event()
        self._room.set()
        self._wakeup = Wakeup()
        self._failure: EventStreamError | None = None
        self._commands: collections.deque[str] = collections.deque(maxlen=_MAX_PENDING_COMMANDS)
        self._flush: asyncio.Future[None] | None = None
        # Set while the writer has nothing left to do: every queued command sent, or its connection gone.
        self._writer_idle = asyncio.Event()
        self._closed = False
        #: Successful reconnections (``resubscribe``) so far.
        self.reconnections = 0

    @property
    def description(self) -> str:
        return f"{self.url} topic {self.topic!r} subscription {self.subscription!r} (WebSocket)"

    def __repr__(self) -> str:
        return f"WebSocketSource(url={self.url!r}, topic={self.topic!r}, subscription={self.subscription!r})"

    # -- opening ------------------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect once; a refusal raises a typed error (see :class:`WebSocketOptions`) within ``connect_timeout``."""
        if self._closed:
            raise SourceClosed("this source was closed")
        warn_if_plain(self.url, what="the WebSocket push URL", stacklevel=3)
        await self._connect()

    def _failure_error(
        self, what: str, reason: str, fix: str, kind: type[SubscribeError] = SubscribeError
    ) -> SubscribeError:
        return kind(
            what, reason=reason, url=self.url, topic=self.topic, subscription=self.subscription, fix=fix
        )

    async def _connect(self) -> None:
        from websockets.exceptions import InvalidStatus, WebSocketException

        connect = _connect_without_redirects()

        options = self.options
        timeout = options.connect_timeout
        password = pulsar_password(options.access_id, options.access_secret)
        try:
            connection = await connect(
                self.endpoint,
                additional_headers={"username": options.access_id, "password": password},
                ssl=self._ssl,
                open_timeout=timeout,
                ping_interval=options.ping_interval,
                ping_timeout=options.ping_timeout,
                close_timeout=min(timeout, 5.0),
                max_size=options.max_frame_size,
                compression=None,
                logger=wire_logger,
            )
        except InvalidStatus as exc:
            raise self._refusal(exc.response.status_code) from None
        except ssl.SSLCertVerificationError as exc:
            raise self._failure_error(
                f"the server's TLS certificate is not trusted ({exc.verify_message})",
                "tls",
                "check the URL is the region's push endpoint and the system clock; for a private CA pass "
                "verify='/path/to/ca.pem' (verify=False switches checking off)",
            ) from None
        except ssl.SSLError as exc:
            raise self._failure_error(
                f"the TLS handshake failed ({exc.reason or exc})",
                "tls",
                "wss:// needs a TLS endpoint (a plaintext one takes ws://)",
            ) from None
        except ConnectionRefusedError:
            raise self._failure_error(
                "the connection was refused",
                "refused",
                "check that the service runs and the host and port are right (Tuya: port 8285 open outbound)",
            ) from None
        except TimeoutError:
            raise self._failure_error(
                f"no WebSocket handshake within connect_timeout={timeout:g} s",
                "unreachable",
                "check the host, the network and the firewall (Tuya: port 8285 open outbound)",
            ) from None
        except OSError as exc:
            raise self._failure_error(
                f"cannot connect ({exc.strerror or exc})",
                "unreachable",
                "check the host name and the network",
            ) from None
        except WebSocketException as exc:
            raise self._failure_error(
                f"the WebSocket handshake failed ({type(exc).__name__}: {exc})",
                "failed",
                "check that the URL is a Pulsar WebSocket service (wss://host:8285/)",
            ) from None
        self._connection = connection
        self._failure = None
        self._tasks = [
            asyncio.create_task(self._read(connection), name="lockcloud-ws-read"),
            asyncio.create_task(self._write(connection), name="lockcloud-ws-write"),
        ]

    def _refusal(self, status: int) -> SubscribeError:
        if 300 <= status < 400:
            return self._failure_error(
                f"the push endpoint redirects elsewhere (HTTP {status}); redirects are not followed, as they "
                "would carry the password header to another server",
                "failed",
                "check the URL is the region's push endpoint (wss://mqe.<region host>:8285/)",
            )
        if status == 401:
            return self._failure_error(
                "the message service refused the credentials (HTTP 401)",
                "auth",
                "check the access id and secret, and that the project's message service is enabled",
                StreamAuthenticationError,
            )
        if status == 409:
            return self._failure_error(
                "another consumer holds the subscription (HTTP 409)",
                "busy",
                "stop the other consumer (a running 'lockcloud listen'?) or pass a subscription of your own",
                StreamSubscriptionError,
            )
        if 400 <= status < 500:
            return self._failure_error(
                f"the message service refused the topic or subscription (HTTP {status})",
                "refused",
                "check the access id (the topic is {access_id}/out/event) and the subscription name",
                StreamSubscriptionError,
            )
        return self._failure_error(
            f"the message service answered HTTP {status} to the WebSocket upgrade",
            "failed",
            "try again later; the stream keeps trying once it is open",
        )

    # -- the connection's two tasks -----------------------------------------------------------------------------

    async def _read(self, connection: ClientConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        limit = self.options.receiver_queue_size
        topic = self.topic
        ready = self._ready
        try:
            async for frame in connection:
                ready.append(parse_frame(frame, topic))
                self._wakeup.wake()
                if len(ready) >= limit:
                    # Bounded memory: stop reading; the socket fills and the server holds back.
                    self._room.clear()
                    await self._room.wait()
            failure = EventStreamError(
                f"the server closed the WebSocket connection ({connection.close_code})"
            )
        except ConnectionClosed as exc:
            if exc.sent is not None and exc.sent.code == _MESSAGE_TOO_BIG:
                # Unread, it cannot be dead-lettered, and the server sends it again after every reconnection.
                failure = EventStreamError(
                    f"a message larger than max_frame_size={self.options.max_frame_size} bytes arrived "
                    f"({exc.sent.reason}); the subscription is stuck on it until max_frame_size is raised"
                )
            else:
                failure = EventStreamError(f"the WebSocket connection was lost ({exc})")
        except Exception as exc:  # a bug in parsing must not end the stream silently
            failure = EventStreamError(
                f"reading the WebSocket connection failed: {type(exc).__name__}: {exc}"
            )
        if self._connection is connection:
            self._failure = failure
            self._wakeup.wake()

    async def _write(self, connection: ClientConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        commands = self._commands
        loop = asyncio.get_running_loop()
        while True:
            while commands:
                # Taken before the send: a full deque drops its oldest entry on append, which must never be
                # one in flight (removing "the first" afterwards would drop a command never sent).
                batch = [commands.popleft() for _ in range(min(len(commands), _COMMANDS_PER_WRITE))]
                try:
                    await _send_texts(connection, batch)
                except ConnectionClosed:
                    commands.extendleft(reversed(batch))
                    self._writer_idle.set()
                    return  # kept for the next connection; the reader reports the failure
            self._writer_idle.set()
            flush: asyncio.Future[None] = loop.create_future()
            self._flush = flush
            try:
                await flush
            finally:
                self._flush = None

    def _command(self, text: str) -> None:
        self._commands.append(text)
        self._writer_idle.clear()
        flush = self._flush
        if flush is not None and not flush.done():
            flush.set_result(None)

    # -- the Source protocol ------------------------------------------------------------------------------------

    async def receive(self) -> Sequence[SourceMessage]:
        """Every message ready (at least one). Cancelling the caller loses nothing: frames wait in the queue."""
        while True:
            if self._closed:
                # What is still queued is not handed over: unacknowledged, the server sends it again.
                raise SourceClosed("the source is closed")
            ready = self._ready
            if ready:
                taken = list(ready)
                ready.clear()
                self._room.set()
                return taken
            if self._failure is not None:
                raise self._failure
            if self._connection is None:
                raise EventStreamError("not connected (subscribing again failed)")
            await self._wakeup.wait()

    def acknowledge(self, message: SourceMessage) -> None:
        """Send ``{"messageId": ...}`` (fire and forget). A frame without an id has nothing to acknowledge."""
        if message.handle is not None:
            self._command(_ack_command(str(message.handle)))

    def redeliver(self, message: SourceMessage) -> None:
        """Ask the server to send the message again now; if that is lost, ``ack_timeout`` or a reconnection does."""
        if message.handle is not None:
            self._command(json.dumps({"type": "negativeAcknowledge", "messageId": str(message.handle)}))

    def report(self, message: SourceMessage, outcome: Outcome) -> None:
        """Nothing to do: the server learns what matters from acknowledgements."""

    async def resubscribe(self) -> None:
        """Drop the broken connection and connect again (one attempt; the stream paces the attempts)."""
        if self._closed:
            raise SourceClosed("the source is closed")
        await self._disconnect(self.options.connect_timeout)
        await self._connect()
        self.reconnections += 1

    async def close(self, grace: float) -> None:
        """Send the acknowledgements still queued (within ``grace`` seconds), then close the connection."""
        self._closed = True
        self._wakeup.wake()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(grace, 0.0)
        if self._commands and self._connection is not None and self._failure is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(grace, 0.0)):
                    await self._writer_idle.wait()
        await self._disconnect(max(0.0, deadline - loop.time()))

    async def _disconnect(self, grace: float) -> None:
        connection, self._connection = self._connection, None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._room.set()
        if connection is None:
            return
        try:
            async with asyncio.timeout(grace):
                await connection.close()
        except (TimeoutError, OSError) as exc:
            logger.debug("WebSocket connection did not close cleanly (%s); aborting it", type(exc).__name__)
            with contextlib.suppress(Exception):
                connection.transport.abort()

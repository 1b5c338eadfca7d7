"""The WebSocket side of an event stream: Pulsar's WebSocket consumer API, as Tuya serves it on port 8285.

Pure Python (the ``websockets`` package), so it runs wherever Python does, unlike pulsar-client's native wheels.
One connection to ``ws[s]://host:port/ws/v2/consumer/persistent/{tenant}/{namespace}/{topic}/{subscription}``,
logged in with ``username`` / ``password`` headers (the access id and the same password as Pulsar's ``auth1``).
Each text frame is one message, ``{"messageId", "payload" (base64), "properties", "publishTime", ...}``, and is
acknowledged by sending ``{"messageId": ...}`` back. A message id names the message on the subscription, not on
the connection, so an acknowledgement sent after a reconnection still counts.

Liveness is websockets' ping/pong: a connection whose pong does not come back within ``ping_timeout`` is closed
and a new one is made, after a backoff with jitter. A frame that is not a JSON object with a ``messageId`` cannot
be acknowledged at all; it is handed to the stream as a dead letter (kept, never acknowledged blind).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import random
import ssl
import time
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote, urlencode, urlsplit

import certifi
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from lockcloud._errors import (
    DecodeError,
    EventStreamError,
    StreamAuthenticationError,
    StreamSubscriptionError,
    ValidationError,
)
from lockcloud.events._stream import Received, SourceClosed

__all__ = ["WebSocketSource", "consumer_url", "parse_frame"]

logger = logging.getLogger("lockcloud.events")

WebSocketSubscriptionType = Literal["failover", "exclusive", "shared", "key_shared"]

_SUBSCRIPTION_TYPES: dict[str, str] = {
    "failover": "Failover",
    "exclusive": "Exclusive",
    "shared": "Shared",
    "key_shared": "Key_Shared",
}
# A connection that lived this long, or delivered a message, was a success: the next failure starts the backoff
# from the beginning again.
_HEALTHY_AFTER = 10.0
_SECRET_HEADERS = frozenset({"password"})


class _RedactHandshake(logging.Filter):
    """websockets logs every handshake header at DEBUG; the ``password`` header is a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and record.msg in ("> %s: %s", "< %s: %s"):
            name = str(args[0])
            if name.lower() in _SECRET_HEADERS:
                record.args = (name, "<redacted>")
        return True


_wire_logger = logging.getLogger("lockcloud.events.websocket")
_wire_logger.addFilter(_RedactHandshake())


def consumer_url(
    base_url: str,
    topic: str,
    subscription: str,
    *,
    subscription_type: WebSocketSubscriptionType = "failover",
    ack_timeout: float = 3.0,
    receiver_queue_size: int = 100,
    consumer_name: str | None = None,
    initial_position: Literal["latest", "earliest"] = "latest",
) -> str:
    """The consumer endpoint for ``topic`` (``tenant/namespace/name``) under ``base_url`` (``ws[s]://host:port/``)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValidationError(
            f"a WebSocket push URL starts with ws:// or wss:// and names a host, not {base_url!r}"
        )
    if parts.query or parts.fragment:
        raise ValidationError("the WebSocket push URL must not have a query or fragment")
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
        "receiverQueueSize": str(receiver_queue_size),
    }
    if consumer_name:
        query["consumerName"] = consumer_name
    if initial_position == "earliest":
        # Pulsar's default is Latest; Tuya's SDK never sends the parameter.
        query["subscriptionInitialPosition"] = "Earliest"
    path = "/".join(quote(name, safe="") for name in [*names, subscription])
    prefix = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{prefix}/ws/v2/consumer/persistent/{path}?{urlencode(query)}"


def parse_frame(frame: str | bytes, topic: str) -> tuple[Received, DecodeError | None]:
    """One consumer frame as the stream's :class:`Received`, and the reason it must be dead-lettered, if any.

    The dedupe key is ``(topic, messageId)``; the acknowledgement handle is the message id itself. A frame that
    cannot be acknowledged (not a JSON object, no ``messageId``) has handle ``None``, and its bytes are the
    dead letter's payload. A frame with an id whose payload is not base64 is dead-lettered and acknowledged.
    """
    raw = frame.encode() if isinstance(frame, str) else frame
    try:
        document = json.loads(raw)
    except ValueError:
        return _unacknowledgeable(raw, "WebSocket frame is not JSON")
    if not isinstance(document, dict):
        return _unacknowledgeable(raw, "WebSocket frame is not a JSON object")
    message_id = document.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        return _unacknowledgeable(raw, "WebSocket frame has no messageId")
    properties = _properties(document.get("properties"))
    received = Received(raw, properties, (topic, message_id), message_id, message_id)
    payload = document.get("payload")
    if not isinstance(payload, str):
        return received, DecodeError("WebSocket frame has no payload", raw, properties)
    try:
        received.payload = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return received, DecodeError("WebSocket frame payload is not base64", raw, properties)
    return received, None


def _unacknowledgeable(raw: bytes, reason: str) -> tuple[Received, DecodeError]:
    received = Received(raw, {}, ("websocket-frame", hashlib.sha256(raw).digest()), None, None)
    return received, DecodeError(reason, raw)


def _properties(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(key): str(item) for key, item in value.items()}


def ssl_context(verify: bool | str) -> ssl.SSLContext:
    """Verified against certifi's bundle (or the CA file ``verify`` names); ``False`` switches checks off."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else certifi.where())


class WebSocketSource:
    """One WebSocket consumer on ``topic``; :meth:`receive` reconnects by itself, with backoff and jitter.

    ``username`` / ``password`` go in the handshake headers. :meth:`open` makes one attempt and raises a typed
    error within ``connect_timeout``: :class:`~lockcloud.StreamAuthenticationError` for HTTP 401 (wrong
    credentials, or the project's message service is not enabled), :class:`~lockcloud.StreamSubscriptionError`
    for another 4xx (the topic or subscription was refused), :class:`~lockcloud.EventStreamError` otherwise.
    """

    def __init__(
        self,
        *,
        url: str,
        topic: str,
        subscription: str,
        username: str,
        password: str,
        subscription_type: WebSocketSubscriptionType = "failover",
        consumer_name: str | None = None,
        initial_position: Literal["latest", "earliest"] = "latest",
        ack_timeout: float = 3.0,
        prefetch: int = 100,
        verify: bool | str = True,
        connect_timeout: float = 10.0,
        ping_interval: float = 20.0,
        ping_timeout: float = 20.0,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 30.0,
        max_frame_size: int = 1 << 20,
    ) -> None:
        if connect_timeout <= 0:
            raise ValidationError("connect_timeout must be positive")
        if ping_interval <= 0 or ping_timeout <= 0:
            raise ValidationError("ping_interval and ping_timeout must be positive")
        if reconnect_delay <= 0 or max_reconnect_delay < reconnect_delay:
            raise ValidationError("reconnect_delay must be positive and at most max_reconnect_delay")
        self.url = url
        self.topic = topic
        self.subscription = subscription
        self.endpoint = consumer_url(
            url,
            topic,
            subscription,
            subscription_type=subscription_type,
            ack_timeout=ack_timeout,
            receiver_queue_size=prefetch,
            consumer_name=consumer_name,
            initial_position=initial_position,
        )
        self._headers = {"username": username, "password": password}
        self._ssl = ssl_context(verify) if self.endpoint.startswith("wss:") else None
        self._connect_timeout = connect_timeout
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._reconnect_delay = reconnect_delay
        self._max_reconnect_delay = max_reconnect_delay
        self._max_frame_size = max_frame_size
        # websockets buffers this many frames before it stops reading the socket: the bound on memory.
        self._max_queue = max(1, prefetch)
        self._connection: ClientConnection | None = None
        self._connected_at = 0.0
        self._delivered = False
        self._failures = 0
        self._closed = False
        self._acks: set[asyncio.Task[None]] = set()
        self.reconnections = 0

    def __repr__(self) -> str:
        return f"WebSocketSource({self.description})"

    @property
    def description(self) -> str:
        """Where this source reads from, for logs and messages (no secrets)."""
        return f"url={self.url!r}, topic={self.topic!r}, subscription={self.subscription!r}"

    async def open(self) -> None:
        """Connect once; raises a typed error (see the class) within ``connect_timeout``."""
        self._connection = await self._connect()

    async def _connect(self) -> ClientConnection:
        try:
            connection = await connect(
                self.endpoint,
                additional_headers=self._headers,
                ssl=self._ssl,
                open_timeout=self._connect_timeout,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                close_timeout=min(self._connect_timeout, 5.0),
                max_size=self._max_frame_size,
                max_queue=self._max_queue,
                compression=None,
                logger=_wire_logger,
            )
        except InvalidStatus as exc:
            raise _refused(exc.response.status_code, self.url, self.topic, self.subscription) from None
        except (TimeoutError, OSError, InvalidHandshake, InvalidURI) as exc:
            raise EventStreamError(
                f"cannot open a WebSocket consumer at {self.url}: {type(exc).__name__}: {exc}"
            ) from None
        self._connected_at = time.monotonic()
        self._delivered = False
        return connection

    async def receive(self) -> Received:
        """The next message (or unacknowledgeable frame; see :func:`parse_frame`), reconnecting as needed.

        Raises :class:`StreamAuthenticationError` or :class:`StreamSubscriptionError` when a reconnection is
        refused for good; transient failures are retried here, with backoff and jitter.
        """
        while True:
            if self._closed:
                raise SourceClosed()
            connection = self._connection
            if connection is None:
                connection = await self._reconnect()
            try:
                frame = await connection.recv()
            except ConnectionClosed as exc:
                if self._closed:
                    raise SourceClosed() from None
                logger.warning("WebSocket consumer %s: connection lost (%s); reconnecting", self.topic, exc)
                self._drop(connection)
                continue
            self._delivered = True
            received, error = parse_frame(frame, self.topic)
            if error is not None:
                received.rejected = error
            return received

    async def _reconnect(self) -> ClientConnection:
        while True:
            if self._closed:
                raise SourceClosed()
            delay = min(self._reconnect_delay * 2**self._failures, self._max_reconnect_delay)
            await asyncio.sleep(delay * (0.5 + random.random() / 2))
            if self._closed:
                raise SourceClosed()
            try:
                connection = await self._connect()
            except (StreamAuthenticationError, StreamSubscriptionError):
                self._failures = min(self._failures + 1, 16)
                raise
            except EventStreamError as exc:
                self._failures = min(self._failures + 1, 16)
                logger.warning("WebSocket consumer %s: reconnecting failed (%s)", self.topic, exc)
                continue
            self._connection = connection
            self.reconnections += 1
            logger.info("WebSocket consumer %s: connected again", self.topic)
            return connection

    def _drop(self, connection: ClientConnection) -> None:
        if self._connection is connection:
            self._connection = None
        healthy = self._delivered or time.monotonic() - self._connected_at >= _HEALTHY_AFTER
        self._failures = 0 if healthy else min(self._failures + 1, 16)

    def acknowledge(self, handle: Any) -> None:
        """Send ``{"messageId": handle}`` on the current connection (fire and forget; ``None`` is ignored).

        A lost acknowledgement only means a redelivery, which the stream dedupes.
        """
        self._send_command(handle, {"messageId": handle})

    def redeliver(self, handle: Any) -> None:
        """Ask the server to send the message again now (Pulsar's ``negativeAcknowledge``; fire and forget).

        Without it (or if it is lost) the message still comes back after ``ack_timeout`` or a reconnection.
        """
        self._send_command(handle, {"type": "negativeAcknowledge", "messageId": handle})

    def _send_command(self, handle: Any, command: dict[str, str]) -> None:
        connection = self._connection
        if handle is None or connection is None:
            return
        task = asyncio.get_running_loop().create_task(_send(connection, json.dumps(command)))
        self._acks.add(task)
        task.add_done_callback(self._acks.discard)

    async def resubscribe(self) -> None:
        """Drop the current connection and connect again (one attempt)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await _close(connection, self._connect_timeout)
        self._connection = await self._connect()

    async def close(self, grace: float) -> None:
        """Send pending acknowledgements (within ``grace`` seconds), then close the connection."""
        self._closed = True
        if self._acks:
            await asyncio.wait(set(self._acks), timeout=max(grace, 0.0))
        for task in set(self._acks):
            task.cancel()
        connection, self._connection = self._connection, None
        if connection is not None:
            await _close(connection, grace)

    def shutdown(self) -> None:
        """Abort the connection at once (synchronous; safe to repeat)."""
        self._closed = True
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.transport.abort()


async def _send(connection: ClientConnection, text: str) -> None:
    with contextlib.suppress(ConnectionClosed):
        await connection.send(text)


async def _close(connection: ClientConnection, grace: float) -> None:
    try:
        await asyncio.wait_for(connection.close(), max(grace, 0.0))
    except (TimeoutError, OSError, ConnectionClosed):
        connection.transport.abort()


def _refused(status: int, url: str, topic: str, subscription: str) -> EventStreamError:
    if status == 401:
        return StreamAuthenticationError(
            f"the message service at {url} refused the credentials (HTTP 401): check the access id and secret,"
            " and that the project's message service is enabled"
        )
    if 400 <= status < 500:
        return StreamSubscriptionError(
            f"the message service at {url} refused the subscription {subscription!r} to {topic!r} (HTTP {status})"
        )
    return EventStreamError(f"the message service at {url} answered HTTP {status} to the WebSocket upgrade")

"""Pulsar's WebSocket consumer API, served by the simulator in front of its broker (Tuya's port 8285 service).

``pulsar-lite`` speaks only Pulsar's binary protocol, so each WebSocket consumer is bridged to a real
pulsar-client consumer on the same broker and subscription: the very messages a native consumer would get, with
the broker's own redelivery when a consumer goes away. On top of that, like Pulsar's WebSocket service:

* the handshake is checked as Tuya checks it: ``username`` must be the access id and ``password`` the ``auth1``
  password (HTTP 401 otherwise, or when the message service is switched off), the topic must be the project's
  (``{access_id}/out/...``, else 403), the query must make sense (400);
* each message goes out as ``{"messageId", "payload", "properties", "publishTime", "redeliveryCount"}``, the id
  being the base64 of the broker's serialized message id; ``{"messageId": ...}`` from the client acknowledges it
  on the broker, and ``{"type": "negativeAcknowledge", "messageId": ...}`` sends it again at once;
* with ``ackTimeoutMillis`` above zero, a message not acknowledged within that time is sent again (pulsar-lite
  does not redeliver on ack timeout itself); when the connection closes, the broker hands unacknowledged messages
  to the subscription's next consumer.

Tests can also push frames the broker could never produce (:meth:`WebSocketConsumers.send_raw`) and cut every
connection (:meth:`WebSocketConsumers.drop_connections`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hmac
import json
import logging
from typing import Any
from urllib.parse import parse_qs, unquote

from lockcloud._core.asgi import Receive, Scope, Send, send_json
from lockcloud.crypto import pulsar_password
from lockcloud.events._pulsar import ReceiveFailed, batch_receiver

__all__ = ["WebSocketConsumers"]

logger = logging.getLogger("lockcloud.sim")

PATH_PREFIX = "/ws/v2/consumer/persistent/"
_SUBSCRIPTION_TYPES = ("Exclusive", "Failover", "Shared", "Key_Shared")
_REDELIVERY_TICK = 0.05
#: Most messages taken from pulsar-client's receiver queue at once (one batch, sent before the next is taken).
_HANDOFF_BATCH = 100
#: Most unacknowledged messages remembered per connection when nothing is resent on a timer (ackTimeoutMillis=0).
_UNTIMED_OUTSTANDING = 10_000


class _Refused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class WebSocketConsumers:
    """An ASGI app for ``websocket`` scopes at ``/ws/v2/consumer/persistent/...``; one bridge per connection.

    ``enabled = False`` answers every handshake with 401, as Tuya does for a project without the message service.
    """

    def __init__(
        self, broker_url: str, access_id: str, access_secret: str, *, log_file: str | None = None
    ) -> None:
        self.broker_url = broker_url
        self.access_id = access_id
        self._password = pulsar_password(access_id, access_secret)
        self._log_file = log_file
        self.enabled = True
        self._client: Any = None
        self._client_lock = asyncio.Lock()
        self._bridges: set[_Bridge] = set()
        # (topic, subscription) -> the subscription type of its open consumers. pulsar-lite does not refuse a
        # second consumer on an exclusive subscription (or one of another type) in time, so it is checked here.
        self._subscriptions: dict[tuple[str, str], tuple[str, int]] = {}
        # Broker consumers of gone clients that are still closing, by (topic, subscription). pulsar-lite hands a
        # closed consumer's unacknowledged messages only to consumers that subscribe after it closed (not to one
        # already waiting on a Failover subscription), so a reconnecting client waits for these first.
        self._closing: dict[tuple[str, str], set[asyncio.Event]] = {}
        self.connections = 0
        self.refused = 0
        #: Frames received from clients (acknowledgements and other commands, well-formed or not).
        self.commands = 0

    def __repr__(self) -> str:
        return f"WebSocketConsumers(broker_url={self.broker_url!r}, open={len(self._bridges)})"

    @property
    def open_consumers(self) -> int:
        return len(self._bridges)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            raise ValueError(f"WebSocketConsumers serves websocket scopes, not {scope['type']!r}")
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        try:
            request = self._check(scope)
            key = (request.topic, request.subscription)
            self._claim(key, request.subscription_type)
        except _Refused as refused:
            self.refused += 1
            await _deny(scope, send, refused.status, refused.text)
            return
        try:
            await self._previous_consumers_closed(key)
            try:
                consumer = await self._subscribe(request)
            except _Refused as refused:
                self.refused += 1
                await _deny(scope, send, refused.status, refused.text)
                return
            await send({"type": "websocket.accept"})
            self.connections += 1
            bridge = _Bridge(consumer, request, receive, send, self._closing.setdefault(key, set()), self)
            self._bridges.add(bridge)
            try:
                await bridge.run()
            finally:
                self._bridges.discard(bridge)
                await bridge.close()
        finally:
            self._release(key)

    def _claim(self, key: tuple[str, str], subscription_type: str) -> None:
        current = self._subscriptions.get(key)
        if current is None:
            self._subscriptions[key] = (subscription_type, 1)
            return
        kind, count = current
        if kind != subscription_type:
            raise _Refused(409, f"the subscription is of type {kind}")
        if kind == "Exclusive":
            raise _Refused(409, "the subscription has an exclusive consumer already")
        self._subscriptions[key] = (kind, count + 1)

    async def _previous_consumers_closed(self, key: tuple[str, str]) -> None:
        closing = self._closing.get(key)
        if closing:
            waits = [asyncio.create_task(event.wait()) for event in closing]
            _, pending = await asyncio.wait(waits, timeout=5)
            for task in pending:
                task.cancel()

    def _release(self, key: tuple[str, str]) -> None:
        kind, count = self._subscriptions[key]
        if count == 1:
            del self._subscriptions[key]
        else:
            self._subscriptions[key] = (kind, count - 1)

    def _check(self, scope: Scope) -> _Request:
        headers = {
            bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1") for k, v in scope["headers"]
        }
        username = headers.get("username", "")
        password = headers.get("password", "")
        valid = hmac.compare_digest(username.encode(), self.access_id.encode()) & hmac.compare_digest(
            password.encode(), self._password.encode()
        )
        if not valid or not self.enabled:
            raise _Refused(401, "authentication failed")
        path = str(scope["path"])
        if not path.startswith(PATH_PREFIX):
            raise _Refused(404, "no such endpoint")
        names = [unquote(part) for part in path[len(PATH_PREFIX) :].split("/")]
        if len(names) != 4 or not all(names):
            raise _Refused(
                400, "expected /ws/v2/consumer/persistent/{tenant}/{namespace}/{topic}/{subscription}"
            )
        tenant, namespace, topic, subscription = names
        if tenant != self.access_id or namespace != "out":
            raise _Refused(403, f"not authorized on {tenant}/{namespace}/{topic}")
        query = {
            key: values[-1]
            for key, values in parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1")).items()
        }
        subscription_type = query.get("subscriptionType", "Exclusive")
        if subscription_type not in _SUBSCRIPTION_TYPES:
            raise _Refused(400, f"invalid subscriptionType {subscription_type!r}")
        try:
            ack_timeout_ms = int(query.get("ackTimeoutMillis", "0"))
            queue_size = int(query.get("receiverQueueSize", "1000"))
        except ValueError:
            raise _Refused(400, "ackTimeoutMillis and receiverQueueSize must be integers") from None
        if ack_timeout_ms < 0 or queue_size < 1:
            raise _Refused(400, "ackTimeoutMillis must be >= 0 and receiverQueueSize >= 1")
        initial_position = query.get("subscriptionInitialPosition", "Latest")
        if initial_position not in ("Latest", "Earliest"):
            raise _Refused(400, f"invalid subscriptionInitialPosition {initial_position!r}")
        return _Request(
            topic=f"persistent://{tenant}/{namespace}/{topic}",
            subscription=subscription,
            subscription_type=subscription_type,
            ack_timeout=ack_timeout_ms / 1000,
            queue_size=min(queue_size, 10_000),
            consumer_name=query.get("consumerName") or None,
            earliest=initial_position == "Earliest",
        )

    async def _subscribe(self, request: _Request) -> Any:
        import pulsar

        client = await self._pulsar_client()
        consumer_type = {
            "Exclusive": pulsar.ConsumerType.Exclusive,
            "Failover": pulsar.ConsumerType.Failover,
            "Shared": pulsar.ConsumerType.Shared,
            "Key_Shared": pulsar.ConsumerType.KeyShared,
        }[request.subscription_type]
        options: dict[str, Any] = {
            "consumer_type": consumer_type,
            "receiver_queue_size": request.queue_size,
            "initial_position": pulsar.InitialPosition.Earliest
            if request.earliest
            else pulsar.InitialPosition.Latest,
        }
        if request.consumer_name:
            options["consumer_name"] = request.consumer_name
        try:
            return await asyncio.to_thread(client.subscribe, request.topic, request.subscription, **options)
        except Exception as exc:
            logger.warning("WebSocket consumer: broker subscription failed: %s", type(exc).__name__)
            raise _Refused(503, "the broker is not available") from None

    async def _pulsar_client(self) -> Any:
        async with self._client_lock:
            if self._client is None:
                import pulsar

                level = pulsar.LoggerLevel.Warn
                log = (
                    pulsar.FileLogger(level, self._log_file)
                    if self._log_file
                    else pulsar.ConsoleLogger(level)
                )
                self._client = pulsar.Client(self.broker_url, operation_timeout_seconds=10, logger=log)
            return self._client

    async def send_raw(self, frame: str) -> int:
        """Send ``frame`` as is to every open consumer (a poison frame, say); returns how many got it."""
        bridges = list(self._bridges)
        for bridge in bridges:
            await bridge.send_text(frame)
        return len(bridges)

    async def drop_connections(self) -> int:
        """Close every open consumer connection abruptly (code 1011); returns how many were closed."""
        bridges = list(self._bridges)
        for bridge in bridges:
            await bridge.drop()
        return len(bridges)

    async def aclose(self) -> None:
        """Close every bridge and the broker client."""
        for bridge in list(self._bridges):
            await bridge.drop()
        for bridge in list(self._bridges):
            await bridge.close()
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(_close_quietly, client)


class _Request:
    __slots__ = (
        "ack_timeout",
        "consumer_name",
        "earliest",
        "queue_size",
        "subscription",
        "subscription_type",
        "topic",
    )

    def __init__(
        self,
        *,
        topic: str,
        subscription: str,
        subscription_type: str,
        ack_timeout: float,
        queue_size: int,
        consumer_name: str | None,
        earliest: bool,
    ) -> None:
        self.topic = topic
        self.subscription = subscription
        self.subscription_type = subscription_type
        self.ack_timeout = ack_timeout
        self.queue_size = queue_size
        self.consumer_name = consumer_name
        self.earliest = earliest


class _Outstanding:
    __slots__ = ("deadline", "frame", "message_id", "redeliveries")

    def __init__(self, message_id: Any, frame: dict[str, Any], deadline: float) -> None:
        self.message_id = message_id
        self.frame = frame
        self.deadline = deadline
        self.redeliveries = 0


class _Bridge:
    """One WebSocket consumer and the broker consumer behind it."""

    def __init__(
        self,
        consumer: Any,
        request: _Request,
        receive: Receive,
        send: Send,
        closing: set[asyncio.Event],
        owner: WebSocketConsumers,
    ) -> None:
        self._owner = owner
        self._consumer = consumer
        self._request = request
        self._receive = receive
        self._send = send
        self._loop = asyncio.get_running_loop()
        # Messages are taken from pulsar-client's queue on the event loop's own thread, a batch at a time (see
        # lockcloud.events._pulsar): no thread of ours runs Python per message, so sending a frame (a system call
        # that lets go of the GIL) never hands the GIL to a receiving thread and waits to get it back. A batch is
        # taken only once the previous one is sent: the backpressure is pulsar-client's receiver queue.
        self._receiver = batch_receiver(consumer._consumer, _HANDOFF_BATCH)
        self._outstanding: dict[str, _Outstanding] = {}
        self._send_lock = asyncio.Lock()
        self._closed = False
        # Set once the broker consumer is closed (its unacknowledged messages then go to the next consumer).
        self._consumer_done = asyncio.Event()
        self._closing = closing

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._forward(), name="lockcloud-sim-ws-forward"),
            asyncio.create_task(self._read_client(), name="lockcloud-sim-ws-read"),
        ]
        if self._request.ack_timeout > 0:
            tasks.append(asyncio.create_task(self._redeliver_overdue(), name="lockcloud-sim-ws-redeliver"))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    error = task.exception()
                    if not isinstance(error, OSError | _ClientGone):
                        logger.warning("WebSocket consumer bridge stopped: %r", error)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- broker to client ---------------------------------------------------------------------------------------

    async def _forward(self) -> None:
        ack_timeout = self._request.ack_timeout
        outstanding = self._outstanding
        receiver = self._receiver
        while True:
            try:
                batch = await receiver.next_batch()
            except ReceiveFailed as failed:
                if not self._closed:
                    logger.warning("WebSocket consumer bridge: broker receive failed: %s", failed.args[0])
                    # Nothing more would reach this client: close its connection, so that it reconnects (as
                    # Pulsar's WebSocket service does when its broker consumer fails).
                    await self.drop()
                return
            for message in batch:
                message_id = message.message_id()
                encoded = base64.b64encode(message_id.serialize()).decode()
                frame = {
                    "messageId": encoded,
                    "payload": base64.b64encode(message.data()).decode(),
                    "properties": dict(message.properties()),
                    "publishTime": _iso(message.publish_timestamp()),
                    "redeliveryCount": message.redelivery_count(),
                }
                outstanding[encoded] = _Outstanding(message_id, frame, self._loop.time() + ack_timeout)
                if not ack_timeout and len(outstanding) > _UNTIMED_OUTSTANDING:
                    # Nothing is resent on a timer, so the oldest entry is only a shortcut for its ack or negative
                    # ack (both still work without it, from the id): forget it rather than grow without bound.
                    del outstanding[next(iter(outstanding))]
                await self.send_text(_frame_text(frame))

    async def _redeliver_overdue(self) -> None:
        while True:
            await asyncio.sleep(min(_REDELIVERY_TICK, self._request.ack_timeout))
            now = self._loop.time()
            for outstanding in list(self._outstanding.values()):
                if outstanding.deadline <= now:
                    await self._resend(outstanding)

    async def _resend(self, outstanding: _Outstanding) -> None:
        outstanding.redeliveries += 1
        outstanding.deadline = self._loop.time() + self._request.ack_timeout
        frame = dict(
            outstanding.frame, redeliveryCount=outstanding.frame["redeliveryCount"] + outstanding.redeliveries
        )
        await self.send_text(_frame_text(frame))

    async def send_text(self, text: str) -> None:
        async with self._send_lock:
            if self._closed:
                return
            await self._send({"type": "websocket.send", "text": text})

    # -- client to broker ---------------------------------------------------------------------------------------

    async def _read_client(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "websocket.disconnect":
                self._closed = True
                self._closing.add(self._consumer_done)
                raise _ClientGone
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = bytes(message["bytes"]).decode("utf-8", "replace")
            await self._command(text or "")

    async def _command(self, text: str) -> None:
        self._owner.commands += 1
        try:
            encoded = _plain_ack(text)
            if encoded is not None:
                kind = "ack"
            else:
                document = json.loads(text)
                encoded = document["messageId"]
                kind = document.get("type", "ack")
            outstanding = self._outstanding.get(encoded)
            message_id = outstanding.message_id if outstanding else _message_id(encoded)
        except Exception:  # not JSON, no id, or an id the broker cannot parse
            logger.debug("WebSocket consumer: ignoring a malformed command of %d bytes", len(text))
            return
        if kind == "negativeAcknowledge":
            if outstanding is not None:
                await self._resend(outstanding)
            else:
                # Forgotten (see _forward): left to the broker, as Pulsar's own WebSocket service does (pulsar-lite
                # ignores it: the message comes back when this connection closes, being unacknowledged).
                with contextlib.suppress(Exception):
                    self._consumer.negative_acknowledge(message_id)
            return
        self._outstanding.pop(encoded, None)
        try:
            # Asynchronous: the blocking acknowledge waits for pulsar-client and stalls every bridge's event loop.
            self._consumer._consumer.acknowledge_async(message_id, _ack_done)
        except Exception as exc:
            logger.debug("WebSocket consumer: acknowledgement failed: %s", type(exc).__name__)

    async def drop(self) -> None:
        async with self._send_lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(Exception):
                await self._send({"type": "websocket.close", "code": 1011})

    async def close(self) -> None:
        self._closed = True
        if self._consumer_done.is_set():
            return
        self._closing.add(self._consumer_done)
        # Messages taken but never sent stay unacknowledged: the broker delivers them again.
        self._outstanding.clear()
        try:
            async with asyncio.timeout(5):
                await asyncio.to_thread(_close_quietly, self._consumer)
        except TimeoutError:
            logger.debug("WebSocket consumer bridge: the broker consumer did not close within 5 s")
        finally:
            self._consumer_done.set()
            self._closing.discard(self._consumer_done)


def _ack_done(result: Any) -> None:
    # On a pulsar-client thread; a lost acknowledgement is a redelivery, which clients dedupe.
    pass


class _ClientGone(Exception):
    """The WebSocket client disconnected."""


def _message_id(encoded: str) -> Any:
    import pulsar

    return pulsar.MessageId.deserialize(base64.b64decode(encoded, validate=True))


def _iso(epoch_ms: int) -> str:
    """Pulsar's ``publishTime``: ISO 8601 in UTC to the millisecond, ``Z`` for UTC."""
    seconds, millis = divmod(epoch_ms, 1000)
    prefix = _ISO_SECONDS.get(seconds)
    if prefix is None:
        # Messages published together share their second: its text is made once.
        if len(_ISO_SECONDS) >= 4096:
            _ISO_SECONDS.clear()
        moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
        prefix = _ISO_SECONDS[seconds] = moment.isoformat(timespec="seconds").removesuffix("+00:00")
    return f"{prefix}.{millis:03d}Z"


_ISO_SECONDS: dict[int, str] = {}
_ACK_PREFIX = '{"messageId":"'


def _plain_ack(text: str) -> str | None:
    """The id of ``{"messageId":"<id>"}`` written plainly (what clients send), else None (parse it as JSON)."""
    if text.startswith(_ACK_PREFIX) and text.endswith('"}'):
        encoded = text[len(_ACK_PREFIX) : -2]
        if encoded and '"' not in encoded and "\\" not in encoded:
            return encoded
    return None


def _frame_text(frame: dict[str, Any]) -> str:
    """``json.dumps(frame)`` for the frames the bridge makes, whose ids, payloads and times need no escaping."""
    text: str = (
        '{"messageId":"'
        + frame["messageId"]
        + '","payload":"'
        + frame["payload"]
        + '","properties":'
        + _properties_text(frame["properties"])
        + ',"publishTime":"'
        + frame["publishTime"]
        + '","redeliveryCount":'
        + str(frame["redeliveryCount"])
        + "}"
    )
    return text


_PROPERTIES_TEXT: dict[tuple[tuple[str, str], ...], str] = {}


def _properties_text(properties: dict[str, str]) -> str:
    # Most messages carry the same few properties (em): their JSON is made once.
    key = tuple(properties.items())
    text = _PROPERTIES_TEXT.get(key)
    if text is None:
        if len(_PROPERTIES_TEXT) >= 1024:
            _PROPERTIES_TEXT.clear()
        text = _PROPERTIES_TEXT[key] = json.dumps(properties)
    return text


async def _deny(scope: Scope, send: Send, status: int, text: str) -> None:
    if "websocket.http.response" in scope.get("extensions", {}):
        await send_json(send, status, {"error": text}, kind="websocket.http")
    else:
        await send({"type": "websocket.close", "code": 1008})


def _close_quietly(client: Any) -> None:
    try:
        client.close()
    except Exception as exc:
        logger.debug("pulsar client did not close cleanly: %s", type(exc).__name__)

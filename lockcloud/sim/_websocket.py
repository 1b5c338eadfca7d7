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
import threading
from typing import Any
from urllib.parse import parse_qs, unquote

from lockcloud._core.asgi import Receive, Scope, Send, send_json
from lockcloud.crypto import pulsar_password

__all__ = ["WebSocketConsumers"]

logger = logging.getLogger("lockcloud.sim")

PATH_PREFIX = "/ws/v2/consumer/persistent/"
_SUBSCRIPTION_TYPES = ("Exclusive", "Failover", "Shared", "Key_Shared")
_RECEIVE_POLL_MS = 100
_HANDOFF_POLL = 0.2
_REDELIVERY_TICK = 0.05
#: Most messages handed from the receiving thread to the event loop at once.
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
        # The receiving thread hands messages over through this queue in batches; the semaphore bounds the batches
        # in it (the backpressure), taken by the thread before a hand-off and given back by _forward. (A bounded
        # queue filled with run_coroutine_threadsafe would need a timed wait that it cannot cancel safely: a put
        # completing as it is cancelled would be sent twice.)
        self._incoming: asyncio.Queue[list[Any]] = asyncio.Queue()
        self._room = threading.BoundedSemaphore(max(1, request.queue_size // _HANDOFF_BATCH))
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._receive_from_broker, name="lockcloud-sim-ws", daemon=True
        )
        self._outstanding: dict[str, _Outstanding] = {}
        self._send_lock = asyncio.Lock()
        self._closed = False
        self._thread_done = asyncio.Event()
        self._closing = closing

    async def run(self) -> None:
        self._thread.start()
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

    def _receive_from_broker(self) -> None:
        # A thread of its own: a blocking receive with a short timeout never loses a message (unlike a cancelled
        # asynchronous one) and never ties up the event loop's executor.
        import pulsar

        try:
            while not self._stop.is_set():
                try:
                    message = self._consumer.receive(timeout_millis=_RECEIVE_POLL_MS)
                except pulsar.Timeout:
                    continue
                except Exception as exc:
                    if not self._stop.is_set():
                        logger.warning(
                            "WebSocket consumer bridge: broker receive failed: %s", type(exc).__name__
                        )
                        # Nothing more would reach this client: close its connection, so that it reconnects
                        # (as Pulsar's WebSocket service does when its broker consumer fails).
                        with contextlib.suppress(RuntimeError):
                            asyncio.run_coroutine_threadsafe(self.drop(), self._loop)
                    return
                # Whatever else is already queued goes over with it: one hand-off to the event loop per batch,
                # not per message (a wake-up of the loop and a GIL hand-over each).
                batch = [message]
                # pulsar.Timeout: nothing more is queued; any other failure shows again on the next blocking receive.
                with contextlib.suppress(Exception):
                    while len(batch) < _HANDOFF_BATCH:
                        batch.append(self._consumer.receive(timeout_millis=0))
                while not self._room.acquire(timeout=_HANDOFF_POLL):
                    if self._stop.is_set():
                        return
                try:
                    self._loop.call_soon_threadsafe(self._incoming.put_nowait, batch)
                except RuntimeError:
                    return  # the event loop is gone
        finally:
            with contextlib.suppress(Exception):
                self._consumer.close()
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._consumer_closed)

    def _consumer_closed(self) -> None:
        self._thread_done.set()
        self._closing.discard(self._thread_done)

    async def _forward(self) -> None:
        ack_timeout = self._request.ack_timeout
        outstanding = self._outstanding
        while True:
            batch = await self._incoming.get()
            self._room.release()
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
                await self.send_text(json.dumps(frame))

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
        await self.send_text(json.dumps(frame))

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
                self._closing.add(self._thread_done)
                self._stop.set()
                raise _ClientGone
            text = message.get("text")
            if text is None and message.get("bytes") is not None:
                text = bytes(message["bytes"]).decode("utf-8", "replace")
            await self._command(text or "")

    async def _command(self, text: str) -> None:
        self._owner.commands += 1
        try:
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
        self._closing.add(self._thread_done)
        self._stop.set()
        if self._thread.is_alive() or not self._thread_done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._thread_done.wait(), 5)
        # Messages handed over but never sent stay unacknowledged: the broker delivers them again.
        while not self._incoming.empty():
            self._incoming.get_nowait()
        self._outstanding.clear()


def _ack_done(result: Any) -> None:
    # On a pulsar-client thread; a lost acknowledgement is a redelivery, which clients dedupe.
    pass


class _ClientGone(Exception):
    """The WebSocket client disconnected."""


def _message_id(encoded: str) -> Any:
    import pulsar

    return pulsar.MessageId.deserialize(base64.b64decode(encoded, validate=True))


def _iso(epoch_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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

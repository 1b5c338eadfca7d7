"""The webhook source: push envelopes POSTed over HTTP, signed, fed to an :class:`EventStream`.

:class:`WebhookSource` is both a :class:`~lockcloud.events.Source` and a plain ASGI app (no framework needed)::

    source = WebhookSource(secret=webhook_secret)
    async with EventStream(source, access_secret) as stream:
        ...  # serve `source` with any ASGI server; iterate `stream`

Requests are signed the `Standard Webhooks <https://www.standardwebhooks.com/>`_ way, so any sender that follows
it works (Svix, the ``standardwebhooks`` libraries, :func:`sign_webhook`): a ``webhook-id`` naming the message
(the same on every redelivery), a ``webhook-timestamp`` in Unix seconds, and ``webhook-signature``, one or more
space-separated ``v1,<base64 HMAC-SHA256>`` over ``id + "." + timestamp + "." + body``. A secret is given as
``whsec_<base64>`` (:func:`generate_webhook_secret` makes one); any other string is used as its UTF-8 bytes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Sequence
from typing import Any

from lockcloud._core.asgi import Receive, Scope, Send, send_json, serve_lifespan
from lockcloud._core.errors import EventStreamError, ValidationError
from lockcloud._core.validation import seconds
from lockcloud._core.wire import ENCRYPTION_PROPERTY
from lockcloud.events._source import Outcome, SourceClosed, SourceMessage
from lockcloud.events._wakeup import Wakeup

__all__ = [
    "ID_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookSource",
    "generate_webhook_secret",
    "sign_webhook",
]

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
_SECRET_PREFIX = "whsec_"
_VERSION = "v1"
# The cipher's message property as a header: ``em`` itself, or prefixed by a relay that keeps its headers apart.
_RELAYED_ENCRYPTION_HEADER = "x-tuya-" + ENCRYPTION_PROPERTY
# ASCII digits only (str.isdigit also takes "١٢٣" and superscripts) and never hundreds of them.
_DECIMAL = re.compile(r"[0-9]{1,15}")
# What a message id may be: printable ASCII without spaces, bounded (it is kept in the replay memory).
_MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,256}")
_MAX_SIGNATURE_HEADER = 4096


def _key(secret: str) -> bytes:
    if secret.startswith(_SECRET_PREFIX):
        try:
            key = base64.b64decode(secret[len(_SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("a whsec_ webhook secret must be base64 after its prefix") from None
        if not key:
            raise ValidationError("a whsec_ webhook secret must not be empty")
        return key
    return secret.encode("utf-8")


def _signature(key: bytes, message_id: str, stamp: str, body: bytes) -> bytes:
    signed = message_id.encode("ascii") + b"." + stamp.encode("ascii") + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())


def generate_webhook_secret() -> str:
    """A new random secret in the Standard Webhooks form, ``whsec_<base64 of 32 bytes>``."""
    return _SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign_webhook(
    body: bytes, secret: str, *, message_id: str | None = None, timestamp: float | None = None
) -> dict[str, str]:
    """The Standard Webhooks headers that make a :class:`WebhookSource` accept a POST of ``body``.

    ``{"webhook-id": ..., "webhook-timestamp": "<unix seconds>", "webhook-signature": "v1,<base64>"}``. Sign the
    exact bytes you send. ``message_id`` names the message and must stay the same when you send it again (the
    receiver answers a repeat ``duplicate``); it defaults to one derived from the body. ``timestamp`` defaults to
    now.
    """
    if not isinstance(secret, str) or not secret:
        raise ValidationError("a webhook signing secret is required")
    if not isinstance(body, bytes | bytearray):
        raise ValidationError("sign the body as the bytes that are sent")
    if message_id is None:
        message_id = "msg_" + hashlib.sha256(bytes(body)).hexdigest()[:32]
    elif not isinstance(message_id, str) or not _MESSAGE_ID.fullmatch(message_id):
        raise ValidationError("message_id must be 1-256 printable ASCII characters without spaces")
    stamp = str(int(time.time() if timestamp is None else timestamp))
    signature = _signature(_key(secret), message_id, stamp, bytes(body)).decode("ascii")
    return {ID_HEADER: message_id, TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: f"{_VERSION},{signature}"}


_STATUS_OF = {
    Outcome.BUFFERED: (200, "buffered"),
    Outcome.DUPLICATE: (200, "duplicate"),
    Outcome.UNMATCHED: (200, "ignored"),
    Outcome.DEAD_LETTER: (422, "dead_letter"),
    Outcome.DEAD_LETTER_FAILED: (503, "dead_letter_failed"),
    Outcome.DEAD_LETTER_REFUSED: (429, "dead_letter_quota"),
    Outcome.CLOSED: (503, "closed"),
}
#: Outcomes after which the same delivery is answered "duplicate" for the rest of the replay window.
_SETTLED = frozenset({Outcome.BUFFERED, Outcome.DUPLICATE, Outcome.UNMATCHED, Outcome.DEAD_LETTER})


class _Reject(Exception):
    def __init__(self, status: int, error: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers or []


class WebhookSource:
    """Push envelopes POSTed over HTTP, as a :class:`~lockcloud.events.Source` and an ASGI app.

    Secured by default: ``secret`` is required (unless ``insecure=True`` is passed explicitly) and every POST must
    carry a valid Standard Webhooks signature (see the module docstring; :func:`sign_webhook`) whose timestamp is
    within ``tolerance`` seconds of this clock. A message already taken, by its signed ``webhook-id``, is answered
    ``duplicate`` and not delivered again for ``replay_window`` seconds (default: twice ``tolerance``, after which
    its signature is stale anyway), whatever unsigned headers a replay adds or changes; the stream's own dedupe
    window covers what comes later. Unsigned POSTs (``insecure=True``) are told apart by ``webhook-id`` when they
    carry one, else by the body's digest with the cipher.

    The body is the JSON envelope ``{data, protocol, pv, sign, t}``; the cipher comes from an ``em`` header (or
    ``x-tuya-em``), else an ``em`` field in the envelope, else ECB.

    Answers: 200 once the event is buffered (also for a duplicate, or an event no subscription wanted), 422 when
    the envelope decrypts or parses to nothing usable (it is kept as a dead letter), 429 while the stream's
    dead-letter quota is used up (retry later), 400 for a body that is not a JSON envelope or a malformed header
    (a ``content-length``, ``webhook-timestamp`` or ``webhook-id`` that is not what the standard says), 401 for a
    missing, stale or wrong signature, 408 when the body did not arrive within ``body_timeout`` seconds, 413 past
    ``max_body_size``, 415 for another content type, 405 for another method,
    503 when the stream is not open or its buffer stayed full for ``accept_timeout`` seconds (retry: a delivery
    that got through meanwhile is then answered ``duplicate``). A 200 hands the message over: the webhook cannot
    ask its sender to redeliver later.
    """

    def __init__(
        self,
        *,
        secret: str | None = None,
        insecure: bool = False,
        tolerance: float = 300.0,
        replay_window: float | None = None,
        max_body_size: int = 64 * 1024,
        accept_timeout: float = 10.0,
        max_remembered: int = 100_000,
        body_timeout: float = 10.0,
    ) -> None:
        if secret is None and not insecure:
            raise ValidationError(
                "a webhook needs a signing secret (WebhookSource(secret=...), senders use sign_webhook); "
                "pass insecure=True to accept unsigned POSTs"
            )
        if secret is not None and (insecure or not isinstance(secret, str) or not secret):
            raise ValidationError("give either a non-empty secret or insecure=True, not both")
        if max_body_size < 1:
            raise ValidationError("max_body_size must be positive")
        seconds(tolerance, "tolerance")
        seconds(accept_timeout, "accept_timeout")
        seconds(body_timeout, "body_timeout")
        if replay_window is not None:
            seconds(replay_window, "replay_window")
        if not isinstance(max_remembered, int) or max_remembered < 1:
            raise ValidationError("max_remembered must be a positive whole number")
        self._key = None if secret is None else _key(secret)
        self.insecure = insecure
        self.body_timeout = body_timeout
        self.tolerance = tolerance
        self.replay_window = 2 * tolerance if replay_window is None else replay_window
        self.max_body_size = max_body_size
        self.accept_timeout = accept_timeout
        self._max_remembered = max_remembered
        # key -> monotonic time it was settled; oldest first.
        self._settled: collections.OrderedDict[object, float] = collections.OrderedDict()
        self._queue: collections.deque[SourceMessage] = collections.deque()
        self._wakeup = Wakeup()
        self._state = "new"

    def __repr__(self) -> str:
        mode = "insecure" if self.insecure else "signed"
        return f"<WebhookSource {mode} max_body_size={self.max_body_size} {self._state}>"

    @property
    def description(self) -> str:
        return "webhook"

    # -- the Source side ----------------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._state != "new":
            raise EventStreamError(f"a webhook source serves one stream; this one is {self._state}")
        self._state = "open"

    async def receive(self) -> Sequence[SourceMessage]:
        while not self._queue:
            if self._state == "closed":
                raise SourceClosed("the webhook source is closed")
            await self._wakeup.wait()
        batch = list(self._queue)
        self._queue.clear()
        return batch

    def acknowledge(self, message: SourceMessage) -> None:
        """Nothing to do: the POST was answered when the message was buffered."""

    def redeliver(self, message: SourceMessage) -> None:
        """Nothing to do: a webhook cannot ask its sender for a message again once it answered 200."""

    def report(self, message: SourceMessage, outcome: Outcome) -> None:
        answer = message.handle
        assert isinstance(answer, asyncio.Future)
        if not answer.done():
            answer.set_result(outcome)
        if outcome in _SETTLED:
            self._remember(message.key, message.message_id)

    async def resubscribe(self) -> None:
        """Nothing to do: ``receive`` never fails."""

    async def close(self, grace: float) -> None:
        self._state = "closed"
        while self._queue:
            answer = self._queue.popleft().handle
            if isinstance(answer, asyncio.Future) and not answer.done():
                answer.set_result(Outcome.CLOSED)
        self._wakeup.wake()

    # -- replay memory ------------------------------------------------------------------------------------------

    def _remember(self, key: object, message_id: str | None) -> None:
        now = time.monotonic()
        for name in (key, ("id", message_id) if message_id else None):
            if name is not None:
                self._settled[name] = now
                self._settled.move_to_end(name)
        while len(self._settled) > self._max_remembered:
            self._settled.popitem(last=False)

    def _seen(self, key: object, message_id: str | None) -> bool:
        horizon = time.monotonic() - self.replay_window
        settled = self._settled
        while settled:
            oldest = next(iter(settled.values()))
            if oldest > horizon:
                break
            settled.popitem(last=False)
        return key in settled or (message_id is not None and ("id", message_id) in settled)

    # -- the HTTP side ------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise EventStreamError(f"the webhook serves HTTP only, not {scope['type']!r}")
        try:
            status, body = await self._handle(scope, receive)
            headers: list[tuple[bytes, bytes]] = []
        except _Reject as reject:
            status, body, headers = reject.status, {"error": reject.error}, reject.headers
        await send_json(send, status, body, headers=headers)

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any]]:
        if scope.get("method") != "POST":
            raise _Reject(405, "only POST is accepted", [(b"allow", b"POST")])
        headers = _headers(scope)
        content_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise _Reject(415, "the body must be application/json")
        declared = headers.get("content-length")
        if declared is not None:
            if not _DECIMAL.fullmatch(declared):
                raise _Reject(400, "content-length must be a number of bytes in ASCII digits")
            if int(declared) > self.max_body_size:
                raise _Reject(413, f"the body must be at most {self.max_body_size} bytes")
        try:
            # A body dripping in a byte at a time must not hold its connection and this task for ever.
            async with asyncio.timeout(self.body_timeout):
                payload = await self._read_body(receive)
        except TimeoutError:
            raise _Reject(408, f"the body did not arrive within {self.body_timeout:g} s") from None
        message_id = headers.get(ID_HEADER)
        if message_id is not None and not _MESSAGE_ID.fullmatch(message_id):
            raise _Reject(400, f"{ID_HEADER} must be 1-256 printable ASCII characters without spaces")
        if self._key is not None:
            message_id = self._verify(headers, payload)
        _check_envelope(payload)
        em = headers.get(ENCRYPTION_PROPERTY) or headers.get(_RELAYED_ENCRYPTION_HEADER) or None
        # A signed message is known by its id, which the signature covers: nothing unsigned enters the key.
        key: object = (
            ("webhook", message_id)
            if message_id is not None
            else ("webhook", hashlib.sha256(payload).digest(), (em or "").strip().lower())
        )
        if self._seen(key, message_id):
            return 200, {"status": "duplicate"}
        if self._state != "open":
            raise _Reject(503, "the event stream is not open", [(b"retry-after", b"1")])
        answer: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        message = SourceMessage(
            payload,
            {ENCRYPTION_PROPERTY: em} if em else {},
            key,
            message_id=message_id,
            handle=answer,
            topic=None,
        )
        self._queue.append(message)
        self._wakeup.wake()
        try:
            # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as the answer does.
            async with asyncio.timeout(self.accept_timeout):
                outcome = await answer
        except TimeoutError:
            if message in self._queue:
                self._queue.remove(message)
            raise _Reject(503, "the event buffer is full; try again", [(b"retry-after", b"1")]) from None
        status, text = _STATUS_OF[outcome]
        result: dict[str, Any] = {"status": text}
        if outcome is Outcome.DEAD_LETTER:
            result["error"] = "the message could not be decoded; it was kept as a dead letter"
        if outcome is Outcome.DEAD_LETTER_REFUSED:
            raise _Reject(429, "too many undecodable messages; try again later", [(b"retry-after", b"60")])
        return status, result

    def _verify(self, headers: dict[str, str], payload: bytes) -> str:
        """The message id, once the signature over id, timestamp and body checks out; a 400/401 otherwise."""
        assert self._key is not None
        unauthorized = [(b"www-authenticate", SIGNATURE_HEADER.encode())]
        message_id = headers.get(ID_HEADER)
        stamp = headers.get(TIMESTAMP_HEADER)
        signatures = headers.get(SIGNATURE_HEADER)
        if message_id is None or stamp is None or signatures is None:
            raise _Reject(
                401,
                f"missing signature: sign the POST the Standard Webhooks way ({ID_HEADER}, {TIMESTAMP_HEADER}, "
                f"{SIGNATURE_HEADER}; lockcloud.events.sign_webhook)",
                unauthorized,
            )
        if not _DECIMAL.fullmatch(stamp):
            raise _Reject(400, f"{TIMESTAMP_HEADER} must be Unix seconds in ASCII digits")
        if abs(time.time() - int(stamp)) > self.tolerance:
            raise _Reject(
                401, f"stale signature: the timestamp is more than {self.tolerance:g} s off", unauthorized
            )
        if len(signatures) > _MAX_SIGNATURE_HEADER:
            raise _Reject(400, f"{SIGNATURE_HEADER} is too long")
        expected = _signature(self._key, message_id, stamp, payload)
        for candidate in signatures.split(" "):
            version, _, value = candidate.partition(",")
            if version == _VERSION and hmac.compare_digest(value.encode("latin-1"), expected):
                return message_id
        raise _Reject(401, "wrong signature", unauthorized)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Reject(400, "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_size:
                raise _Reject(413, f"the body must be at most {self.max_body_size} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])
    }


def _check_envelope(payload: bytes) -> None:
    try:
        envelope = json.loads(payload)
    except (ValueError, RecursionError):
        raise _Reject(400, "the body is not JSON") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("data"), str):
        raise _Reject(400, "the body is not a push envelope (an object with a 'data' string)")

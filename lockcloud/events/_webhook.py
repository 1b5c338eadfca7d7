"""A plain ASGI app that takes POSTed push envelopes and feeds them to an :class:`EventStream`."""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from lockcloud._asgi import Receive, Scope, Send, serve_lifespan
from lockcloud._errors import EventStreamError, ValidationError
from lockcloud.events._stream import EventStream, Outcome, Received, webhook_key

__all__ = ["WebhookApp", "webhook_app"]


_STATUS_OF = {
    Outcome.BUFFERED: (200, "buffered"),
    Outcome.DUPLICATE: (200, "duplicate"),
    Outcome.UNMATCHED: (200, "ignored"),
    Outcome.DEAD_LETTER: (422, "dead_letter"),
    Outcome.DEAD_LETTER_FAILED: (503, "dead_letter_failed"),
    Outcome.CLOSED: (503, "closed"),
}


class _Reject(Exception):
    def __init__(self, status: int, error: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers or []


class WebhookApp:
    """The ASGI app made by :func:`webhook_app`; ``stream`` is the stream it feeds."""

    def __init__(
        self, stream: EventStream, *, max_body_size: int, accept_timeout: float, token: str | None
    ) -> None:
        self.stream = stream
        self.max_body_size = max_body_size
        self.accept_timeout = accept_timeout
        self._token = token

    def __repr__(self) -> str:
        return f"<WebhookApp max_body_size={self.max_body_size} stream={self.stream!r}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise EventStreamError(f"the webhook app serves HTTP only, not {scope['type']!r}")
        try:
            status, body = await self._handle(scope, receive)
            headers: list[tuple[bytes, bytes]] = []
        except _Reject as reject:
            status, body, headers = reject.status, {"error": reject.error}, reject.headers
        await _respond(send, status, body, headers)

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any]]:
        if scope.get("method") != "POST":
            raise _Reject(405, "only POST is accepted", [(b"allow", b"POST")])
        headers = _headers(scope)
        if self._token is not None:
            presented = headers.get("authorization", "")
            if not hmac.compare_digest(presented.encode(), f"Bearer {self._token}".encode()):
                raise _Reject(401, "missing or wrong bearer token", [(b"www-authenticate", b"Bearer")])
        content_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise _Reject(415, "the body must be application/json")
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_size):
            raise _Reject(413, f"the body must be at most {self.max_body_size} bytes")
        payload = await self._read_body(receive)
        em = headers.get("em") or headers.get("x-tuya-em")
        _check_envelope(payload)
        message_id = headers.get("x-message-id") or None
        received = Received(
            payload, {"em": em} if em else {}, webhook_key(payload, message_id), message_id, handle=None
        )
        try:
            outcome = await asyncio.wait_for(self.stream._accept(received), self.accept_timeout)
        except TimeoutError:
            raise _Reject(503, "the event buffer is full; try again", [(b"retry-after", b"1")]) from None
        status, text = _STATUS_OF[outcome]
        answer: dict[str, Any] = {"status": text}
        if outcome is Outcome.DEAD_LETTER:
            answer["error"] = "the message could not be decoded; it was kept as a dead letter"
        return status, answer

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


def webhook_app(
    stream: EventStream,
    *,
    max_body_size: int = 64 * 1024,
    accept_timeout: float = 10.0,
    token: str | None = None,
) -> WebhookApp:
    """An ASGI app (no framework needed) that accepts POSTed Tuya envelopes into ``stream``.

    ``stream`` is usually ``EventStream.webhook(access_secret)`` and must be open (``async with``) while the app
    serves. The body is the JSON envelope ``{data, protocol, pv, sign, t}``; the cipher comes from an ``em``
    header (or ``x-tuya-em``), else an ``em`` field in the envelope, else ECB. An ``x-message-id`` header, if sent,
    is the id used to suppress duplicates (else a digest of the body is).

    Answers: 200 once the event is buffered (also for a duplicate, or an event no subscription wanted), 422 when
    the envelope decrypts or parses to nothing usable (it is kept as a dead letter), 400 for a body that is not a
    JSON envelope, 413 past ``max_body_size``, 415 for another content type, 405 for another method, 401 without
    the bearer ``token`` when one is configured, 503 when the stream is not open or its buffer stayed full for
    ``accept_timeout`` seconds.
    """
    if max_body_size < 1:
        raise ValidationError("max_body_size must be positive")
    return WebhookApp(stream, max_body_size=max_body_size, accept_timeout=accept_timeout, token=token)


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


async def _respond(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})

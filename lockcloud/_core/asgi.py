"""The few ASGI pieces lockcloud's plain ASGI apps (the webhook, the simulator and its console) share."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, TypeAlias

__all__ = [
    "Message",
    "Receive",
    "Scope",
    "Send",
    "read_body",
    "send_json",
    "serve_lifespan",
    "until_disconnect",
]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]


async def serve_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown: neither app has anything to set up."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def send_json(
    send: Send,
    status: int,
    body: object,
    *,
    headers: Sequence[tuple[bytes, bytes]] = (),
    kind: str = "http",
) -> None:
    """Answer with ``body`` as JSON; ``kind="websocket.http"`` refuses a WebSocket handshake the same way."""
    content = json.dumps(body).encode()
    await send(
        {
            "type": f"{kind}.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": f"{kind}.response.body", "body": content})


async def read_body(receive: Receive, limit: int | None = None) -> bytes | None:
    """The request's body, whole; ``None`` once it grows past ``limit`` bytes (the rest is left unread)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if limit is not None and size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def until_disconnect(receive: Receive) -> None:
    """Return once the client has gone."""
    while (await receive())["type"] != "http.disconnect":
        pass

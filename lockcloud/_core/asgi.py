"""The few ASGI pieces lockcloud's two plain ASGI apps (the webhook and the simulator) share."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, TypeAlias

__all__ = ["Message", "Receive", "Scope", "Send", "send_json", "serve_lifespan"]

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

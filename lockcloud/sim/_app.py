"""The simulator's ASGI adapter: an HTTP request in, one :class:`Request` to the simulator, its envelope out.

It also serves the media object store (unsigned, like a pre-signed bucket URL), loses responses on purpose
(``"disconnect"`` drops the connection mid-response, ``"timeout"`` stays silent first) and answers with a gateway's
bare HTML error page when told to. Scopes other than ``http`` and ``lifespan`` are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import attrs
import httpx

from lockcloud._core.asgi import Receive, Scope, Send, read_body, serve_lifespan, until_disconnect
from lockcloud._core.errors import ValidationError
from lockcloud.sim._faults import Faults, LostResponseMode
from lockcloud.sim._media import MEDIA_PREFIX

__all__ = ["Reply", "Request", "SimulatedDisconnect", "serve"]


class SimulatedDisconnect(httpx.RemoteProtocolError):
    """Raised by the app after it executed a call whose response is to be lost.

    Served by uvicorn, the connection is dropped mid-response, so the client sees a genuine
    ``httpx.RemoteProtocolError``; in-process (``httpx.ASGITransport``) this exception reaches the client itself,
    which is the same class of error. It is an httpx exception on purpose: it stands for a network failure.
    """


@attrs.frozen
class Request:
    """One API request as received: ``body`` the exact bytes (they are what was signed)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: httpx.Headers
    body: bytes
    #: ``scheme://host`` the client used, for URLs in answers (media links).
    base_url: str


@attrs.frozen
class Reply:
    """The envelope to answer with, how to lose it, or the HTTP status of a gateway's error page instead."""

    envelope: dict[str, Any]
    lose: LostResponseMode | None = None
    gateway_status: int | None = None


async def serve(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    handle: Callable[[Request], Reply],
    storage: Callable[[str], bytes | None],
    faults: Faults,
) -> None:
    """Answer one ASGI connection: ``handle`` for API calls, ``storage`` (object name -> bytes) for media."""
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["type"] != "http":
        raise ValidationError(f"the simulator serves HTTP only, not {scope['type']!r}")
    body = await read_body(receive) or b""  # no limit: never None
    method = str(scope["method"]).upper()
    path = str(scope["path"])
    headers = httpx.Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]])
    if path.startswith(f"/{MEDIA_PREFIX}/"):
        await _serve_storage(storage, method, path, send)
        return
    delay = faults.delay()
    if delay:
        await asyncio.sleep(delay)
    query = parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True)
    reply = handle(Request(method, path, query, headers, body, _base_url(scope, headers)))
    if reply.gateway_status is not None:
        await _gateway_page(reply.gateway_status, send)
        return
    payload = json.dumps(reply.envelope, separators=(",", ":"), ensure_ascii=False).encode()
    response_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if reply.lose is not None:
        await _lose(reply.lose, faults.hang_seconds, receive, send, response_headers)
        return
    await send({"type": "http.response.start", "status": 200, "headers": response_headers})
    await send({"type": "http.response.body", "body": payload})


async def _lose(
    mode: LostResponseMode,
    hang_seconds: float,
    receive: Receive,
    send: Send,
    headers: list[tuple[bytes, bytes]],
) -> None:
    if mode == "timeout":
        # Silent until the client gives up (it disconnects) or hang_seconds pass.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until_disconnect(receive), hang_seconds)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    raise SimulatedDisconnect("simulated: connection lost before the response arrived")


async def _gateway_page(status: int, send: Send) -> None:
    page = f"<html><body><h1>{status} {http.HTTPStatus(status).phrase}</h1></body></html>".encode()
    headers = [(b"content-type", b"text/html"), (b"content-length", str(len(page)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": page})


async def _serve_storage(storage: Callable[[str], bytes | None], method: str, path: str, send: Send) -> None:
    blob = storage(path.lstrip("/")) if method in ("GET", "HEAD") else None
    if blob is None:
        status, body, kind = 404, b"NoSuchKey", b"text/plain"
    else:
        status, body, kind = 200, blob, b"application/octet-stream"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body if method != "HEAD" else b""})


def _base_url(scope: Scope, headers: httpx.Headers) -> str:
    scheme = str(scope.get("scheme", "http"))
    host = headers.get("host")
    if not host:
        server = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    return f"{scheme}://{host}"

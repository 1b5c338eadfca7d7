"""The console's ASGI app, mounted at ``/console/`` beside the simulator's API: the page, its JSON snapshot, its
actions and a server-sent event stream of fresh snapshots.

Everything but the page's static files needs the per-run token (the page URL carries it). Actions also refuse
requests from other origins: the ``Host`` must be the console's own address (against DNS rebinding), an ``Origin``
must match it, the body must be ``application/json`` and the token travels in a header, so no other site's page can
send one without a CORS preflight, which is never granted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import secrets
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from lockcloud._core.asgi import Receive, Scope, Send, read_body, until_disconnect
from lockcloud._core.errors import ValidationError
from lockcloud._core.network import is_local_host
from lockcloud.sim._simulator import Simulator
from lockcloud.sim.console._actions import AtTheLock, parse
from lockcloud.sim.console._view import snapshot

__all__ = ["PREFIX", "TOKEN_HEADER", "Console", "is_loopback"]

logger = logging.getLogger("lockcloud.sim.console")

PREFIX = "/console"
TOKEN_HEADER = "x-console-token"
_MAX_BODY = 16 * 1024
#: A comment line on an idle event stream, so proxies and the browser keep it open.
_KEEPALIVE_SECONDS = 15.0
#: After sending a snapshot, changes in this window are sent together (a burst of pushes is one update).
_COALESCE_SECONDS = 0.05
_STATIC = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    # Served here so the browser does not ask the simulator's API for /favicon.ico (a "REST call" in the feed).
    "favicon.svg": "image/svg+xml",
}
_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self';"
        b" base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only accepts connections from this machine: the library's
    one rule for "this machine"."""
    return is_local_host(host)


class Console:
    """The web console of one simulator, an ASGI app for the paths under ``/console/``.

    ``token`` is the per-run secret in the page's URL (random by default). :meth:`bind` tells it the address it is
    served on (``Host`` headers naming another are refused); :meth:`close` ends the event streams.
    """

    def __init__(self, simulator: Simulator, *, token: str | None = None) -> None:
        self.simulator = simulator
        self.at_the_lock = AtTheLock(simulator)
        self._token = token or secrets.token_urlsafe(24)
        self._hosts: set[str] | None = None
        self._closing = asyncio.Event()

    def __repr__(self) -> str:
        return f"Console({self.simulator!r})"

    @property
    def token(self) -> str:
        return self._token

    def bind(self, host: str, port: int) -> None:
        """Accept only ``Host`` headers naming this address (and, on loopback, ``localhost``/``127.0.0.1``);
        a wildcard bind (``0.0.0.0``) accepts any host name, the token still required."""
        if host in ("0.0.0.0", "::", ""):  # noqa: S104 - what a wildcard bind looks like
            self._hosts = None
            return
        names = {host, f"[{host}]"} if ":" in host else {host}
        if is_loopback(host):
            names |= {"localhost", "127.0.0.1", "[::1]"}
        self._hosts = {f"{name}:{port}" for name in names}

    def url(self, base_url: str) -> str:
        """The page's address on a server at ``base_url``, token included."""
        return f"{base_url}{PREFIX}/?token={self._token}"

    def close(self) -> None:
        """End every open event stream (the server can then stop without waiting for them)."""
        self._closing.set()

    # -- ASGI -----------------------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope["path"]).removeprefix(PREFIX)
        method = str(scope["method"]).upper()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
        if not self._host_ok(headers.get("host", "")):
            await _text(send, 421, "this console answers on its own address only")
            return
        if path == "":
            raw_query = bytes(scope.get("query_string", b"")).decode("latin-1")
            await _redirect(send, f"{PREFIX}/" + (f"?{raw_query}" if raw_query else ""))
            return
        if path.startswith("/static/") and method in ("GET", "HEAD"):
            await self._static(send, path.removeprefix("/static/"))
            return
        token = (
            (query.get("token") or [""])[0] if path in ("/", "/api/events") else headers.get(TOKEN_HEADER, "")
        )
        if not hmac.compare_digest(token.encode(), self._token.encode()):
            await _text(
                send, 403, "open the console with the address `lockcloud sim serve` printed (its token)"
            )
            return
        if path == "/" and method in ("GET", "HEAD"):
            await _page(send)
        elif path == "/api/state" and method == "GET":
            await _json(send, 200, snapshot(self.simulator))
        elif path == "/api/events" and method == "GET":
            await self._events(receive, send)
        elif path == "/api/actions":
            if method != "POST":
                await _text(send, 405, "actions are POSTed")
                return
            await self._action(scope, headers, receive, send)
        else:
            await _text(send, 404, "not found")

    def _host_ok(self, host: str) -> bool:
        return self._hosts is None or host.lower() in self._hosts

    async def _static(self, send: Send, name: str) -> None:
        kind = _STATIC.get(name)
        if kind is None:
            await _text(send, 404, "not found")
            return
        content = resources.files(__package__).joinpath("static", name).read_bytes()
        await _respond(send, 200, content, kind.encode())

    async def _action(self, scope: Scope, headers: dict[str, str], receive: Receive, send: Send) -> None:
        origin = headers.get("origin")
        if origin is not None and origin != f"{scope.get('scheme', 'http')}://{headers.get('host', '')}":
            await _json(send, 403, {"ok": False, "message": "actions from another origin are refused"})
            return
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            await _json(send, 415, {"ok": False, "message": "send the action as application/json"})
            return
        body = await read_body(receive, _MAX_BODY)
        if body is None:
            await _json(send, 413, {"ok": False, "message": "the action is too large"})
            return
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            await _json(send, 400, {"ok": False, "message": "the request body is not JSON"})
            return
        try:
            action = parse(self.simulator, raw)
            message = await self.at_the_lock.run(action)
        except ValidationError as error:
            await _json(send, 400, {"ok": False, "message": str(error)})
            return
        await _json(send, 200, {"ok": True, "message": message})

    async def _events(self, receive: Receive, send: Send) -> None:
        changed = asyncio.Event()
        changed.set()
        unwatch = self.simulator.watch(changed.set)
        gone = asyncio.ensure_future(until_disconnect(receive))
        closing = asyncio.ensure_future(self._closing.wait())
        headers = [(b"content-type", b"text/event-stream; charset=utf-8"), *_SECURITY_HEADERS]
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            while True:
                waiter = asyncio.ensure_future(changed.wait())
                done, _ = await asyncio.wait(
                    {waiter, gone, closing}, timeout=_KEEPALIVE_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                if gone in done or closing in done:
                    waiter.cancel()
                    break
                if waiter not in done:
                    waiter.cancel()
                    await send({"type": "http.response.body", "body": b": keepalive\n\n", "more_body": True})
                    continue
                changed.clear()
                data = json.dumps(snapshot(self.simulator), separators=(",", ":"))
                chunk = f"event: state\ndata: {data}\n\n".encode()
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await asyncio.sleep(_COALESCE_SECONDS)
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b""})
        finally:
            unwatch()
            for task in (gone, closing):
                task.cancel()


async def _page(send: Send) -> None:
    content = resources.files(__package__).joinpath("static", "index.html").read_bytes()
    await _respond(send, 200, content, b"text/html; charset=utf-8")


async def _json(send: Send, status: int, body: Any) -> None:
    await _respond(send, status, json.dumps(body).encode(), b"application/json")


async def _text(send: Send, status: int, text: str) -> None:
    await _respond(send, status, text.encode(), b"text/plain; charset=utf-8")


async def _redirect(send: Send, location: str) -> None:
    headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0"), *_SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": 308, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _respond(send: Send, status: int, content: bytes, kind: bytes) -> None:
    headers = [(b"content-type", kind), (b"content-length", str(len(content)).encode()), *_SECURITY_HEADERS]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})

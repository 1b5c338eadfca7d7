"""A web service that opens doors: plain ASGI handlers awaiting one shared ``LockCloud``.

    GET  /doors/{device_id}/keys?user=sim-alice   the user's keys on that lock
    POST /doors/{device_id}/open                  {"pin": "123456"} unlocks with a PIN, {} without one

One ``LockCloud`` serves every request: its token, connection pool and rate limits are shared, and its calls are
plain awaits inside the handler. An unlock whose answer was lost is reported as such (HTTP 504 with
``"outcome": "unknown"``) and never retried behind the caller's back.

Run it: ``python examples/web_handler.py``. It starts the embedded simulator, serves this app with uvicorn on a
free loopback port, makes a few requests to it and stops. To serve it for real, build the app with
``build_app(cloud)`` and hand it to any ASGI server.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import uvicorn

from lockcloud import APIError, LockCloud, OutcomeUnknownError, RemoteUnlockDisabledError, ValidationError
from lockcloud.sim import DEMO_PIN, running

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

KEYS = re.compile(r"^/doors/(?P<device>[^/]+)/keys$")
OPEN = re.compile(r"^/doors/(?P<device>[^/]+)/open$")


async def respond(send: Send, status: int, document: Any) -> None:
    body = json.dumps(document).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_json(receive: Receive) -> Any:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return json.loads(body) if body.strip() else {}


def build_app(cloud: LockCloud) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app, closed over a client opened (and closed) by whoever runs it."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        query = dict(part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part)
        try:
            if method == "GET" and (match := KEYS.match(path)):
                keys = await cloud.unlock_methods.list_assigned(match["device"], query.get("user", ""), 1)
                await respond(
                    send, 200, [{"unlock_no": k.unlock_no, "type": k.unlock_type.value} for k in keys]
                )
            elif method == "POST" and (match := OPEN.match(path)):
                request = await read_json(receive)
                if "pin" in request:
                    opened = await cloud.remote_unlock.open_door(match["device"], pin=str(request["pin"]))
                else:
                    opened = await cloud.remote_unlock.open_door_without_password(match["device"])
                await respond(send, 200 if opened else 403, {"opened": opened})
            else:
                await respond(send, 404, {"error": "not found"})
        except ValidationError as exc:
            await respond(send, 400, {"error": str(exc)})
        except RemoteUnlockDisabledError as exc:
            await respond(send, 409, {"error": "remote unlock is switched off", "switch": exc.switch})
        except OutcomeUnknownError:
            # The door may have opened: tell the caller instead of trying again.
            await respond(send, 504, {"outcome": "unknown", "error": "the lock cloud did not answer in time"})
        except APIError as exc:
            await respond(send, 502, {"error": exc.msg, "code": exc.code, "tid": exc.tid})

    return app


async def main() -> None:
    async with running(broker=False) as lock_cloud, lock_cloud.client() as cloud:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(build_app(cloud), log_level="warning", lifespan="off"))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 - uvicorn signals readiness only through this flag
            await asyncio.sleep(0.01)
        host, port = sock.getsockname()
        front = lock_cloud.devices["front_door"]
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
            keys = await http.get(f"/doors/{front}/keys", params={"user": "sim-alice"})
            print("GET keys          ->", keys.status_code, keys.json())
            opened = await http.post(f"/doors/{front}/open", json={"pin": DEMO_PIN})
            print("POST open (PIN)   ->", opened.status_code, opened.json())
            refused = await http.post(f"/doors/{front}/open", json={})
            print("POST open (no PIN)->", refused.status_code, refused.json())
            lock_cloud.simulator.lose_next_response(action="open_door")
            lost = await http.post(f"/doors/{front}/open", json={"pin": DEMO_PIN})
            print("POST open (lost)  ->", lost.status_code, lost.json())
        opened_count = len(lock_cloud.simulator.executed("open_door"))
        print(f"the simulated lock executed open-door {opened_count} times (never replayed)")
        server.should_exit = True
        await serving
        sock.close()


if __name__ == "__main__":
    asyncio.run(main())

"""A FastAPI service on lockcloud: the lifespan owns one client and one push stream for every request.

    POST /unlock/{device_id}        {"pin": "123456"} opens with a PIN, {} without one
    POST /enrollments/{device_id}   {"user_id": "u1", "unlock_type": "fingerprint"}: Server-Sent Events, one
                                    ``progress`` event per push of the lock, then one ``result`` event
                                    (or an ``error`` event if the lock refused)

The lifespan opens a ``LockCloud`` from the ``LOCKCLOUD_*`` variables (``LockCloud.from_env()``) and its
project's push stream (read through subscriptions only, ``firehose=False``); every request shares them: one token,
one connection pool, one Pulsar consumer however many enrollments run at once. An unlock whose answer was lost is reported as HTTP 504 with
``"outcome": "unknown"`` and never retried behind the caller's back. A client that disconnects from the event
stream cancels its enrollment at the lock.

Serve it for real with the credentials of your cloud project::

    LOCKCLOUD_ACCESS_ID=... LOCKCLOUD_ACCESS_SECRET=... LOCKCLOUD_REGION=EU uvicorn fastapi_app:app

(or point ``LOCKCLOUD_BASE_URL`` / ``LOCKCLOUD_PULSAR_URL`` at ``lockcloud sim serve``). ``python
examples/fastapi_app.py`` runs it against the embedded simulator through httpx's ASGI transport: it unlocks
twice, streams an enrollment and stops.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from lockcloud import (
    APIError,
    EnrollmentResult,
    LockCloud,
    LockCloudError,
    OutcomeUnknownError,
    RemoteUnlockDisabledError,
    UnlockType,
    UserType,
    ValidationError,
)
from lockcloud.events import EnrollmentProgress


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with LockCloud.from_env() as cloud, cloud.events(firehose=False) as stream:
        app.state.cloud = cloud
        app.state.stream = stream
        yield


app = FastAPI(title="doors", lifespan=lifespan)


class UnlockRequest(BaseModel):
    pin: str | None = None


class EnrollmentRequest(BaseModel):
    user_id: str
    user_type: int = int(UserType.HOME_USER)
    unlock_type: str = UnlockType.FINGERPRINT.value


def error_answer(exc: LockCloudError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and body that stand for a lockcloud error."""
    if isinstance(exc, ValidationError):
        return 400, {"error": str(exc)}
    if isinstance(exc, RemoteUnlockDisabledError):
        return 409, {"error": "remote unlock is switched off", "switch": exc.switch}
    if isinstance(exc, OutcomeUnknownError):
        # Maybe opened, maybe not: say so, and let a person look before anyone tries again.
        return 504, {"outcome": "unknown", "error": str(exc)}
    if isinstance(exc, APIError):
        return 502, {"error": exc.msg, "code": exc.code}
    return 502, {"error": str(exc)}


@app.exception_handler(LockCloudError)
async def lock_cloud_error(request: Request, exc: LockCloudError) -> JSONResponse:
    status, document = error_answer(exc)
    return JSONResponse(document, status_code=status)


@app.post("/unlock/{device_id}")
async def unlock(device_id: str, body: UnlockRequest, request: Request) -> dict[str, bool]:
    cloud: LockCloud = request.app.state.cloud
    if body.pin is not None:
        opened = await cloud.remote_unlock.open_door(device_id, pin=body.pin)
    else:
        opened = await cloud.remote_unlock.open_door_without_password(device_id)
    if not opened:
        raise HTTPException(403, "the lock refused to open")
    return {"opened": opened}


def server_sent(event: str, document: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(document)}\n\n"


def progress_document(progress: EnrollmentProgress) -> dict[str, Any]:
    return {"period": progress.period, "total_period": progress.total_period, "finish": progress.finish}


def result_document(result: EnrollmentResult) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "total_period": result.total_period,
        "unlock_no": result.key.unlock_no if result.key is not None else None,
        "reason": result.reason,
    }


@app.post("/enrollments/{device_id}")
async def enroll(device_id: str, body: EnrollmentRequest, request: Request) -> StreamingResponse:
    cloud: LockCloud = request.app.state.cloud
    # Built (and its arguments checked) before the response starts, so bad input is a plain 400.
    enrollment = cloud.enroll(
        device_id,
        user_id=body.user_id,
        user_type=body.user_type,
        unlock_type=body.unlock_type,
        events=request.app.state.stream,
    )

    async def events() -> AsyncIterator[str]:
        # A client that goes away cancels this generator; leaving the block then cancels at the lock.
        try:
            async with enrollment:
                async for progress in enrollment:
                    yield server_sent("progress", progress_document(progress))
        except LockCloudError as exc:
            # The 200 and its headers are gone already: the failure is the stream's last event.
            status, document = error_answer(exc)
            yield server_sent("error", {"status": status, **document})
            return
        yield server_sent("result", result_document(enrollment.result))

    return StreamingResponse(events(), media_type="text/event-stream", headers={"cache-control": "no-store"})


def parse_server_sent(text: str) -> list[tuple[str, Any]]:
    """``[(event, data), ...]`` from a ``text/event-stream`` body."""
    parsed = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        parsed.append((fields["event"], json.loads(fields["data"])))
    return parsed


async def main() -> None:
    from lockcloud.sim import DEMO_PIN, running

    async with running(press_interval=0.05) as server:
        os.environ.update(
            LOCKCLOUD_ACCESS_ID=server.access_id,
            LOCKCLOUD_ACCESS_SECRET=server.access_secret,
            LOCKCLOUD_BASE_URL=server.base_url,
            LOCKCLOUD_PULSAR_URL=server.pulsar_url or "",
        )
        front = server.devices["front_door"]
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://doors") as http,
        ):
            opened = await http.post(f"/unlock/{front}", json={"pin": DEMO_PIN})
            print(f"POST /unlock (PIN)    -> {opened.status_code} {opened.json()}")
            refused = await http.post(f"/unlock/{front}", json={})
            print(f"POST /unlock (no PIN) -> {refused.status_code} {refused.json()}")
            streamed = await http.post(f"/enrollments/{front}", json={"user_id": server.simulator.home_user})
            print(f"POST /enrollments     -> {streamed.status_code} {streamed.headers['content-type']}")
            for event, data in parse_server_sent(streamed.text):
                print(f"  {event}: {data}")


if __name__ == "__main__":
    asyncio.run(main())

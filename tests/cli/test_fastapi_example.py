"""``examples/fastapi_app.py`` in-process: its lifespan and routes through httpx's ASGI transport, against a
simulator served over loopback with its pulsar-lite broker."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from lockcloud.sim import DEMO_PIN, SimServer, running

pytestmark = pytest.mark.broker

EXAMPLE = Path(__file__).parents[2] / "examples" / "fastapi_app.py"


@pytest.fixture
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_app_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def server(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[SimServer]:
    async with running(press_interval=0.05) as served:
        monkeypatch.setenv("LOCKCLOUD_ACCESS_ID", served.access_id)
        monkeypatch.setenv("LOCKCLOUD_ACCESS_SECRET", served.access_secret)
        monkeypatch.setenv("LOCKCLOUD_BASE_URL", served.base_url)
        monkeypatch.setenv("LOCKCLOUD_PULSAR_URL", served.pulsar_url or "")
        monkeypatch.delenv("LOCKCLOUD_REGION", raising=False)
        yield served


@pytest.fixture
async def http(example: ModuleType, server: SimServer) -> AsyncIterator[httpx.AsyncClient]:
    app = example.app
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://doors") as client,
    ):
        yield client
    # The lifespan closed what it opened.
    assert app.state.stream.is_open is False


async def test_unlock_route(http: httpx.AsyncClient, server: SimServer) -> None:
    front = server.devices["front_door"]
    opened = await http.post(f"/unlock/{front}", json={"pin": DEMO_PIN})
    assert (opened.status_code, opened.json()) == (200, {"opened": True})
    assert server.simulator.lock(front).door_open
    wrong = await http.post(f"/unlock/{front}", json={"pin": "000000"})
    assert wrong.status_code in (403, 502)
    switched_off = await http.post(f"/unlock/{front}", json={})
    assert switched_off.status_code == 409
    assert switched_off.json()["switch"] == "remoteUnlockWithoutPwd"
    bad = await http.post("/unlock/bad%20id", json={"pin": DEMO_PIN})
    assert bad.status_code == 400


async def test_a_lost_unlock_answer_is_504_and_not_retried(
    http: httpx.AsyncClient, server: SimServer
) -> None:
    front = server.devices["front_door"]
    server.simulator.lose_next_response(action="open_door")
    lost = await http.post(f"/unlock/{front}", json={"pin": DEMO_PIN})
    assert lost.status_code == 504
    assert lost.json()["outcome"] == "unknown"
    assert len(server.simulator.executed("open_door")) == 1


def events_of(body: str) -> list[tuple[str, Any]]:
    parsed = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        parsed.append((fields["event"], json.loads(fields["data"])))
    return parsed


async def test_enrollment_streams_server_sent_events(http: httpx.AsyncClient, server: SimServer) -> None:
    front = server.devices["front_door"]
    response = await http.post(f"/enrollments/{front}", json={"user_id": "sim-alice", "unlock_type": "card"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response.text)
    assert [name for name, _ in events][-1] == "result"
    progress = [data for name, data in events if name == "progress"]
    assert progress[-1]["finish"] is True
    assert progress[-1]["period"] == 0
    assert events[-1][1]["status"] == "completed"
    assert events[-1][1]["unlock_no"] == 4
    # An unlock type outside the documents' closed list is refused by the client before the enroll call is sent;
    # the stream had started, so that is its last event.
    refused = await http.post(
        f"/enrollments/{front}", json={"user_id": "sim-alice", "unlock_type": "telepathy"}
    )
    assert refused.status_code == 200
    (name, error), *_ = events_of(refused.text)
    assert name == "error"
    assert error["status"] == 400
    assert "telepathy" in error["error"]
    assert len(server.simulator.executed("enroll")) == 1
    bad_device = await http.post("/enrollments/bad%20id", json={"user_id": "sim-alice"})
    assert bad_device.status_code == 400


async def test_a_client_that_leaves_the_event_stream_cancels_at_the_lock(
    example: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpx's ASGI transport reads a response to its end, so the disconnect is sent by hand, ASGI-style.
    async with running(press_interval=2.0) as served:
        for name, value in {
            "LOCKCLOUD_ACCESS_ID": served.access_id,
            "LOCKCLOUD_ACCESS_SECRET": served.access_secret,
            "LOCKCLOUD_BASE_URL": served.base_url,
            "LOCKCLOUD_PULSAR_URL": served.pulsar_url or "",
        }.items():
            monkeypatch.setenv(name, value)
        app = example.app
        front = served.devices["front_door"]
        first_chunk = asyncio.Event()
        sent: list[dict[str, Any]] = []
        body = json.dumps({"user_id": "sim-alice"}).encode()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": body, "more_body": False}
            await first_chunk.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and message.get("body"):
                first_chunk.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": f"/enrollments/{front}",
            "raw_path": f"/enrollments/{front}".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"application/json"), (b"host", b"doors")],
            "client": ("127.0.0.1", 50000),
            "server": ("doors", 80),
        }
        async with app.router.lifespan_context(app):
            scope["state"] = {}
            await asyncio.wait_for(app(scope, receive, send), 30)
        cancels = served.simulator.executed("cancel_enrollment", device_id=front)
        assert [record.detail["cancelled"] for record in cancels] == [True]
        assert served.simulator.lock(front).enrollment is None
        assert b"event: progress" in b"".join(m.get("body", b"") for m in sent)

"""The webhook ASGI app, driven through httpx.ASGITransport, feeding the same decoder and stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lockcloud import ValidationError
from lockcloud.events import EnrollmentProgress, EventStream, MemoryDeadLetters, webhook_app

GUARD = 30.0


@pytest.fixture
async def stream(push: Any) -> AsyncIterator[EventStream]:
    async with EventStream.webhook(push.SECRET, buffer_size=3) as opened:
        yield opened


@pytest.fixture
async def http(stream: EventStream) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=webhook_app(stream, max_body_size=4096, accept_timeout=0.2))
    async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
        yield client


async def test_posted_envelopes_become_events_in_both_ciphers(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    gcm = await http.post("/tuya", content=push.enrollment(1, em="aes_gcm"), headers={"em": "aes_gcm"})
    ecb = await http.post("/tuya", content=push.enrollment(2, em="aes_ecb"))
    document = json.loads(push.enrollment(3, em="aes_gcm"))
    field = await http.post("/tuya", json={**document, "em": "aes_gcm"})
    assert [r.status_code for r in (gcm, ecb, field)] == [200, 200, 200]
    assert gcm.json() == {"status": "buffered"}

    async with asyncio.timeout(GUARD):
        events = [await anext(stream) for _ in range(3)]
    assert all(isinstance(e, EnrollmentProgress) for e in events)
    assert [e.period for e in events] == [1, 2, 3]


async def test_answers_only_after_the_event_is_buffered(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    for index in range(3):  # buffer_size=3
        assert (
            await http.post("/", content=push.enrollment(index), headers={"em": "aes_gcm"})
        ).status_code == 200
    full = await http.post("/", content=push.enrollment(3), headers={"em": "aes_gcm"})
    assert full.status_code == 503
    assert full.headers["retry-after"] == "1"

    # Room again once the reader takes one; the refused message may then be sent again and is accepted.
    first = await anext(stream)
    assert first.period == 0
    retried = await http.post("/", content=push.enrollment(3), headers={"em": "aes_gcm"})
    assert retried.status_code == 200
    async with asyncio.timeout(GUARD):
        rest = [await anext(stream) for _ in range(3)]
    assert [e.period for e in rest] == [1, 2, 3]


async def test_duplicates_by_message_id_or_body_are_suppressed(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    body = push.enrollment(1)
    first = await http.post("/", content=body, headers={"em": "aes_gcm", "x-message-id": "m-1"})
    again = await http.post("/", content=push.enrollment(1), headers={"em": "aes_gcm", "x-message-id": "m-1"})
    same_body = await http.post("/", content=push.enrollment(2), headers={"em": "aes_gcm"})
    same_body_again = await http.post("/", content=same_body.request.content, headers={"em": "aes_gcm"})
    assert [r.json()["status"] for r in (first, again, same_body, same_body_again)] == [
        "buffered",
        "duplicate",
        "buffered",
        "duplicate",
    ]
    events = [await anext(stream) for _ in range(2)]
    assert [e.period for e in events] == [1, 2]
    assert events[0].message_id == "m-1"
    assert stream.stats.duplicates == 2


async def test_undecodable_envelopes_are_dead_letters_and_get_422(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    response = await http.post("/", content=push.tampered(push.enrollment(1)), headers={"em": "aes_gcm"})
    assert response.status_code == 422
    assert response.json()["status"] == "dead_letter"
    sink = stream.dead_letters
    assert isinstance(sink, MemoryDeadLetters)
    assert len(sink) == 1
    assert sink.letters[0].properties == {"em": "aes_gcm"}
    assert stream.stats.dead_letters == 1


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"not json", {}, 400),
        (b"[1, 2]", {}, 400),
        (b'{"protocol": 20}', {}, 400),
        (b'{"data": "x"}', {"content-type": "text/plain"}, 415),
        (b"x" * 5000, {}, 413),
    ],
)
async def test_malformed_and_oversized_bodies_are_rejected(
    http: httpx.AsyncClient, stream: EventStream, content: bytes, headers: dict[str, str], status: int
) -> None:
    response = await http.post("/", content=content, headers=headers)
    assert response.status_code == status
    assert "error" in response.json()
    assert stream.stats.received == 0


async def test_oversized_streamed_body_without_length_is_rejected(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    response = await http.post("/", content=chunks())
    assert response.status_code == 413


async def test_only_post(http: httpx.AsyncClient) -> None:
    response = await http.get("/")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_closed_stream_answers_503(push: Any) -> None:
    stream = EventStream.webhook(push.SECRET)
    transport = httpx.ASGITransport(app=webhook_app(stream))
    async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
        response = await client.post("/", content=push.enrollment(1), headers={"em": "aes_gcm"})
    assert response.status_code == 503


async def test_bearer_token(push: Any) -> None:
    async with EventStream.webhook(push.SECRET) as stream:
        transport = httpx.ASGITransport(app=webhook_app(stream, token="s3cret"))
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            denied = await client.post("/", content=push.enrollment(1), headers={"em": "aes_gcm"})
            allowed = await client.post(
                "/", content=push.enrollment(1), headers={"em": "aes_gcm", "authorization": "Bearer s3cret"}
            )
    assert denied.status_code == 401
    assert allowed.status_code == 200


async def test_fan_out_acknowledges_when_every_subscriber_is_done(push: Any) -> None:
    async with EventStream.webhook(push.SECRET, firehose=False) as stream:
        by_device = stream.enrollment_progress("lock-1")
        everything = stream.subscribe()
        transport = httpx.ASGITransport(app=webhook_app(stream))
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as client:
            for index in range(2):
                await client.post("/", content=push.enrollment(index), headers={"em": "aes_gcm"})
            await client.post("/", content=push.enrollment(9, device_id="lock-9"), headers={"em": "aes_gcm"})

        first = await anext(by_device)
        await anext(by_device)  # by_device is done with event 0 ...
        assert stream.stats.acknowledged == 0  # ... but `everything` has not taken it yet
        assert not first.acknowledged
        await anext(everything)
        await anext(everything)
        assert stream.stats.acknowledged == 1
        first_everywhere = await anext(everything)
        assert first_everywhere.device_id == "lock-9"
        first_everywhere.ack()
        assert stream.stats.acknowledged == 2
        async with by_device:
            pass  # a clean exit releases the last event taken
        async with everything:
            pass
        assert stream.stats.acknowledged == 3


async def test_lifespan_and_validation(push: Any) -> None:
    app = webhook_app(EventStream.webhook(push.SECRET))
    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(ValidationError):
        webhook_app(EventStream.webhook(push.SECRET), max_body_size=0)


async def test_a_refused_post_reaches_every_subscriber_when_retried(push: Any) -> None:
    """503 after some recipients already had the event: the retry is not taken for a duplicate and reaches all."""
    # The firehose is always served first, so it gets the event before the request gives up on `slow`.
    async with EventStream.webhook(push.SECRET, buffer_size=5) as stream:
        slow = stream.subscribe(EnrollmentProgress, buffer_size=1)
        transport = httpx.ASGITransport(app=webhook_app(stream, accept_timeout=0.2))
        async with httpx.AsyncClient(transport=transport, base_url="http://hook") as http:
            assert (
                await http.post("/", content=push.enrollment(0), headers={"em": "aes_gcm"})
            ).status_code == 200
            second = push.enrollment(1)  # the very same bytes are sent again below
            refused = await http.post("/", content=second, headers={"em": "aes_gcm"})  # `slow` is full
            assert refused.status_code == 503
            async with asyncio.timeout(GUARD):
                assert (await anext(slow)).period == 0
                retried = await http.post("/", content=second, headers={"em": "aes_gcm"})
                assert retried.json() == {"status": "buffered"}
                assert (await anext(slow)).period == 1
                firehose = [(await anext(stream)).period for _ in range(3)]
    assert firehose == [0, 1, 1]  # at least once: the recipient that had it sees it again

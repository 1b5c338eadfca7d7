"""The webhook source, driven through httpx.ASGITransport: signed POSTs feeding the same decoder and stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lockcloud import ValidationError
from lockcloud.events import (
    DeadLetterQuota,
    EnrollmentProgress,
    EventStream,
    MemoryDeadLetters,
    WebhookSource,
    sign_webhook,
)

GUARD = 30.0
HOOK_SECRET = "whsec-Zq8vN2pL5tR7yB4m"


def signed(body: bytes, em: str | None = "aes_gcm", **headers: str) -> dict[str, str]:
    """Headers of a signed POST of ``body``, as a relay would send it."""
    result = sign_webhook(body, HOOK_SECRET)
    if em:
        result["em"] = em
    result.update({name.replace("_", "-"): value for name, value in headers.items()})
    return result


@pytest.fixture
def source() -> WebhookSource:
    return WebhookSource(secret=HOOK_SECRET, max_body_size=4096, accept_timeout=0.2)


@pytest.fixture
async def stream(source: WebhookSource, push: Any) -> AsyncIterator[EventStream]:
    async with EventStream(source, push.SECRET, buffer_size=3) as opened:
        yield opened


@pytest.fixture
async def http(source: WebhookSource, stream: EventStream) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=source), base_url="http://hook") as client:
        yield client


async def post(
    http: httpx.AsyncClient, body: bytes, em: str | None = "aes_gcm", **headers: str
) -> httpx.Response:
    return await http.post("/tuya", content=body, headers=signed(body, em, **headers))


async def test_posted_envelopes_become_events_in_both_ciphers(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    gcm = await post(http, push.enrollment(1, em="aes_gcm"))
    ecb = await post(http, push.enrollment(2, em="aes_ecb"), em=None)
    document = json.loads(push.enrollment(3, em="aes_gcm"))
    field = await post(http, json.dumps({**document, "em": "aes_gcm"}).encode(), em=None)
    assert [r.status_code for r in (gcm, ecb, field)] == [200, 200, 200]
    assert gcm.json() == {"status": "buffered"}

    async with asyncio.timeout(GUARD):
        events = [await anext(stream) for _ in range(3)]
    assert all(isinstance(e, EnrollmentProgress) for e in events)
    assert [e.period for e in events] == [1, 2, 3]


async def test_a_post_is_answered_once_buffered_and_a_retry_after_503_is_not_delivered_twice(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    for index in range(3):  # buffer_size=3
        assert (await post(http, push.enrollment(index))).status_code == 200
    body = push.enrollment(3)
    full = await post(http, body)
    assert full.status_code == 503
    assert full.headers["retry-after"] == "1"

    # The refused POST was already with the stream; once a reader makes room it is buffered, and the sender's
    # retry is recognised.
    first = await anext(stream)
    assert first.period == 0
    async with asyncio.timeout(GUARD):
        rest = [await anext(stream) for _ in range(3)]
        retried = await post(http, body)
    assert [e.period for e in rest] == [1, 2, 3]
    assert retried.json() == {"status": "duplicate"}


async def test_unsigned_wrongly_signed_and_stale_posts_are_refused(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    body = push.enrollment(1)
    unsigned = await http.post("/", content=body, headers={"em": "aes_gcm"})
    wrong = await http.post(
        "/", content=body, headers={**sign_webhook(body, "another-secret"), "em": "aes_gcm"}
    )
    stale_headers = sign_webhook(body, HOOK_SECRET, timestamp=time.time() - 301)
    stale = await http.post("/", content=body, headers={**stale_headers, "em": "aes_gcm"})
    future = await http.post(
        "/",
        content=body,
        headers={**sign_webhook(body, HOOK_SECRET, timestamp=time.time() + 301), "em": "aes_gcm"},
    )
    # A captured POST with one byte changed (a trailing space) no longer matches its signature.
    good = signed(body)
    tampered = await http.post("/", content=body + b" ", headers=good)
    for response in (unsigned, wrong, stale, future, tampered):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "x-lockcloud-signature"
    assert "sign_webhook" in unsigned.json()["error"]
    assert "stale" in stale.json()["error"]
    assert stream.stats.received == 0


async def test_replays_are_answered_duplicate_and_delivered_once(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    body = push.envelope(push.enrollment_body(0, finish=True))
    first = await post(http, body, x_message_id="m-1")
    # The same capture replayed three ways: as is, with a new message id, and re-signed with a fresh timestamp.
    headers = signed(body, x_message_id="m-1")
    replays = [
        await http.post("/", content=body, headers=headers),
        await post(http, body, x_message_id="m-2"),
        await post(http, body),
    ]
    assert first.json() == {"status": "buffered"}
    assert [r.json() for r in replays] == [{"status": "duplicate"}] * 3
    (event,) = [await anext(stream)]
    assert event.finish is True
    assert event.message_id == "m-1"
    assert stream.stats.received == 1
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await anext(stream)


async def test_a_body_first_posted_with_the_wrong_em_is_still_delivered_with_the_right_one(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    body = push.enrollment(1, em="aes_gcm")
    wrong = await post(http, body, em="aes_ecb")
    right = await post(http, body, em="aes_gcm")
    assert wrong.status_code == 422
    assert right.json() == {"status": "buffered"}
    assert (await anext(stream)).period == 1


async def test_undecodable_envelopes_are_dead_letters_and_get_422(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    response = await post(http, push.build.tampered(push.enrollment(1)))
    assert response.status_code == 422
    assert response.json()["status"] == "dead_letter"
    sink = stream.dead_letters
    assert isinstance(sink, MemoryDeadLetters)
    assert len(sink) == 1
    assert sink.letters[0].properties == {"em": "aes_gcm"}
    assert stream.stats.dead_letters == 1


async def test_the_dead_letter_quota_bounds_a_flood_and_keeps_the_rest_with_the_sender(
    push: Any, tmp_path: Any
) -> None:
    source = WebhookSource(secret=HOOK_SECRET)
    quota = DeadLetterQuota(count=5, size=1_000_000, per=3600)
    async with (
        EventStream(source, push.SECRET, dead_letters=tmp_path, dead_letter_quota=quota) as stream,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=source), base_url="http://hook") as http,
    ):
        answers = [(await post(http, push.build.tampered(push.enrollment(i)))).status_code for i in range(30)]
        good = await post(http, push.enrollment(99))
    assert answers == [422] * 5 + [429] * 25
    assert len(list(tmp_path.glob("*.payload"))) == 5
    assert stream.stats.dead_letters == 5
    assert stream.stats.dead_letters_refused == 25
    assert good.json() == {"status": "buffered"}


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
    response = await http.post("/", content=content, headers={**signed(content), **headers})
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


async def test_a_source_without_an_open_stream_answers_503(push: Any) -> None:
    source = WebhookSource(secret=HOOK_SECRET)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=source), base_url="http://hook") as client:
        response = await post(client, push.enrollment(1))
    assert response.status_code == 503


async def test_a_secret_is_required_unless_insecure_is_explicit(push: Any) -> None:
    with pytest.raises(ValidationError, match="signing secret"):
        WebhookSource()
    with pytest.raises(ValidationError):
        WebhookSource(secret=HOOK_SECRET, insecure=True)
    with pytest.raises(ValidationError):
        sign_webhook(b"{}", "")
    source = WebhookSource(insecure=True)
    async with (
        EventStream(source, push.SECRET) as stream,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=source), base_url="http://hook") as client,
    ):
        response = await client.post("/", content=push.enrollment(1), headers={"em": "aes_gcm"})
        assert response.json() == {"status": "buffered"}
        assert (await anext(stream)).period == 1
    assert HOOK_SECRET not in repr(WebhookSource(secret=HOOK_SECRET))


async def test_fan_out_acknowledges_when_every_subscriber_is_done(push: Any) -> None:
    source = WebhookSource(secret=HOOK_SECRET)
    async with EventStream(source, push.SECRET, firehose=False) as stream:
        by_device = stream.enrollment_progress("lock-1")
        everything = stream.subscribe()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=source), base_url="http://hook"
        ) as client:
            for index in range(2):
                await post(client, push.enrollment(index))
            await post(client, push.enrollment(9, device_id="lock-9"))

        first = await anext(by_device)
        await anext(by_device)  # by_device is done with event 0 ...
        assert stream.stats.acknowledged == 0  # ... but `everything` has not taken it yet
        again = await anext(everything)
        assert again is first  # one value shared by every recipient
        await anext(everything)
        assert stream.stats.acknowledged == 1
        first_everywhere = await anext(everything)
        assert first_everywhere.device_id == "lock-9"
        everything.ack(first_everywhere)
        everything.ack(first_everywhere)  # idempotent
        assert stream.stats.acknowledged == 2
        async with by_device:
            pass  # a clean exit releases the last event taken
        async with everything:
            pass
        assert stream.stats.acknowledged == 3


async def test_lifespan_and_validation() -> None:
    app = WebhookSource(secret=HOOK_SECRET)
    sent: list[dict[str, Any]] = []
    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, Any]:
        return next(incoming)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(ValidationError):
        WebhookSource(secret=HOOK_SECRET, max_body_size=0)


async def test_a_post_refused_while_a_subscriber_is_full_reaches_every_subscriber_once(push: Any) -> None:
    """503 while the stream waits on a full subscriber: the event still reaches everyone, once."""
    source = WebhookSource(secret=HOOK_SECRET, accept_timeout=0.2)
    async with EventStream(source, push.SECRET, buffer_size=5) as stream:
        slow = stream.subscribe(EnrollmentProgress, buffer_size=1)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=source), base_url="http://hook"
        ) as http:
            assert (await post(http, push.enrollment(0))).status_code == 200
            second = push.enrollment(1)  # the very same bytes are sent again below
            refused = await post(http, second)  # `slow` is full
            assert refused.status_code == 503
            async with asyncio.timeout(GUARD):
                assert (await anext(slow)).period == 0
                assert (await anext(slow)).period == 1
                retried = await post(http, second)
                assert retried.json() == {"status": "duplicate"}
                firehose = [(await anext(stream)).period for _ in range(2)]
    assert firehose == [0, 1]

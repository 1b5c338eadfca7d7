"""The webhook source, driven through httpx.ASGITransport: signed POSTs feeding the same decoder and stream."""

from __future__ import annotations

import asyncio
import datetime as dt
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
    generate_webhook_secret,
    sign_webhook,
)

GUARD = 30.0
HOOK_SECRET = "whsec-Zq8vN2pL5tR7yB4m"


def signed(
    body: bytes, em: str | None = "aes_gcm", *, message_id: str | None = None, **headers: str
) -> dict[str, str]:
    """Headers of a signed POST of ``body``, as a relay would send it."""
    result = sign_webhook(body, HOOK_SECRET, message_id=message_id)
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
    http: httpx.AsyncClient,
    body: bytes,
    em: str | None = "aes_gcm",
    *,
    message_id: str | None = None,
    **headers: str,
) -> httpx.Response:
    return await http.post("/tuya", content=body, headers=signed(body, em, message_id=message_id, **headers))


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
        assert response.headers["www-authenticate"] == "webhook-signature"
    assert "sign_webhook" in unsigned.json()["error"]
    assert "stale" in stale.json()["error"]
    assert stream.stats.received == 0


async def test_replays_are_answered_duplicate_and_delivered_once(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    body = push.envelope(push.enrollment_body(0, finish=True))
    first = await post(http, body, message_id="m-1")
    # The same capture replayed: as is, with unsigned headers changed or added, and re-signed by the sender with a
    # fresh timestamp (a redelivery keeps its id).
    headers = signed(body, message_id="m-1")
    replays = [
        await http.post("/", content=body, headers=headers),
        await http.post("/", content=body, headers={**headers, "em": "aes_ecb"}),
        await http.post("/", content=body, headers={**headers, "x-tuya-em": "aes_ecb", "x-anything": "1"}),
        await post(http, body, message_id="m-1"),
    ]
    assert first.json() == {"status": "buffered"}
    assert [r.json() for r in replays] == [{"status": "duplicate"}] * 4
    (event,) = [await anext(stream)]
    assert event.finish is True
    assert event.message_id == "m-1"  # the signed webhook-id
    assert stream.stats.received == 1
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await anext(stream)


async def test_a_captured_post_replayed_with_invented_cipher_headers_writes_no_more_dead_letters(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    # The cipher header is not signed: before, each invented value made a new dedupe key and a new dead letter,
    # until the quota refused real messages. The signed webhook-id is the key now.
    body = push.enrollment(1, em="aes_gcm")
    headers = signed(body, em="aes_ecb", message_id="m-9")
    first = await http.post("/", content=body, headers=headers)
    replays = [
        await http.post("/", content=body, headers={**headers, "em": em})
        for em in ("aes_gcm", "AES_GCM", " aes_ecb", "x", "")
    ]
    assert first.status_code == 422
    assert {r.json()["status"] for r in replays} == {"duplicate"}
    assert stream.stats.dead_letters == 1


async def test_a_sender_that_fixes_its_cipher_sends_a_new_message_id(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    body = push.enrollment(1, em="aes_gcm")
    wrong = await post(http, body, em="aes_ecb", message_id="m-1")
    right = await post(http, body, em="aes_gcm", message_id="m-2")
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


# -- Standard Webhooks: interoperability, hostile headers, slow bodies ---------------------------------------------


async def test_a_standard_webhooks_sender_is_accepted(push: Any) -> None:
    standardwebhooks = pytest.importorskip("standardwebhooks")
    secret = generate_webhook_secret()
    sender = standardwebhooks.Webhook(secret)
    source = WebhookSource(secret=secret)
    body = push.enrollment(4)
    stamp = dt.datetime.now(dt.UTC)
    headers = {
        "webhook-id": "msg_2Lx9",
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": sender.sign("msg_2Lx9", stamp, body),
        "em": "aes_gcm",
    }
    async with (
        EventStream(source, push.SECRET) as stream,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=source), base_url="http://hook") as client,
    ):
        response = await client.post("/", content=body, headers=headers)
        assert response.json() == {"status": "buffered"}
        assert (await anext(stream)).period == 4
    # ... and what sign_webhook makes, the standard's own verifier accepts.
    ours = sign_webhook(body, secret, message_id="msg_1")
    sender.verify(body, ours)


async def test_a_rotated_key_is_accepted_beside_the_old_one(
    http: httpx.AsyncClient, stream: EventStream, push: Any
) -> None:
    body = push.enrollment(1)
    old = sign_webhook(body, "the-old-secret", message_id="m-1")
    new = sign_webhook(body, HOOK_SECRET, message_id="m-1", timestamp=int(old["webhook-timestamp"]))
    both = {
        **new,
        "webhook-signature": f"{old['webhook-signature']} {new['webhook-signature']}",
        "em": "aes_gcm",
    }
    response = await http.post("/", content=body, headers=both)
    assert response.json() == {"status": "buffered"}


def test_secrets_in_the_standard_form() -> None:
    secret = generate_webhook_secret()
    assert secret.startswith("whsec_")
    assert generate_webhook_secret() != secret
    with pytest.raises(ValidationError, match="base64"):
        WebhookSource(secret="whsec_not*base64")
    with pytest.raises(ValidationError, match="message_id"):
        sign_webhook(b"{}", secret, message_id="has space")


HOSTILE_NUMBERS = ["\u0661\u0662\u0663", "\u00b9\u00b2", "9" * 300, "-5", "1e3", " 12", ""]


@pytest.mark.parametrize("stamp", HOSTILE_NUMBERS)
async def test_a_hostile_timestamp_is_400_not_500(
    http: httpx.AsyncClient, stream: EventStream, push: Any, stamp: str
) -> None:
    body = push.enrollment(1)
    headers: dict[str, str | bytes] = {**signed(body), "webhook-timestamp": stamp.encode("utf-8")}
    response = await http.post("/", content=body, headers=headers)
    assert response.status_code == 400
    assert "webhook-timestamp" in response.json()["error"]


async def _call(app: WebhookSource, headers: list[tuple[bytes, bytes]], body: bytes) -> int:
    """One raw ASGI request (httpx would correct a hostile content-length itself)."""
    statuses: list[int] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive, send)
    return statuses[0]


@pytest.mark.parametrize("length", HOSTILE_NUMBERS)
async def test_a_hostile_content_length_is_400_not_500(
    stream: EventStream, source: WebhookSource, length: str
) -> None:
    status = await _call(source, [(b"content-length", length.encode("utf-8"))], b"{}")
    assert status == 400


async def test_a_slow_drip_body_gets_408_over_a_real_server(push: Any, unused_tcp_port: int) -> None:
    uvicorn = pytest.importorskip("uvicorn")
    source = WebhookSource(secret=HOOK_SECRET, body_timeout=0.5)
    config = uvicorn.Config(source, host="127.0.0.1", port=unused_tcp_port, log_level="error", lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with EventStream(source, push.SECRET):
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
                await asyncio.sleep(0.02)
            body = push.enrollment(1)
            reader, writer = await asyncio.open_connection("127.0.0.1", unused_tcp_port)
            head = "".join(f"{name}: {value}\r\n" for name, value in signed(body).items())
            writer.write(
                f"POST / HTTP/1.1\r\nhost: hook\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\n{head}\r\n".encode()
                + body[:5]
            )
            await writer.drain()  # ... and the rest never comes
            async with asyncio.timeout(GUARD):
                status_line = await reader.readline()
            writer.close()
    finally:
        server.should_exit = True
        await serving
    assert status_line.split()[1] == b"408"

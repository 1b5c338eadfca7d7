"""Secrets never appear in any log line captured across the suite.

The guard itself is a plugin (``tests/reliability/secret_guard.py``, registered by ``tests/conftest.py``) that
checks every log record of every test in the suite. The tests here prove that it can see a leak wherever a
record carries one, that it learns secrets where they are minted (retired tokens included), and then drive a whole
session over loopback, with faults, token healing and refreshes, tickets, PINs, media and push events, and find
nothing. PINs are too short to search for in every log line; a targeted test checks reprs and exception messages
for them, and the session's own log for its PINs.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import traceback
from typing import Any

import httpx
import pytest

from lockcloud import LockCloudError, OutcomeUnknownError, ValidationError
from lockcloud.crypto import decrypt_ticket_key, encrypt_message, pulsar_password
from lockcloud.enrollment import EnrollmentStatus
from lockcloud.enums import RemoteUnlockType, UnlockType, UserType
from lockcloud.events import EventStream, WebhookSource, sign_webhook
from lockcloud.sim import Simulator, running
from lockcloud.sim.broker import LocalBroker

from support import fast_retry

FAST_RETRY = fast_retry(max_attempts=4)
PIN = "493817"
ENROLL_PIN = "7305618"
BAD_PINS = ("49381", "4938172", "49381x")

log = logging.getLogger("tests.reliability.secrets")


def render(exc: BaseException) -> list[str]:
    """Everything an exception shows: message, repr, traceback (with its causes) and attributes."""
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(vars(exc))]


def mentions(texts: list[str], pin: str) -> bool:
    pattern = re.compile(rf"(?<![0-9]){re.escape(pin)}(?![0-9])")
    return any(pattern.search(text) for text in texts)


async def test_the_guard_finds_a_secret_wherever_a_record_carries_it(secret_guard: Any) -> None:
    secret = "Zq7dLx0TnW2vKp9sRb4mHc6yFa1eUg8J"
    secret_guard.register(secret, "test secret")
    httpx_log = logging.getLogger("httpx")
    with secret_guard.expect_leaks() as leaks:
        log.debug("as an argument: %s", secret)
        log.info("upper-cased: %s", secret.upper())
        httpx_log.info("HTTP Request: GET https://openapi.test/v1.0/token/%s 200 OK", secret)
        log.warning("inside a longer run: abc%sxyz", secret)
        log.info("in an extra field", extra={"detail": f"token={secret}"})
        try:
            raise LockCloudError(f"failed with {secret}")
        except LockCloudError:
            log.exception("only the traceback carries it")
        log.error("in the stack text", stack_info=True, extra={"note": secret[:20]})
        log.info("harmless: %s", secret[:15])
    assert [leak.logger for leak in leaks] == [log.name, log.name, "httpx", log.name, log.name, log.name]
    assert {leak.kind for leak in leaks} == {"test secret"}
    assert all(secret.lower() not in leak.masked.lower() for leak in leaks)
    assert "<test secret>" in leaks[2].masked


async def test_secrets_are_learnt_where_they_are_minted(secret_guard: Any) -> None:
    sim = Simulator()
    front, back = sim.devices["front_door"], sim.devices["back_door"]
    async with sim.client(retry=FAST_RETRY) as cloud:
        await cloud.unlock_methods.list_unassigned(front)
        first = cloud.tokens._token
        assert first is not None
        sim.expire_tokens()  # healed through the refresh call: the first pair is retired
        ticket = await cloud.remote_unlock.get_password_ticket(front)
        media = await cloud.remote_unlock.latest_media(back, 1)
        second = cloud.tokens._token
    assert media is not None
    assert second is not None
    assert second.refresh_token != first.refresh_token
    assert first.access_token not in sim.world.tokens  # gone from the simulator: only the guard remembers it

    minted = {
        "access secret": sim.access_secret,
        "Pulsar message key": sim.access_secret[8:24],
        "Pulsar auth1 password": pulsar_password(sim.access_id, sim.access_secret),
        "ticket key": ticket.ticket_key,
        "decrypted ticket key": decrypt_ticket_key(ticket.ticket_key, sim.access_secret).decode(),
        "media file key": media.file_key,
        "refresh token": first.refresh_token,
        "access token": second.access_token,
    }
    with secret_guard.expect_leaks() as leaks:
        for kind, value in minted.items():
            log.info("%s is %s", kind, value)
    assert [leak.kind for leak in leaks] == list(minted)


async def test_a_whole_session_over_loopback_logs_no_secret(
    secret_guard: Any, session_broker: LocalBroker
) -> None:
    sim = Simulator(press_interval=0.01)
    sim.faults.hang_seconds = 5
    front, back, shed = sim.devices["front_door"], sim.devices["back_door"], sim.devices["shed"]
    sim.add_key(front, UnlockType.PASSWORD, user_id="sim-alice", pin=PIN)
    failures: list[BaseException] = []
    timeout = httpx.Timeout(5.0, read=0.5)
    async with (
        running(sim, broker_url=session_broker.url) as server,
        server.client(retry=FAST_RETRY, timeout=timeout) as cloud,
        cloud.events(url=server.pulsar_url, pulsar_log_level="error") as stream,
    ):
        await cloud.unlock_methods.list_assigned(front, "sim-alice", UserType.HOME_USER)
        assert await cloud.remote_unlock.open_door(front, pin=PIN) is True
        retired = cloud.tokens._token
        sim.expire_tokens()  # 1010, healed by a refresh (the refresh token travels in the URL)
        assert await cloud.remote_unlock.open_door(front, pin=PIN) is True
        sim.fail_next(1012, action="refresh_token")
        sim.expire_tokens()  # the refresh is refused too: a new grant
        await cloud.remote_unlock.list_methods(front)
        sim.lose_next_response(action="list_remote_unlocks", mode="timeout")  # read timeout, retried
        await cloud.remote_unlock.list_methods(front)
        await cloud.remote_unlock.set_method_enabled(back, RemoteUnlockType.WITHOUT_PASSWORD, True)
        assert await cloud.unlock_methods.enroll(shed, "sim-alice", 1, UnlockType.PASSWORD, pin=ENROLL_PIN)
        media = await cloud.remote_unlock.latest_media(back, 1)
        assert media is not None
        assert (await cloud.remote_unlock.download_media(media)).startswith(b"\x89PNG")
        async with cloud.enroll(
            front, user_id="sim-alice", user_type=1, unlock_type=UnlockType.CARD, events=stream
        ) as enrollment:
            async for _ in enrollment:
                pass
        assert enrollment.result.status is EnrollmentStatus.COMPLETED
        await webhook_deliveries(server.access_secret)

        # Failures, each logged with its traceback the way an application would.
        sim.lose_next_response(action="open_door")
        with pytest.raises(OutcomeUnknownError) as unknown:
            await cloud.remote_unlock.open_door(front, pin=PIN)
        sim.lose_next_response(action="door_operate", mode="timeout")
        with pytest.raises(OutcomeUnknownError) as timed_out:
            await cloud.remote_unlock.unlock(back)
        sim.fail_next(500, action="password_ticket")
        with pytest.raises(OutcomeUnknownError) as refused:  # Tuya's 500 on an unsafe call
            await cloud.remote_unlock.open_door_without_password(back)
        with pytest.raises(ValidationError) as invalid:
            await cloud.remote_unlock.open_door(front, pin=BAD_PINS[0])
        failures += [unknown.value, timed_out.value, refused.value, invalid.value]
        for failure in failures:
            try:
                raise failure
            except LockCloudError:
                log.exception("the call failed")

    records = secret_guard.records
    texts = [secret_guard_text(record) for record in records]
    leaks = secret_guard.leaks()  # also reads what the simulator and the client minted or hold by now
    # The session happened and was logged, so that finding nothing means something.
    assert retired is not None
    assert retired.refresh_token in secret_guard.registry
    assert sim.access_secret in secret_guard.registry
    assert {"access secret", "access token", "refresh token", "ticket key", "decrypted ticket key"} <= (
        secret_guard.registry.kinds()
    )
    # Request lines come from lockcloud.http (its own pool) or httpx (a borrowed client).
    http_loggers = ("httpx", "lockcloud.http")
    assert any(r.name in http_loggers and "/v1.0/token/<redacted>" in r.getMessage() for r in records)
    assert any(r.name in http_loggers and "/v1.0/token" in r.getMessage() for r in records)
    # (The default transport is aiohttp's pool, which logs no request lines of its own; httpx still does.)
    for name in ("lockcloud.http", "lockcloud.sim", "lockcloud.events"):
        assert any(r.name == name for r in records), name
    assert sum(1 for r in records if r.exc_info) >= len(failures)
    assert len(records) >= 50  # lockcloud's own pool logs fewer lines than httpx and httpcore did

    assert leaks == []
    for pin in (PIN, ENROLL_PIN, *BAD_PINS):
        assert not mentions(texts, pin), pin


async def webhook_deliveries(access_secret: str) -> None:
    """A push delivered twice and a tampered one, through the webhook app: a duplicate and a dead letter."""
    body = {"bizCode": "online", "devId": "sim-front-door", "ts": 1_700_000_000_000, "uuid": "u-1"}
    data = encrypt_message(json.dumps(body).encode(), access_secret, "aes_gcm")
    good = json.dumps({"data": data, "protocol": 20, "pv": "2.0", "sign": "s", "t": 1_700_000_000_000})
    raw = bytearray(base64.b64decode(data))
    raw[-1] ^= 1
    tampered = good.replace(data, base64.b64encode(bytes(raw)).decode())
    hook_secret = "whsec-" + access_secret[::-1]
    source = WebhookSource(secret=hook_secret)
    stream = EventStream(source, access_secret)
    transport = httpx.ASGITransport(app=source)
    async with stream, httpx.AsyncClient(transport=transport, base_url="http://webhook.test") as http:
        answers = [
            (
                await http.post(
                    "/",
                    content=payload,
                    headers={"em": "aes_gcm", **sign_webhook(payload.encode(), hook_secret)},
                )
            ).status_code
            for payload in (good, good, tampered)
        ]
        event = await anext(stream)
    assert answers == [200, 200, 422]
    assert event.device_id == "sim-front-door"
    assert stream.stats.received == 2  # the replayed POST was answered "duplicate" before reaching the stream


def secret_guard_text(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


async def test_pins_never_appear_in_reprs_or_exception_messages() -> None:
    sim = Simulator()
    front, shed = sim.devices["front_door"], sim.devices["shed"]
    sim.add_key(front, UnlockType.PASSWORD, user_id="sim-alice", pin=PIN)
    texts: list[str] = []
    async with sim.client(retry=FAST_RETRY) as cloud:
        for bad in BAD_PINS:
            with pytest.raises(ValidationError) as invalid:
                await cloud.remote_unlock.open_door(front, pin=bad)
            texts += render(invalid.value)
        with pytest.raises(ValidationError) as not_a_password:
            await cloud.unlock_methods.enroll(front, "sim-alice", 1, UnlockType.CARD, pin=ENROLL_PIN)
        texts += render(not_a_password.value)
        sim.lose_next_response(action="open_door")
        with pytest.raises(OutcomeUnknownError) as unknown:
            await cloud.remote_unlock.open_door(front, pin=PIN)
        texts += render(unknown.value)
        sim.fail_next(1109, action="open_door", msg="password is not encrypted with the ticket's key")
        with pytest.raises(LockCloudError) as refused:
            await cloud.remote_unlock.open_door(front, pin=PIN)
        texts += render(refused.value)
        enrollment = cloud.enroll(
            shed, user_id="sim-alice", user_type=1, unlock_type="password", pin=ENROLL_PIN
        )
        texts.append(repr(enrollment))
        assert await cloud.unlock_methods.enroll(shed, "sim-alice", 1, UnlockType.PASSWORD, pin=ENROLL_PIN)
    texts += [repr(key) for lock in (front, shed) for key in sim.lock(lock).keys.values()]
    texts += [repr(sim.lock(front)), repr(sim.lock(shed)), repr(sim)]

    # The PINs really went through these objects.
    assert any(key.pin == ENROLL_PIN for key in sim.lock(shed).keys.values())
    assert len(sim.executed("open_door")) == 1
    for pin in (PIN, ENROLL_PIN, *BAD_PINS):
        assert not mentions(texts, pin), pin

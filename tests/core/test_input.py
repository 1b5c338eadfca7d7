"""Bad input and bad configuration: a ValidationError before anything is sent."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import warnings
from typing import Any

import httpx
import pytest

import lockcloud
import lockcloud._core.network
from lockcloud import (
    InsecureTransportWarning,
    LockCloud,
    RetryPolicy,
    UnlockType,
    UserType,
    ValidationError,
)
from lockcloud._core.auth import TuyaAuth
from lockcloud._core.clock import ServerClock

DEVICE = "vdevo123"

HOSTILE_IDS = [
    "a\uff0fb",  # fullwidth solidus
    "a\u2215b",  # division slash
    "\uff0e\uff0e",  # fullwidth full stops
    "a\u202eb",  # right-to-left override
    "a\u200bb",  # zero-width space
    "a\\b",  # backslash
    "a/b",
    "a?b",
    "a#b",
    "a%2Fb",
    "a b",
    "..",
    ".",
    "x" * 60_000,
    "",
]


@pytest.mark.parametrize("bad", HOSTILE_IDS)
async def test_hostile_ids_are_refused_before_sending(server: Any, cloud: LockCloud, bad: str) -> None:
    with pytest.raises(ValidationError) as exc_info:
        await cloud.unlock_methods.list_assigned(bad, "u1", UserType.HOME_USER)
    with pytest.raises(ValidationError):
        await cloud.unlock_methods.list_assigned(DEVICE, bad, UserType.HOME_USER)
    with pytest.raises(ValidationError):
        await cloud.remote_unlock.open_door_password_free(DEVICE, ticket_id=bad)
    assert len(str(exc_info.value)) < 300
    assert server.requests == []


@pytest.mark.parametrize("number", [10**40, -1, 2**31, -(10**40)])
async def test_integers_outside_the_documented_range_are_refused(
    server: Any, cloud: LockCloud, number: int
) -> None:
    with pytest.raises(ValidationError) as exc_info:
        await cloud.unlock_methods.set_duress_alarm(DEVICE, UnlockType.CARD, number)
    assert str(10**40) not in str(exc_info.value)
    with pytest.raises(ValidationError):
        await cloud.remote_unlock.open_door_password_free(DEVICE, ticket_id="t1", channel_id=number)
    assert server.requests == []


async def test_long_ids_take_the_64_bit_range(server: Any, cloud: LockCloud) -> None:
    assert await cloud.unlock_methods.set_special_attribute(DEVICE, 2**40, 1, True)
    with pytest.raises(ValidationError):
        await cloud.unlock_methods.set_special_attribute(DEVICE, 2**63, 1, True)


@pytest.mark.parametrize(
    ("call", "refused", "valid"),
    [
        ("enroll", UnlockType.HAND, "'fingerprint', 'password', 'card', 'face', 'remoteControl'"),
        ("enroll", "newType", "'fingerprint', 'password', 'card', 'face', 'remoteControl'"),
        ("sync", "newType", "'unlock_hand', 'unlock_finger_vein'"),
        ("rename", UnlockType.FINGER_VEIN, "'fingerprint', 'password', 'card', 'face', 'remoteControl'"),
        ("remove_duress_alarm", UnlockType.FACE, "'fingerprint', 'password', 'card'"),
    ],
)
async def test_closed_unlock_type_lists_refuse_other_values_naming_the_valid_ones(
    server: Any, cloud: LockCloud, call: str, refused: Any, valid: str
) -> None:
    methods = cloud.unlock_methods
    calls = {
        "enroll": lambda: methods.enroll(DEVICE, "u1", UserType.HOME_USER, refused),
        "sync": lambda: methods.sync(DEVICE, [refused]),
        "rename": lambda: methods.rename(DEVICE, 1, refused, "front"),
        "remove_duress_alarm": lambda: methods.remove_duress_alarm(DEVICE, refused, 1),
    }
    with pytest.raises(ValidationError) as exc_info:
        await calls[call]()
    assert valid in str(exc_info.value)
    assert server.requests == []


async def test_open_unlock_type_lists_still_take_new_values(server: Any, cloud: LockCloud) -> None:
    await cloud.unlock_methods.list_unassigned(DEVICE, unlock_type="newType")
    [request] = server.business()
    assert request.url.params["unlock_type"] == "newType"


@pytest.mark.parametrize("name", ["a\u202eb", "x" * 300, "line\nbreak", "  "])
async def test_names_are_bounded_visible_text(server: Any, cloud: LockCloud, name: str) -> None:
    with pytest.raises(ValidationError):
        await cloud.unlock_methods.rename(DEVICE, 1, UnlockType.CARD, name)
    assert server.requests == []


# -- configuration ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"deadline": math.nan},
        {"deadline": math.inf},
        {"deadline": -1.0},
        {"max_attempts": "3"},
        {"max_attempts": 0},
        {"max_attempts": True},
        {"initial_backoff": math.nan},
        {"max_backoff": "1"},
    ],
)
def test_retry_policy_values_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicy(**options)


@pytest.mark.parametrize(
    "options",
    [
        {"rate_limit": math.nan},
        {"rate_limit": math.inf},
        {"rate_limit": "5"},
        {"max_in_flight": 2.5},
        {"verify": "false"},
        {"verify": 0},
        {"verify": None},
        {"timeout": math.nan},
        {"timeout": 0},
        {"timeout": "10"},
        {"timeout": httpx.Timeout(None)},
        {"refresh_margin": math.nan},
        {"refresh_margin": -5},
        {"retry": 3},
        {"region": "EU"},
        {"base_url": "openapi.tuyaeu.com"},
        {"base_url": "ftp://openapi.tuyaeu.com"},
        {"use_nonce": "yes"},
        {"max_response_bytes": 0},
        {"http_client": object()},
    ],
)
def test_client_configuration_is_checked_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        LockCloud("id", "secret", **options)


@pytest.mark.parametrize(
    ("access_id", "access_secret"),
    [("", "Zq9-secret"), ("id", ""), ("i d", "Zq9-secret"), ("id", "Zq9-sécret"), (1, "Zq9-secret")],
)
def test_credentials_are_checked_without_echoing_them(access_id: Any, access_secret: Any) -> None:
    with pytest.raises(ValidationError) as exc_info:
        LockCloud(access_id, access_secret)
    if isinstance(access_secret, str) and access_secret:
        assert access_secret not in str(exc_info.value)


# -- plain HTTP --------------------------------------------------------------------------------------------------


async def test_plain_http_to_another_host_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lockcloud._core.network, "_warned", set())
    with pytest.warns(InsecureTransportWarning, match="openapi.example.com"):
        first = LockCloud("id", "secret", base_url="http://openapi.example.com")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = LockCloud("id", "secret", base_url="http://openapi.example.com")
        for local in (
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:2",
            "http://sim.localhost",
        ):
            await LockCloud("id", "secret", base_url=local).aclose()
        await LockCloud("id", "secret", base_url="https://openapi.example.com").aclose()
    await first.aclose()
    await second.aclose()


# -- environment, logging, lifetime ------------------------------------------------------------------------------


async def test_from_env_reads_the_lockcloud_variables() -> None:
    env = {
        "LOCKCLOUD_ACCESS_ID": "env-id",
        "LOCKCLOUD_ACCESS_SECRET": "env-secret",
        "LOCKCLOUD_REGION": "us-east",
        "LOCKCLOUD_PULSAR_URL": "pulsar+ssl://push.example:7285/",
    }
    async with LockCloud.from_env(env) as cloud:
        assert cloud.access_id == "env-id"
        assert cloud.base_url == "https://openapi-ueaz.tuyaus.com"
        assert cloud.pulsar_url == "pulsar+ssl://push.example:7285/"
    async with LockCloud.from_env(
        {**env, "LOCKCLOUD_BASE_URL": "https://127.0.0.1:1"}, retry=RetryPolicy.never()
    ) as cloud:
        assert cloud.base_url == "https://127.0.0.1:1"


async def test_push_transport_picks_the_source_of_streams_opened_without_transport() -> None:
    from lockcloud.events import PulsarSource, WebSocketSource

    env = {"LOCKCLOUD_ACCESS_ID": "env-id", "LOCKCLOUD_ACCESS_SECRET": "env-secret"}
    async with LockCloud.from_env({**env, "LOCKCLOUD_PUSH_TRANSPORT": "websocket"}) as cloud:
        assert cloud.push_transport == "websocket"
        assert isinstance(cloud.events().source, WebSocketSource)
        assert isinstance(cloud.events(transport="pulsar").source, PulsarSource)
    async with LockCloud.from_env(env) as cloud:
        assert isinstance(cloud.events().source, PulsarSource)
    with pytest.raises(ValidationError, match="push_transport"):
        LockCloud("id", "secret", push_transport="mqtt")  # type: ignore[arg-type]


async def test_push_env_picks_the_topic_of_streams_opened_without_env() -> None:
    env = {"LOCKCLOUD_ACCESS_ID": "env-id", "LOCKCLOUD_ACCESS_SECRET": "env-secret"}
    async with LockCloud.from_env({**env, "LOCKCLOUD_PUSH_ENV": "event-test"}) as cloud:
        assert cloud.push_env == "event-test"
        assert "'env-id/out/event-test'" in cloud.events().source.description
        assert "'env-id/out/event'" in cloud.events(env="event").source.description
        assert "'env-id/out/event-test'" in cloud.events(transport="websocket").source.description
    async with LockCloud.from_env(env) as cloud:
        assert "'env-id/out/event'" in cloud.events().source.description
    with pytest.raises(ValidationError, match="push_env"):
        LockCloud("id", "secret", push_env="event/../x")


def test_from_env_names_what_is_missing() -> None:
    with pytest.raises(ValidationError, match="LOCKCLOUD_ACCESS_SECRET"):
        LockCloud.from_env({"LOCKCLOUD_ACCESS_ID": "x"})
    with pytest.raises(ValidationError, match="region"):
        LockCloud.from_env(
            {"LOCKCLOUD_ACCESS_ID": "x", "LOCKCLOUD_ACCESS_SECRET": "y", "LOCKCLOUD_REGION": "mars"}
        )


def test_the_lockcloud_logger_has_a_null_handler() -> None:
    assert any(isinstance(h, logging.NullHandler) for h in logging.getLogger("lockcloud").handlers)


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter: the suite's secret guard keeps every client alive until the test ends.
    return subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unclosed_client_that_owns_its_http_client_warns() -> None:
    result = _run_python(
        "import gc, lockcloud\ncloud = lockcloud.LockCloud('id', 'secret')\ndel cloud\ngc.collect()\n"
    )
    assert result.returncode == 0, result.stderr
    assert "ResourceWarning" in result.stderr
    assert "was never closed" in result.stderr
    assert "secret" not in result.stderr.replace("'secret')", "")  # only the constructor line of the source


def test_a_closed_or_borrowing_client_does_not_warn() -> None:
    code = (
        "import asyncio, gc, httpx, lockcloud\n"
        "async def main():\n"
        "    async with httpx.AsyncClient() as http:\n"
        "        borrowing = lockcloud.LockCloud('id', 'secret', http_client=http)\n"
        "        closed = lockcloud.LockCloud('id', 'secret')\n"
        "        await closed.aclose()\n"
        "        async with lockcloud.LockCloud('id', 'secret') as managed:\n"
        "            pass\n"
        "        del borrowing, closed, managed\n"
        "        gc.collect()\n"
        "asyncio.run(main())\n"
    )
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    assert "ResourceWarning" not in result.stderr


# -- per-call options, sealing a PIN ----------------------------------------------------------------------------


async def test_with_options_changes_the_retry_for_calls_through_it(server: Any, cloud: LockCloud) -> None:
    path = "/v1.0/devices/d1/door-lock/remote-unlocks"
    server.script(path, 1111, 1111)
    with pytest.raises(lockcloud.ServerError):
        await cloud.with_options(retry=RetryPolicy.never()).request("GET", path)
    assert len(server.business(path)) == 1
    assert (await cloud.request("GET", path))["path"] == path  # the original keeps its own policy
    with pytest.raises(ValidationError):
        cloud.with_options(timeout=math.nan)


async def test_with_options_view_shares_the_token_and_leaves_the_client_open(
    server: Any, cloud: LockCloud
) -> None:
    await cloud.request("GET", "/v1.0/a")
    view = cloud.with_options(timeout=2.0)
    await view.request("GET", "/v1.0/b")
    await view.aclose()
    assert server.token_calls == 1
    await cloud.request("GET", "/v1.0/c")


# -- TuyaAuth on its own ---------------------------------------------------------------------------------------


def test_tuya_auth_refuses_a_sync_client(consts: Any) -> None:
    auth = TuyaAuth(consts.ACCESS_ID, consts.ACCESS_SECRET, None, ServerClock())
    with (
        httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))) as client,
        pytest.raises(ValidationError, match="AsyncClient"),
    ):
        client.get("https://openapi.test/v1.0/token", auth=auth)


async def test_tuya_auth_signs_a_streamed_body_as_sent(consts: Any) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True, "result": {}})

    async def chunks() -> Any:
        yield b'{"a":'
        yield b"1}"

    auth = TuyaAuth(consts.ACCESS_ID, consts.ACCESS_SECRET, None, ServerClock())
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=auth) as client:
        await client.post("https://openapi.test/v1.0/token", content=chunks())
    [request] = seen
    assert request.content == b'{"a":1}'
    assert request.headers["sign"] == consts.reference_sign(consts.ACCESS_SECRET, request)


async def test_tuya_auth_heals_a_rejected_token_on_a_plain_client(
    server: Any, consts: Any, cloud: LockCloud
) -> None:
    # The manager is the client's; the flow itself does the healing, with no lockcloud transport around it.
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(server.handle), auth=cloud._transport._auth
    ) as http:
        first = await http.get(consts.BASE_URL + "/v1.0/x")
        assert first.json()["success"] is True
        server.expire_all()
        healed = await http.get(consts.BASE_URL + "/v1.0/y")
    assert healed.json()["success"] is True
    assert server.answers[1010] == 1
    assert len(server.business("/v1.0/y")) == 2
    stale, fresh = (r.headers["access_token"] for r in server.business("/v1.0/y"))
    assert stale != fresh

"""Every call a resource method makes is one of ``lockcloud._core.wire.ENDPOINTS``, the table the simulator routes by.

Resource modules spell their paths themselves (a path next to the method that sends it reads best), so this test
is what keeps them and the simulator's routes from drifting: every public method of ``cloud.unlock_methods`` and
``cloud.remote_unlock`` is driven over an ``httpx.MockTransport`` that records what was sent, and each OpenAPI
request must match exactly one endpoint template with the same HTTP method.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from lockcloud import LockCloud, RemoteUnlockType, RevokeReason, SpecialAttribute, UnlockType, UserType
from lockcloud._core.wire import ENDPOINTS, TOKEN_PATH, Endpoint
from lockcloud.crypto import encrypt_media, encrypt_ticket_key
from lockcloud.remote_unlock import RemoteUnlock
from lockcloud.unlock_methods import UnlockMethods

from support import ACCESS_ID, ACCESS_SECRET

API = "https://openapi.test"
STORAGE = "https://storage.test"
DEVICE = "6cdb36b2e489885fa57lzm"
USER = "user-1"
FILE_KEY = "u8kstrtjm7qun83q"
MEDIA = (f"{STORAGE}/cover.jpg?sig=x", FILE_KEY)


def _template_pattern(endpoint: Endpoint) -> re.Pattern[str]:
    # ``{name}`` stands for exactly one path segment.
    parts = re.split(r"\{\w+\}", endpoint.template)
    return re.compile("[^/]+".join(re.escape(part) for part in parts))


PATTERNS = [(endpoint, _template_pattern(endpoint)) for endpoint in ENDPOINTS]


def _answer(request: httpx.Request) -> httpx.Response:
    """A plausible answer for each kind of call: enough for every flow to run to its end."""
    if request.url.host != "openapi.test":
        return httpx.Response(200, content=encrypt_media(b"cover", FILE_KEY))
    path = request.url.path
    result: Any = True
    if path == TOKEN_PATH:
        result = {"access_token": "at-1", "refresh_token": "rt-1", "expire_time": 7200, "uid": "u"}
    elif path.endswith("/password-ticket"):
        result = {"ticket_id": "tk-1", "ticket_key": encrypt_ticket_key(b"k" * 16, ACCESS_SECRET)}
    elif path.endswith("/latest/media/url"):
        result = {"file_url": MEDIA[0], "file_key": FILE_KEY}
    elif path.endswith(("/remote-unlocks", "/assigned-keys", "/unassigned-keys")):
        result = []
    elif path.endswith("/albums-media"):
        result = {}
    return httpx.Response(200, json={"success": True, "t": 1_700_000_000_000, "result": result, "tid": "t"})


Drive = Callable[[LockCloud, Path], Awaitable[object]]

# Each public method, every variant that changes what goes on the wire (another path, a query, a ticket call).
UNLOCK_METHODS: dict[str, list[Drive]] = {
    "list_assigned": [
        lambda c, _: c.unlock_methods.list_assigned(DEVICE, USER, UserType.HOME_USER),
        lambda c, _: c.unlock_methods.list_assigned(
            DEVICE, USER, UserType.NON_HOME_USER, unlock_type=UnlockType.CARD
        ),
    ],
    "list_unassigned": [
        lambda c, _: c.unlock_methods.list_unassigned(DEVICE),
        lambda c, _: c.unlock_methods.list_unassigned(DEVICE, unlock_type=UnlockType.FINGERPRINT),
    ],
    "sync": [
        lambda c, _: c.unlock_methods.sync(DEVICE),
        lambda c, _: c.unlock_methods.sync(DEVICE, [UnlockType.FINGERPRINT, UnlockType.CARD]),
    ],
    "enroll": [
        lambda c, _: c.unlock_methods.enroll(DEVICE, USER, UserType.HOME_USER, UnlockType.FINGERPRINT),
        lambda c, _: c.unlock_methods.enroll(
            DEVICE, USER, UserType.HOME_USER, UnlockType.PASSWORD, pin="123456"
        ),
    ],
    "delete": [
        lambda c, _: c.unlock_methods.delete(DEVICE, USER, UserType.HOME_USER, UnlockType.FINGERPRINT, 3)
    ],
    "cancel_enrollment": [lambda c, _: c.unlock_methods.cancel_enrollment(DEVICE, UnlockType.FINGERPRINT)],
    "rename": [lambda c, _: c.unlock_methods.rename(DEVICE, 7, UnlockType.FINGERPRINT, "left thumb")],
    "set_duress_alarm": [lambda c, _: c.unlock_methods.set_duress_alarm(DEVICE, UnlockType.FINGERPRINT, 3)],
    "remove_duress_alarm": [
        lambda c, _: c.unlock_methods.remove_duress_alarm(DEVICE, UnlockType.FINGERPRINT, 7)
    ],
    "set_special_attribute": [
        lambda c, _: c.unlock_methods.set_special_attribute(DEVICE, 12, SpecialAttribute.PHOTO_CAPTURE, True)
    ],
}
REMOTE_UNLOCK: dict[str, list[Drive]] = {
    "list_methods": [lambda c, _: c.remote_unlock.list_methods(DEVICE)],
    "set_method_enabled": [
        lambda c, _: c.remote_unlock.set_method_enabled(DEVICE, RemoteUnlockType.WITH_PASSWORD, True)
    ],
    "get_password_ticket": [lambda c, _: c.remote_unlock.get_password_ticket(DEVICE)],
    "open_door_with_ticket": [
        lambda c, _: c.remote_unlock.open_door_with_ticket(DEVICE, ticket_id="tk-1", password="AB" * 16)
    ],
    "open_door_password_free": [
        lambda c, _: c.remote_unlock.open_door_password_free(DEVICE, ticket_id="tk-1"),
        lambda c, _: c.remote_unlock.open_door_password_free(DEVICE, ticket_id="tk-1", channel_id=2),
    ],
    "door_operate": [
        lambda c, _: c.remote_unlock.door_operate(DEVICE, ticket_id="tk-1", open=True),
        lambda c, _: c.remote_unlock.door_operate(DEVICE, ticket_id="tk-1", open=False),
    ],
    "revoke": [lambda c, _: c.remote_unlock.revoke(DEVICE, RevokeReason.CANCEL)],
    "open_door": [lambda c, _: c.remote_unlock.open_door(DEVICE, pin="123456")],
    "open_door_without_password": [
        lambda c, _: c.remote_unlock.open_door_without_password(DEVICE),
        lambda c, _: c.remote_unlock.open_door_without_password(DEVICE, channel_id=2),
    ],
    "operate_door": [
        lambda c, _: c.remote_unlock.operate_door(DEVICE, open=True),
        lambda c, _: c.remote_unlock.operate_door(DEVICE, open=False),
    ],
    "unlock": [lambda c, _: c.remote_unlock.unlock(DEVICE)],
    "lock": [lambda c, _: c.remote_unlock.lock(DEVICE)],
    "latest_media": [lambda c, _: c.remote_unlock.latest_media(DEVICE)],
    "albums": [lambda c, _: c.remote_unlock.albums(DEVICE)],
    # Not OpenAPI calls: these fetch the storage URL, which must be the only host they talk to.
    "download_media": [lambda c, _: c.remote_unlock.download_media(MEDIA)],
    "download_media_to": [lambda c, tmp: c.remote_unlock.download_media_to(tmp / "cover.jpg", MEDIA)],
}
STORAGE_ONLY = {"download_media", "download_media_to"}
DRIVERS = [
    pytest.param(name, drive, id=f"{name}[{index}]")
    for table in (UNLOCK_METHODS, REMOTE_UNLOCK)
    for name, drives in table.items()
    for index, drive in enumerate(drives)
]


def _public_methods(resource: type) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(resource, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }


def _matching(request: httpx.Request) -> list[Endpoint]:
    return [
        endpoint
        for endpoint, pattern in PATTERNS
        if endpoint.method == request.method and pattern.fullmatch(request.url.path)
    ]


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return _answer(request)

    def business(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == "openapi.test" and r.url.path != TOKEN_PATH]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def cloud(recorder: Recorder) -> AsyncIterator[LockCloud]:
    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http,
        LockCloud(ACCESS_ID, ACCESS_SECRET, base_url=API, http_client=http) as client,
    ):
        yield client


def test_every_public_resource_method_is_driven() -> None:
    # A method added to a resource without a line here would escape the check below.
    assert _public_methods(UnlockMethods) == set(UNLOCK_METHODS)
    assert _public_methods(RemoteUnlock) == set(REMOTE_UNLOCK)


@pytest.mark.parametrize(("name", "drive"), DRIVERS)
async def test_each_call_is_exactly_one_wire_endpoint(
    cloud: LockCloud, recorder: Recorder, tmp_path: Path, name: str, drive: Drive
) -> None:
    await drive(cloud, tmp_path)
    business = recorder.business()
    if name in STORAGE_ONLY:
        assert business == []
        assert [r.url.host for r in recorder.requests] == ["storage.test"]
        return
    assert business, f"{name} sent no OpenAPI call"
    for request in business:
        matches = _matching(request)
        assert len(matches) == 1, f"{name}: {request.method} {request.url.path} matches {matches}"
    for request in recorder.requests:
        if request.url.path == TOKEN_PATH:
            assert [e.action for e in _matching(request)] == ["token"]


async def test_every_lock_endpoint_is_reached_by_some_method(tmp_path: Path) -> None:
    """The other direction: an endpoint in the table that no method calls is a route only the simulator knows."""
    reached: set[Endpoint] = set()
    for index, param in enumerate(DRIVERS):
        recorder = Recorder()
        _, drive = param.values
        async with (
            httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http,
            LockCloud(ACCESS_ID, ACCESS_SECRET, base_url=API, http_client=http) as cloud,
        ):
            await _run(drive, cloud, tmp_path, index)
        for request in recorder.requests:
            reached.update(_matching(request))
    unreached = {(e.action, e.method, e.template) for e in ENDPOINTS if e not in reached}
    assert unreached == {
        # A refresh happens only once a token nears expiry.
        ("refresh_token", "GET", TOKEN_PATH + "/{refresh_token}"),
        # The ticket at the door-lock path is served for peers that use it; lockcloud asks the smart-lock one.
        ("password_ticket", "POST", "/v1.0/devices/{device_id}/door-lock/password-ticket"),
    }


async def _run(drive: Drive, cloud: LockCloud, tmp_path: Path, index: int) -> None:
    folder = tmp_path / str(index)
    folder.mkdir()
    await drive(cloud, folder)

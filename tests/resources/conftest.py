"""A ``LockCloud`` against ``https://openapi.test`` with a respx router that already answers the token call.

Tests run with ``--import-mode=importlib``, where a test module cannot import this conftest, so the helpers reach
tests through the ``wire`` fixture (the :class:`Wire` namespace).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from lockcloud._client import LockCloud

from support import FAST_RETRY

BASE_URL = "https://openapi.test"
# The Tuya documentation's project (its access id and secret), not the suite's shared one: the ticket vectors of
# its password-ticket page, which the tests here decrypt, are sealed with this secret.
ACCESS_ID = "1KAD46OrT9HafiKdsXeg"
ACCESS_SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC"


class Wire:
    """Envelopes to answer with and ways to read what the client sent."""

    BASE_URL = BASE_URL
    ACCESS_ID = ACCESS_ID
    ACCESS_SECRET = ACCESS_SECRET

    @staticmethod
    def ok(result: Any = True) -> dict[str, Any]:
        return {"success": True, "t": int(time.time() * 1000), "result": result, "tid": "tid-ok"}

    @staticmethod
    def failure(code: int, msg: str = "failed") -> dict[str, Any]:
        return {"success": False, "t": int(time.time() * 1000), "code": code, "msg": msg, "tid": "tid-failed"}

    @staticmethod
    def sent_json(route: respx.Route) -> Any:
        """The JSON body of the route's last request (None when it had no body)."""
        content = route.calls.last.request.content
        return json.loads(content) if content else None

    @staticmethod
    def sent_query(route: respx.Route) -> dict[str, str]:
        return dict(route.calls.last.request.url.params)

    @staticmethod
    def business_calls(router: respx.MockRouter) -> list[httpx.Request]:
        """Every request the router saw except token calls."""
        return [call.request for call in router.calls if not call.request.url.path.startswith("/v1.0/token")]


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        router.get("/v1.0/token", params={"grant_type": "1"}, name="token").respond(
            json=Wire.ok({"access_token": "at", "refresh_token": "rt", "expire_time": 7200, "uid": "u"})
        )
        yield router


@pytest.fixture
async def cloud(api: respx.MockRouter) -> AsyncIterator[LockCloud]:
    # respx intercepts httpx's own transport, not the aiohttp one lockcloud uses by default.
    async with (
        httpx.AsyncClient() as http,
        LockCloud(ACCESS_ID, ACCESS_SECRET, base_url=BASE_URL, retry=FAST_RETRY, http_client=http) as client,
    ):
        yield client


@pytest.fixture
def wire() -> type[Wire]:
    return Wire

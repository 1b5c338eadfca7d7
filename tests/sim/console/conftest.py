"""Fixtures for the console tests: ``page``, an HTTP client that talks to the console of ``server`` (the demo
simulator served over loopback, from the simulator tests' conftest) as its page does (same origin, the per-run
token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest_asyncio

from lockcloud.sim import SimServer
from lockcloud.sim.console._server import TOKEN_HEADER


class Page:
    """What the console's page does over HTTP: read the snapshot, post actions."""

    def __init__(self, server: SimServer, http: httpx.AsyncClient) -> None:
        assert server.console_url is not None
        self.server = server
        self.http = http
        self.url = server.console_url
        self.token = parse_qs(urlsplit(self.url).query)["token"][0]
        self.origin = server.base_url

    async def state(self) -> dict[str, Any]:
        response = await self.http.get("/console/api/state", headers={TOKEN_HEADER: self.token})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def act(self, expect: int = 200, **fields: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/console/api/actions",
            json=fields,
            headers={TOKEN_HEADER: self.token, "origin": self.origin},
        )
        assert response.status_code == expect, response.text
        body: dict[str, Any] = response.json()
        return body

    def lock(self, state: dict[str, Any], device_id: str) -> dict[str, Any]:
        found: dict[str, Any] = next(lock for lock in state["locks"] if lock["device_id"] == device_id)
        return found


@pytest_asyncio.fixture
async def page(server: SimServer) -> AsyncIterator[Page]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        yield Page(server, http)

"""Fixtures for the simulator tests.

Tests run with ``--import-mode=importlib``, so helpers reach them through fixtures: ``sim`` is a new simulator,
``server`` one served over loopback, ``cloud`` a client of ``sim``; ``raw`` sends hand-signed requests (signed with
:mod:`lockcloud._core.auth`, the project's one signer) into the simulator in-process, so each test controls every
header. The console tests below (``console/``) use these too.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from lockcloud._client import LockCloud
from lockcloud._core.signing import canonical_url, compute_sign, is_token_path, string_to_sign
from lockcloud.sim import SimServer, Simulator

from support import FAST_RETRY


class Raw:
    """Hand-made signed requests against one simulator."""

    def __init__(self, sim: Simulator, http: httpx.AsyncClient) -> None:
        self.sim = sim
        self.http = http
        self.access_token = ""

    def headers(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes = b"",
        access_token: str | None = None,
        t: int | None = None,
        secret: str | None = None,
        client_id: str | None = None,
        nonce: str = "",
        extra: dict[str, str] | None = None,
        signed_headers: str = "",
    ) -> dict[str, str]:
        token = "" if is_token_path(path) else (self.access_token if access_token is None else access_token)
        stamp = str(t if t is not None else int(time.time() * 1000))
        ident = client_id if client_id is not None else self.sim.access_id
        to_sign = string_to_sign(method, body, canonical_url(path, params), signed_headers)
        sign = compute_sign(
            secret if secret is not None else self.sim.access_secret,
            ident,
            stamp,
            to_sign,
            access_token=token,
            nonce=nonce,
        )
        headers = {"client_id": ident, "t": stamp, "sign": sign, "sign_method": "HMAC-SHA256"}
        if token:
            headers["access_token"] = token
        if nonce:
            headers["nonce"] = nonce
        headers.update(extra or {})
        return headers

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        **sign_options: Any,
    ) -> dict[str, Any]:
        body = b"" if json_body is None else json.dumps(json_body).encode()
        sent = (
            headers
            if headers is not None
            else self.headers(method, path, params=params, body=body, **sign_options)
        )
        response = await self.http.request(method, path, params=params, content=body, headers=sent)
        assert response.status_code == 200
        envelope: dict[str, Any] = response.json()
        return envelope

    async def login(self) -> str:
        envelope = await self.send("GET", "/v1.0/token", params={"grant_type": "1"})
        assert envelope["success"], envelope
        self.access_token = envelope["result"]["access_token"]
        return self.access_token


@pytest.fixture
def sim(lockcloud_sim: Simulator) -> Simulator:
    """A new simulator with the demo world (lockcloud.testing's, so ``@pytest.mark.lockcloud_sim`` applies)."""
    return lockcloud_sim


@pytest.fixture
def server(lockcloud_server: SimServer) -> SimServer:
    """The demo simulator served over loopback, pushing to the session's broker (lockcloud.testing's, so
    ``@pytest.mark.lockcloud_sim`` applies)."""
    return lockcloud_server


@pytest.fixture
async def raw(sim: Simulator) -> AsyncIterator[Raw]:
    async with sim.http_client() as http:
        yield Raw(sim, http)


@pytest.fixture
async def cloud(sim: Simulator) -> AsyncIterator[LockCloud]:
    async with sim.client(retry=FAST_RETRY) as client:
        yield client

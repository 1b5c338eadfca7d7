"""A token endpoint for the store tests: refreshes retire the old pair, as Tuya's do; every call is counted."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping
from typing import Any

import pytest

from lockcloud._core.wire import TOKEN_PATH


class TokenEndpoint:
    """``fetch(path, params)`` for a :class:`~lockcloud._core.tokens.TokenManager`, with a small round trip."""

    def __init__(self, round_trip: float = 0.005) -> None:
        self.round_trip = round_trip
        self.grants = 0
        self.refreshes = 0
        self.failed_refreshes = 0
        self.live_refresh: set[str] = set()

    @property
    def calls(self) -> int:
        return self.grants + self.refreshes + self.failed_refreshes

    async def __call__(self, path: str, params: Mapping[str, str] | None) -> tuple[Any, Any]:
        await asyncio.sleep(self.round_trip)
        if path != TOKEN_PATH:
            refresh = path.removeprefix(TOKEN_PATH + "/")
            if refresh not in self.live_refresh:
                self.failed_refreshes += 1
                from lockcloud import TokenError

                raise TokenError(1012, "refresh token invalid", method="GET", path=TOKEN_PATH)
            self.live_refresh.discard(refresh)
            self.refreshes += 1
        else:
            self.grants += 1
        refresh_token = "rt" + secrets.token_hex(12)
        self.live_refresh.add(refresh_token)
        result = {
            "access_token": "at" + secrets.token_hex(12),
            "refresh_token": refresh_token,
            "expire_time": 7200,
            "uid": "u",
        }
        return result, int(time.time() * 1000)


@pytest.fixture
def endpoint() -> TokenEndpoint:
    return TokenEndpoint()

"""A token read back from a store is checked like an answer from the network, never pasted into a header or URL.

Whatever a file (or any store) hands back — an access token that is not printable ASCII, a refresh token that
would walk the refresh URL to another endpoint, an expiry centuries away — is counted, warned about (without the
value), treated as absent and replaced by a fresh grant.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockcloud import FileTokenStore, MemoryTokenStore, Token
from lockcloud._core.clock import ServerClock
from lockcloud._core.tokens import TokenManager
from lockcloud._core.wire import TOKEN_PATH


class Endpoint:
    """Grants and refreshes, recording every path asked for."""

    def __init__(self, refresh_token: str | None = None) -> None:
        self.paths: list[str] = []
        self.refresh_token = refresh_token

    async def __call__(self, path: str, params: Mapping[str, str] | None) -> tuple[Any, Any]:
        self.paths.append(path)
        refresh = self.refresh_token if self.refresh_token is not None else "rt" + secrets.token_hex(16)
        result = {
            "access_token": "at" + secrets.token_hex(16),
            "refresh_token": refresh,
            "expire_time": 7200,
            "uid": "u",
        }
        return result, int(time.time() * 1000)


def _stored(**changes: Any) -> dict[str, Any]:
    token = {
        "access_token": "a1" + secrets.token_hex(15),
        "refresh_token": "r1" + secrets.token_hex(15),
        "expires_at": time.time() + 3600,
        "uid": "u",
    }
    token.update(changes)
    return token


POISONED_FILES = {
    "access-non-ascii": _stored(access_token="tökenvalue0123456789"),
    "access-header-injection": _stored(access_token="abc\r\nX-Injected: 1"),
    "access-with-space": _stored(access_token="abc def"),
    "access-huge": _stored(access_token="a" * 100_000),
    "refresh-path-walk": _stored(refresh_token="../../v1.0/devices/lock-1/door-lock/remote-unlocks"),
    "refresh-slash": _stored(refresh_token="abc/def"),
    "refresh-query": _stored(refresh_token="abc?grant_type=1"),
    "expiry-negative": _stored(expires_at=-5),
    "uid-huge": _stored(uid="u" * 10_000),
}


@pytest.mark.parametrize("data", POISONED_FILES.values(), ids=POISONED_FILES.keys())
async def test_a_poisoned_token_file_is_absent_counted_warned_and_replaced(
    data: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "token.json"
    path.write_text(json.dumps(data))
    store = FileTokenStore(path)
    endpoint = Endpoint()
    manager = TokenManager(endpoint, ServerClock(), store=store)
    with caplog.at_level(logging.WARNING, logger="lockcloud.auth"):
        token = await manager.get()
    # A fresh grant, never a refresh built from the stored value.
    assert endpoint.paths == [TOKEN_PATH]
    assert token.access_token != data["access_token"]
    assert store.rejected >= 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("ignoring unreadable token file" in text for text in warnings)
    for text in warnings:
        assert data["access_token"][:20] not in text
        assert data["refresh_token"][:20] not in text
    # Replaced on disk by the fresh token.
    assert json.loads(path.read_text())["access_token"] == token.access_token


async def test_an_oversized_token_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_text(json.dumps(_stored(uid="u" * 200)) + " " * 1_000_000)
    store = FileTokenStore(path)
    assert await store.load() is None
    assert store.rejected == 1


class PlantedStore(MemoryTokenStore):
    """A store of the user's own that hands back whatever was planted in it, unchecked."""


@pytest.mark.parametrize(
    "planted",
    [
        Token("tökenvalue0123456789", "r" + "1" * 31, time.time() + 3600),
        Token("a" * 32, "../../v1.0/iot-03/devices", time.time() - 10),
        Token("a" * 32, "r" * 32, time.time() + 3600 * 24 * 365 * 200),
        Token("a" * 32, "r" * 32, float("inf")),
    ],
    ids=["access-non-ascii", "refresh-path-walk-expired", "expiry-in-200-years", "expiry-infinite"],
)
async def test_any_store_s_token_is_checked_by_the_manager(
    planted: Token, caplog: pytest.LogCaptureFixture
) -> None:
    store = PlantedStore(planted)
    endpoint = Endpoint()
    manager = TokenManager(endpoint, ServerClock(), store=store)
    with caplog.at_level(logging.WARNING, logger="lockcloud.auth"):
        token = await manager.get()
    assert endpoint.paths == [TOKEN_PATH]
    assert token is not planted
    assert manager.rejected_stored >= 1
    assert any("ignoring the token in the store" in r.getMessage() for r in caplog.records)
    # The store now holds the fresh token.
    assert await store.load() == token


async def test_a_refresh_token_from_the_server_that_would_break_the_url_is_not_kept() -> None:
    endpoint = Endpoint(refresh_token="../../v1.0/devices/x")
    clock = ServerClock()
    manager = TokenManager(endpoint, clock, store=MemoryTokenStore())
    first = await manager.get()
    assert first.refresh_token == ""
    await manager.heal(first)
    # The renewal was a grant: the refresh URL never carried the server's value.
    assert endpoint.paths == [TOKEN_PATH, TOKEN_PATH]


async def test_a_good_refresh_token_is_still_used(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    refresh = "r1" + secrets.token_hex(15)
    path.write_text(json.dumps(_stored(refresh_token=refresh, expires_at=time.time() + 30)))
    endpoint = Endpoint()
    manager = TokenManager(endpoint, ServerClock(), store=FileTokenStore(path))
    await manager.get()
    assert endpoint.paths == [f"{TOKEN_PATH}/{refresh}"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "access_token": _JSON | st.text(min_size=1, max_size=80),
        "refresh_token": _JSON | st.text(max_size=80),
        "expires_at": _JSON | st.floats(min_value=-1e12, max_value=1e12),
        "uid": _JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(data=_FIELDS | _JSON)
def test_whatever_a_store_holds_is_a_usable_token_or_refused(data: Any) -> None:
    from lockcloud import ValidationError
    from lockcloud._core.tokens import is_header_safe, is_path_safe

    try:
        token = Token.from_dict(data)
    except ValidationError:
        return
    assert is_header_safe(token.access_token)
    assert token.refresh_token == "" or is_path_safe(token.refresh_token)
    assert "/" not in token.refresh_token
    assert "." not in token.refresh_token

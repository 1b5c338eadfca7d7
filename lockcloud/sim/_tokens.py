"""Access tokens: the grant and refresh calls, and the check every business call passes.

A refresh token works once, and refreshing retires both halves of the old pair. Tokens expire on the simulated
clock (``faults.token_lifetime`` seconds after issue).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lockcloud.sim._call import fail
from lockcloud.sim._model import SimToken

if TYPE_CHECKING:
    from lockcloud.sim._world import World

__all__ = ["check_token", "grant_token", "refresh_token"]


def grant_token(world: World, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET /v1.0/token?grant_type=1``."""
    grant_type = query.get("grant_type")
    if not grant_type:
        raise fail(1100, "grant_type is required")
    if grant_type != "1":
        raise fail(1109, "grant_type must be 1")
    if world.faults.grant_replaces_token:
        # The strictest reading of Tuya: a new grant retires every token the project had.
        world.tokens.clear()
        world.refresh_tokens.clear()
    return _issue(world)


def refresh_token(world: World, refresh_token: str) -> dict[str, Any]:
    """``GET /v1.0/token/{refresh_token}``."""
    old = world.refresh_tokens.pop(refresh_token, None)
    if old is None:
        raise fail(1012, "unknown or already used refresh token")
    world.tokens.pop(old.access_token, None)
    return _issue(world)


def check_token(world: World, access_token: str) -> None:
    """Raise 1002 for a missing token, 1010 for an unknown or expired one."""
    if not access_token:
        raise fail(1002)
    token = world.tokens.get(access_token)
    if token is None:
        raise fail(1010)
    if token.expires_at <= world.now():
        raise fail(1010, "token expired")


def _issue(world: World) -> dict[str, Any]:
    lifetime = world.faults.token_lifetime
    token = SimToken(
        access_token=secrets.token_hex(16),
        refresh_token=secrets.token_hex(16),
        expires_at=world.now() + lifetime,
        uid=world.uid,
    )
    world.tokens[token.access_token] = token
    world.refresh_tokens[token.refresh_token] = token
    return {
        "access_token": token.access_token,
        "refresh_token": token.refresh_token,
        "expire_time": lifetime,
        "uid": token.uid,
    }

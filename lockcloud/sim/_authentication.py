"""How the simulated cloud authenticates a request, exactly as Tuya does, in this order (the first failure answers):

1. ``client_id``, ``sign`` and ``t`` headers present, else 1105;
2. ``client_id`` is this project's access id, else 1005;
3. ``t`` within ``faults.max_clock_skew`` of the simulated clock, else 1013;
4. business calls: an ``access_token`` header (1002) naming a live token (1010 unknown or expired);
5. the signature, computed with :mod:`lockcloud._core.auth` over the exact bytes received, else 1004.

Routing comes after (:func:`lockcloud.sim._routes.pick_route`): an unknown API is answered 1108 only to a caller
who signed correctly.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from lockcloud._core.signing import (
    canonical_url,
    compute_sign,
    is_token_path,
    signed_headers_string,
    string_to_sign,
)
from lockcloud._core.wire import (
    ACCESS_TOKEN_HEADER,
    CLIENT_ID_HEADER,
    NONCE_HEADER,
    SIGN_HEADER,
    SIGN_METHOD,
    SIGN_METHOD_HEADER,
    TIME_HEADER,
)
from lockcloud.sim._call import fail

if TYPE_CHECKING:
    from lockcloud.sim._app import Request
    from lockcloud.sim._world import World

__all__ = ["authenticate"]

_REQUIRED_HEADERS = (CLIENT_ID_HEADER, SIGN_HEADER, TIME_HEADER)


def authenticate(world: World, request: Request) -> None:
    """Raise the APIError Tuya would answer ``request`` with, or return if it is signed by this project."""
    headers = request.headers
    for name in _REQUIRED_HEADERS:
        if not headers.get(name):
            raise fail(1105, f"header {name} is missing")
    client_id = headers[CLIENT_ID_HEADER]
    if client_id != world.access_id:
        raise fail(1005)
    t = headers[TIME_HEADER]
    if not t.isdigit() or abs(int(t) - world.now_ms()) > world.faults.max_clock_skew * 1000:
        raise fail(1013)
    sign_method = headers.get(SIGN_METHOD_HEADER, SIGN_METHOD)
    if sign_method.upper() != SIGN_METHOD:
        raise fail(1004, f"sign_method {sign_method!r} is not supported")
    access_token = ""
    if not is_token_path(request.path):
        access_token = headers.get(ACCESS_TOKEN_HEADER, "")
        world.check_token(access_token)
    to_sign = string_to_sign(
        request.method,
        request.body,
        canonical_url(request.path, request.query),
        signed_headers_string(headers),
    )
    expected = compute_sign(
        world.access_secret,
        client_id,
        t,
        to_sign,
        access_token=access_token,
        nonce=headers.get(NONCE_HEADER, ""),
    )
    if not secrets.compare_digest(expected, headers[SIGN_HEADER]):
        raise fail(1004)

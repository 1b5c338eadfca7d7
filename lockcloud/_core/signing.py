"""Request signing: Tuya's HMAC-SHA256 over the method, the body's SHA-256, signed headers and the canonical URL.

Token calls (grant and refresh) are signed without an access token; every other call with one.
"""

from __future__ import annotations

import hashlib
import hmac
import operator
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from lockcloud._core.wire import SIGNATURE_HEADERS_HEADER, TOKEN_PATH

__all__ = [
    "EMPTY_BODY_SHA256",
    "canonical_url",
    "compute_sign",
    "is_token_path",
    "signed_headers_string",
    "string_to_sign",
]

EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
_by_key = operator.itemgetter(0)


def is_token_path(path: str) -> bool:
    """Grant (``/v1.0/token``) and refresh (``/v1.0/token/{refresh_token}``) calls are signed without a token."""
    return path == TOKEN_PATH or path.startswith(TOKEN_PATH + "/")


def canonical_url(path: str, params: Iterable[tuple[str, str]] | Mapping[str, Any] | None = None) -> str:
    """The URL part of the string to sign: path, then ``?k=v&...`` sorted by key with un-encoded values."""
    if not params:
        return path
    items = params.items() if isinstance(params, Mapping) else params
    query = "&".join([f"{key}={value}" for key, value in sorted(items, key=_by_key)])
    return f"{path}?{query}"


def string_to_sign(method: str, body: bytes, url: str, signed_headers: str = "") -> str:
    """``METHOD\\nsha256(body)\\nsigned_headers\\nurl`` exactly as Tuya builds it."""
    body_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256
    return f"{method.upper()}\n{body_hash}\n{signed_headers}\n{url}"


def compute_sign(
    secret: str,
    client_id: str,
    t: str,
    string_to_sign: str,
    *,
    access_token: str = "",
    nonce: str = "",
) -> str:
    """Upper-case hex HMAC-SHA256 of ``client_id + access_token + t + nonce + stringToSign``."""
    message = f"{client_id}{access_token}{t}{nonce}{string_to_sign}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest().upper()


def signed_headers_string(headers: httpx.Headers | Mapping[str, str]) -> str:
    """``k:v\\n`` for each header named in ``Signature-Headers`` (colon-separated), in that order."""
    names = headers.get(SIGNATURE_HEADERS_HEADER, "")
    if not names:
        return ""
    return "".join(f"{name}:{headers.get(name, '')}\n" for name in names.split(":") if name)

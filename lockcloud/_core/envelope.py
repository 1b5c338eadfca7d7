"""The Tuya envelope: ``{success, t, result, code, msg, tid}``, read once under a size cap and decoded once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from lockcloud._core.errors import ResponseTooLargeError

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "NOT_JSON",
    "decode_json",
    "envelope_code",
    "read_capped",
    "read_envelope",
]

#: Largest response body read from the OpenAPI; lock results are a few kilobytes.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024

# Response extension: the decoded JSON body, read once (under the size cap) by the auth flow.
ENVELOPE_EXTENSION = "lockcloud.envelope"
#: What :func:`decode_json` returns for a body that is not JSON.
NOT_JSON = object()
_DECODER = json.JSONDecoder()


class _CappedStream(httpx.AsyncByteStream):
    """A response body that refuses to grow past ``limit`` bytes, however slowly or quickly it arrives."""

    def __init__(self, stream: httpx.AsyncByteStream, limit: int, method: str, path: str) -> None:
        self._stream = stream
        self._limit = limit
        self._method = method
        self._path = path

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self._stream:
            received += len(chunk)
            if received > self._limit:
                raise ResponseTooLargeError(method=self._method, path=self._path, limit=self._limit)
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


async def read_envelope(response: httpx.Response, limit: int) -> Any:
    """Read the body (at most ``limit`` bytes) and decode it as JSON once; ``NOT_JSON`` when it is not.

    The result is kept in ``response.extensions`` and ``response.content`` stays readable.
    """
    if ENVELOPE_EXTENSION in response.extensions:
        return response.extensions[ENVELOPE_EXTENSION]
    envelope = decode_json(await read_capped(response, limit))
    response.extensions[ENVELOPE_EXTENSION] = envelope
    return envelope


async def read_capped(response: httpx.Response, limit: int, *, shown: str | None = None) -> bytes:
    """The body of a streamed ``response``, refused with :class:`ResponseTooLargeError` past ``limit`` bytes
    (declared or received). ``shown`` is the redacted path for the error (the request's own path otherwise)."""
    request = response.request
    path = request.url.path if shown is None else shown
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and len(declared) < 20 and int(declared) > limit:
        await response.aclose()
        raise ResponseTooLargeError(method=request.method, path=path, limit=limit)
    try:
        content = response.content
    except httpx.ResponseNotRead:
        stream = response.stream
        if isinstance(stream, httpx.AsyncByteStream):
            response.stream = _CappedStream(stream, limit, request.method, path)
        content = await response.aread()
    if len(content) > limit:
        raise ResponseTooLargeError(method=request.method, path=path, limit=limit)
    return content


def decode_json(content: bytes) -> Any:
    """The decoded body, or ``NOT_JSON``."""
    try:
        if content.startswith(b'{"'):
            # What json.loads(bytes) would do for a body that starts so (it can only be UTF-8), minus its
            # encoding detection: every Tuya envelope takes this way.
            return _DECODER.decode(content.decode("utf-8", "surrogatepass"))
        return json.loads(content) if content else NOT_JSON
    except (ValueError, RecursionError):
        # RecursionError: JSON nested deeper than the parser's stack; as unreadable as any other garbage.
        return NOT_JSON


def envelope_code(envelope: Any) -> int | None:
    """The error code of a failed Tuya envelope (None for a success or something that is not an envelope)."""
    if not isinstance(envelope, dict) or envelope.get("success") is not False:
        return None
    code = envelope.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if isinstance(code, str) and code.isascii() and code.isdigit() and len(code) < 12:
        return int(code)
    return -1

"""Unsigned downloads from Tuya's storage (media files): bounded in size and in total time, never retried."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx

from lockcloud._core.classify import NEVER_SENT
from lockcloud._core.errors import (
    ConnectError,
    MediaDownloadTimeoutError,
    MediaTooLargeError,
    RequestTimeoutError,
    TransportError,
    UnexpectedResponseError,
)

__all__ = ["download"]


async def download(
    client: httpx.AsyncClient,
    url: str,
    limit: int,
    sink: Callable[[bytes], Awaitable[None]],
    *,
    time_limit: float,
) -> None:
    """Stream an unsigned GET (a media file in Tuya's storage) into ``sink``: at most ``limit`` bytes, and done
    within ``time_limit`` seconds in total (httpx's own limits are per read, which a slow drip never trips).

    Not retried: a download is cheap to ask for again, and the caller decides. Only scheme, host and path go into
    errors, and the httpx exception is not chained: storage URLs may carry signed credentials in the query.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    # No user info either: only where the file lives, not how the URL authenticates.
    shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
    failure: httpx.TransportError | None = None
    budget = asyncio.timeout(time_limit)
    out_of_time = False
    try:
        async with budget, client.stream("GET", url) as response:
            if response.status_code != 200:
                body = await response.aread()
                raise UnexpectedResponseError(
                    f"media download answered HTTP {response.status_code}",
                    method="GET",
                    path=shown,
                    status_code=response.status_code,
                    body=body[:2048],
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise MediaTooLargeError(path=shown, limit=limit)
            received = 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > limit:
                    raise MediaTooLargeError(path=shown, limit=limit)
                await sink(chunk)
    except httpx.TransportError as exc:
        failure = exc
    except TimeoutError:
        if not budget.expired():
            raise
        out_of_time = True
    # Raised outside the except blocks: a chained exception would carry the request and its signed URL.
    if out_of_time:
        raise MediaDownloadTimeoutError(path=shown, host=host, timeout=time_limit)
    if failure is not None:
        reason = type(failure).__name__
        if isinstance(failure, NEVER_SENT):
            raise ConnectError(f"could not connect ({reason})", method="GET", path=shown)
        if isinstance(failure, httpx.TimeoutException):
            raise RequestTimeoutError(f"media download timed out ({reason})", method="GET", path=shown)
        raise TransportError(f"media download failed ({reason})", method="GET", path=shown)

"""One request and its answer on a wire: the interface the transport sends every REST call through.

:class:`Exchange` is what a wire must do, and all it must do: put a request that is already signed, with an
already-encoded URL, on the network and bring back ``(status, body)``, the body read under a size cap, failures
raised as httpx exceptions (``ConnectError`` / ``ConnectTimeout`` only when nothing left, so that an unsafe call is
never replayed on a misleading name). Signing, the healing conversation, the envelope and every retry decision stay
above it, in :mod:`lockcloud._core.transport`, whichever wire carries the call:

* :class:`HttpxExchange` sends through any ``httpx.AsyncClient`` (a user's own: its transport, proxies, event
  hooks and timeouts apply; ``respx`` sees the calls);
* ``AiohttpTransport`` (:mod:`lockcloud._core.aiohttp_pool`), the client's own pool, implements it directly
  without building httpx objects.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from lockcloud._core.envelope import read_capped
from lockcloud._core.errors import ValidationError

__all__ = ["Exchange", "HttpxExchange"]


class Exchange(Protocol):
    """Sends one signed request and returns ``(status, body)``; see the module docstring."""

    async def exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        *,
        limit: int,
        shown: str,
        phases: httpx.Timeout,
    ) -> tuple[int, bytes]: ...


class HttpxExchange:
    """:class:`Exchange` over an ``httpx.AsyncClient``: the client's headers and timeouts apply, no auth is added
    (the request arrives signed), and the body is read under the cap before the response is closed."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes,
        *,
        limit: int,
        shown: str,
        phases: httpx.Timeout,
    ) -> tuple[int, bytes]:
        client = self._client
        merged = client.headers.copy()
        merged.update(headers)
        try:
            # Built directly rather than through build_request, which parses the URL twice (lockcloud sends
            # absolute URLs and uses no cookies). A borrowed client's own timeouts win over the client's phases.
            request = httpx.Request(
                method, url, headers=merged, content=body, extensions={"timeout": client.timeout.as_dict()}
            )
        except httpx.InvalidURL as exc:
            raise ValidationError(f"{method} {shown}: path or query cannot be put in a URL") from exc
        response = await client.send(request, auth=None, stream=True)
        try:
            content = await read_capped(response, limit, shown=shown)
        finally:
            await response.aclose()
        return response.status_code, content

"""The base of the endpoint modules: one signed call, its safety, and the typed result."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

import httpx

from lockcloud._core.retry import RetryPolicy
from lockcloud.models import SealedPin, bool_result, decode_result

__all__ = ["Client", "Resource"]

T = TypeVar("T")

# Above this many items structuring moves off the event loop (a few hundred keys take about a millisecond).
_LARGE = 500


class Client(Protocol):
    """What a resource needs of the client that holds it (:class:`~lockcloud.LockCloud` is one): the one signed
    call, a sealed PIN for the calls that carry one, and the plain HTTP client for unsigned downloads."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        retry: RetryPolicy | None = None,
    ) -> Any: ...

    async def seal_pin(self, device_id: str, pin: str) -> SealedPin: ...

    @property
    def http_client(self) -> httpx.AsyncClient: ...


class Resource:
    """Endpoints of one :class:`~lockcloud.LockCloud`. Each method validates, then makes one :meth:`_call`.

    ``unsafe=True`` marks a call that must never be replayed once it may have reached Tuya (an unlock, a ticket,
    an enrollment); ``cast_to`` is the type of the result (``bool`` for the calls documented as Boolean).
    """

    def __init__(self, cloud: Client) -> None:
        self._cloud = cloud

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._cloud!r})"

    async def _call(
        self,
        method: str,
        path: str,
        *,
        cast_to: type[T],
        unsafe: bool,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> T:
        """One signed call, its result structured as ``cast_to``: ``method`` and ``path`` as ``_wire.ENDPOINTS``
        spells them."""
        result = await self._cloud.request(method, path, params=params, json=json, idempotent=not unsafe)
        if cast_to is bool:
            return bool_result(result)  # type: ignore[return-value]
        return await self._decode(result, cast_to, method=method, path=path)

    async def _get_raw(self, path: str, *, params: Mapping[str, Any] | None = None) -> Any:
        """The untyped result, for the few endpoints whose answer takes several shapes (see :meth:`_decode`)."""
        return await self._cloud.request("GET", path, params=params, idempotent=True)

    @staticmethod
    async def _decode(value: Any, cast_to: type[T], *, method: str, path: str) -> T:
        """Structure ``value``; a large answer is structured in a worker thread so the event loop keeps running."""
        if _is_large(value):
            return await asyncio.to_thread(decode_result, value, cast_to, method=method, path=path)
        return decode_result(value, cast_to, method=method, path=path)


def _is_large(value: Any) -> bool:
    # Lists are what grows (keys, albums); an object holding one is looked into one level down.
    if isinstance(value, list):
        return len(value) > _LARGE
    if isinstance(value, dict):
        return len(value) > _LARGE or any(isinstance(v, list) and len(v) > _LARGE for v in value.values())
    return isinstance(value, str) and len(value) > _LARGE * 100

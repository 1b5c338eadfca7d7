"""``LockCloud``: the client users hold. It owns the transport; endpoint modules only describe calls."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

import httpx

from lockcloud._auth import ServerClock, TuyaAuth
from lockcloud._errors import ValidationError
from lockcloud._tokens import TokenManager, TokenStore
from lockcloud._transport import RateLimiter, RetryPolicy, Transport
from lockcloud.regions import Region

if TYPE_CHECKING:
    from lockcloud.enrollment import Enrollment
    from lockcloud.enums import UnlockType, UserType
    from lockcloud.events import EventStream
    from lockcloud.remote_unlock import RemoteUnlock
    from lockcloud.unlock_methods import UnlockMethods

__all__ = ["LockCloud"]

logger = logging.getLogger("lockcloud")

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class LockCloud:
    """An async client for one Tuya cloud project.

    Use it as an async context manager (or call :meth:`aclose`). It creates its own ``httpx.AsyncClient`` unless one
    is passed as ``http_client``; a borrowed client is left open for its owner. ``base_url`` overrides the region's
    OpenAPI URL, ``pulsar_url`` and ``websocket_url`` the region's push service URLs (native Pulsar and WebSocket;
    for the simulator or a proxy).

    ``retry`` sets the default :class:`RetryPolicy` (each call may override it); ``rate_limit`` (requests per
    second) and ``max_in_flight`` limit the client's own pace, both off by default. ``token_store`` keeps the access
    token across restarts. TLS verification is on unless ``verify=False`` is given explicitly.
    """

    def __init__(
        self,
        access_id: str,
        access_secret: str,
        *,
        region: Region = Region.EU,
        base_url: str | None = None,
        pulsar_url: str | None = None,
        websocket_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limit: float | None = None,
        max_in_flight: int | None = None,
        token_store: TokenStore | None = None,
        refresh_margin: float = 60.0,
        use_nonce: bool = False,
        verify: bool = True,
    ) -> None:
        if not access_id or not access_secret:
            raise ValidationError("access_id and access_secret are required")
        self.access_id = access_id
        self._access_secret = access_secret
        self.region = region
        self.base_url = (base_url or region.base_url).rstrip("/")
        self.pulsar_url = pulsar_url or region.pulsar_url
        self.websocket_url = websocket_url or region.websocket_url
        self._active_enrollments: set[str] = set()
        self._owns_http_client = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, verify=verify)
        self._clock = ServerClock()
        token_auth = TuyaAuth(access_id, access_secret, None, self._clock, use_nonce=use_nonce)
        token_transport = Transport(
            self._http, self.base_url, token_auth, None, self._clock, retry=retry or RetryPolicy()
        )
        self.tokens = TokenManager(
            functools.partial(_token_call, token_transport),
            self._clock,
            store=token_store,
            refresh_margin=refresh_margin,
        )
        auth = TuyaAuth(access_id, access_secret, self.tokens, self._clock, use_nonce=use_nonce)
        limiter = (
            RateLimiter(rate_limit, max_in_flight)
            if rate_limit is not None or max_in_flight is not None
            else None
        )
        self._transport = Transport(
            self._http,
            self.base_url,
            auth,
            self.tokens,
            self._clock,
            retry=retry or RetryPolicy(),
            limiter=limiter,
        )

    def __repr__(self) -> str:
        return f"LockCloud(access_id={self.access_id!r}, base_url={self.base_url!r})"

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The underlying httpx client (for unsigned downloads such as media files)."""
        return self._http

    def server_time(self) -> float:
        """Tuya's clock now, in epoch seconds, as last observed (the local clock until the first answer)."""
        return self._clock.now()

    @property
    def clock_offset(self) -> float:
        """Seconds the Tuya clock is ahead of the local clock, as last observed."""
        return self._clock.offset

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """Make one signed call and return the envelope's ``result``.

        The escape hatch for calls lockcloud does not wrap, and the path every endpoint module uses. ``idempotent``
        says whether the call may be replayed after it may have reached the server (default: True for GET, False
        otherwise). Raises :class:`~lockcloud.APIError` subclasses for Tuya errors and
        :class:`~lockcloud.TransportError` subclasses for network failures.
        """
        if not path.startswith("/"):
            raise ValidationError("path must start with '/'")
        result, _ = await self._transport.request(
            method, path, params=params, json=json, idempotent=idempotent, retry=retry
        )
        return result

    @functools.cached_property
    def unlock_methods(self) -> UnlockMethods:
        """Unlocking methods: keys, enrollment, names, duress alarms, special attributes."""
        from lockcloud.unlock_methods import UnlockMethods

        return UnlockMethods(self)

    @functools.cached_property
    def remote_unlock(self) -> RemoteUnlock:
        """Remote unlock: switches, tickets, opening and closing the door, media."""
        from lockcloud.remote_unlock import RemoteUnlock

        return RemoteUnlock(self)

    def events(
        self,
        *,
        url: str | None = None,
        env: str = "event",
        transport: Literal["pulsar", "websocket"] = "pulsar",
        **options: Any,
    ) -> EventStream:
        """A push-event stream for this project (``pulsar`` is imported only when it opens).

        ``transport="websocket"`` reads the same topic over Pulsar's WebSocket API (pure Python, port 8285)
        instead of Pulsar's own protocol (which needs ``lockcloud[pulsar]``). ``url`` defaults to the client's
        ``pulsar_url`` or ``websocket_url`` (the region's unless given). Further options go to
        :class:`lockcloud.events.EventStream`.
        """
        from lockcloud.events import EventStream

        default = self.websocket_url if transport == "websocket" else self.pulsar_url
        return EventStream(
            self.access_id,
            self._access_secret,
            url=url or default,
            env=env,
            transport=transport,
            **options,
        )

    def enroll(
        self,
        device_id: str,
        *,
        user_id: str,
        user_type: UserType | int,
        unlock_type: UnlockType | str,
        events: EventStream | None = None,
        idle_timeout: float = 60.0,
        cancel_timeout: float = 10.0,
        key_lookup_timeout: float = 5.0,
        clock_tolerance: float = 5.0,
        pin: str | None = None,
    ) -> Enrollment:
        """Enroll a fingerprint, card, face ... as one conversation (see :mod:`lockcloud.enrollment`).

        ``async with cloud.enroll(...) as enrollment: async for progress in enrollment: ...`` then
        ``enrollment.result``. Pass the open ``events`` stream your application already consumes (opened with
        ``firehose=False`` if nothing iterates it directly); several enrollments can share it. Without one, a
        stream is opened for this enrollment alone — on the project's one subscription, so avoid that while
        another consumer of the project's events is running (the events it does not want are left unacknowledged
        for that consumer, but they wait until this enrollment ends).
        """
        from lockcloud.enrollment import Enrollment

        return Enrollment(
            self,
            device_id,
            user_id=user_id,
            user_type=user_type,
            unlock_type=unlock_type,
            events=events,
            idle_timeout=idle_timeout,
            cancel_timeout=cancel_timeout,
            key_lookup_timeout=key_lookup_timeout,
            clock_tolerance=clock_tolerance,
            pin=pin,
        )

    async def aclose(self) -> None:
        if self._owns_http_client:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def _token_call(transport: Transport, path: str, params: Mapping[str, str] | None) -> tuple[Any, Any]:
    # A grant is idempotent; a refresh is not (the refresh token works once), but a failed refresh falls back to a
    # new grant, so neither needs more than the transport's own rules.
    return await transport.request("GET", path, params=params, idempotent=path == "/v1.0/token")

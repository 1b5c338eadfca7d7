"""``LockCloud``: the client users hold. It owns the transport; endpoint modules only describe calls."""

from __future__ import annotations

import copy
import functools
import logging
import os
import ssl
import warnings
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, Unpack

import httpx

from lockcloud._core import validation
from lockcloud._core.auth import TuyaAuth
from lockcloud._core.clock import ServerClock
from lockcloud._core.envelope import DEFAULT_MAX_RESPONSE_BYTES
from lockcloud._core.environment import (
    ENV_ACCESS_ID,
    ENV_ACCESS_SECRET,
    ENV_BASE_URL,
    ENV_PULSAR_URL,
    ENV_PUSH_ENV,
    ENV_PUSH_TRANSPORT,
    ENV_REGION,
    ENV_WEBSOCKET_URL,
)
from lockcloud._core.errors import ValidationError
from lockcloud._core.network import warn_if_plain
from lockcloud._core.rate_limit import RateLimiter
from lockcloud._core.retry import RetryPolicy
from lockcloud._core.tokens import TokenManager, TokenStore
from lockcloud._core.transport import Transport
from lockcloud._core.validation import seconds
from lockcloud._core.wire import PRODUCTION_ENV, TEST_ENV, TOKEN_PATH
from lockcloud.regions import Region

if TYPE_CHECKING:
    from lockcloud.events import (
        EventsOptions,
        EventStream,
        PushTransport,
        RedisRelayForwarder,
        RelayForwarderOptions,
    )
    from lockcloud.models import SealedPin
    from lockcloud.resources.access_codes import AccessCodes
    from lockcloud.resources.enrollment import Enrollment, EnrollOptions
    from lockcloud.resources.history import History
    from lockcloud.resources.members import Members
    from lockcloud.resources.remote_unlock import RemoteUnlock
    from lockcloud.resources.status import Status
    from lockcloud.resources.unlock_methods import UnlockMethods

__all__ = ["LockCloud"]

logger = logging.getLogger("lockcloud")
# A library does not decide where its logs go; without this, warnings would reach stderr via logging's last resort.
logger.addHandler(logging.NullHandler())

DEFAULT_TIMEOUT = 10.0
_DEFAULT_CONNECT_TIMEOUT = 5.0


def _credential(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise ValidationError("access_id and access_secret are required")
    if not (value.isascii() and value.isprintable()) or any(char.isspace() for char in value):
        # Only the name: a secret must not be echoed, even a malformed one.
        raise ValidationError(f"{name} must be printable ASCII without spaces")
    return value


def _http_url(value: object, name: str, *, schemes: tuple[str, ...] = ("https", "http")) -> str:
    validation.url(value, name, schemes=schemes)
    assert isinstance(value, str)
    return value.rstrip("/")


def _timeouts(value: object) -> tuple[httpx.Timeout, float]:
    """httpx's per-phase limits and the total time one attempt may take."""
    if isinstance(value, httpx.Timeout):
        phases = [value.connect, value.read, value.write, value.pool]
        for phase in phases:
            if phase is not None:
                seconds(phase, "timeout")
        total = sum(phase for phase in phases if phase is not None)
        if not total:
            raise ValidationError("timeout must set at least one limit")
        return value, total
    total = seconds(value, "timeout")
    return httpx.Timeout(total, connect=min(total, _DEFAULT_CONNECT_TIMEOUT)), total


def _verify(value: object) -> bool | ssl.SSLContext:
    if isinstance(value, bool | ssl.SSLContext):
        return value
    raise ValidationError(
        f"verify must be True, False or an ssl.SSLContext, got {type(value).__name__} "
        "(for a CA bundle: ssl.create_default_context(cafile=...))"
    )


class LockCloud:
    """An async client for one Tuya cloud project.

    Use it as an async context manager (or call :meth:`aclose`). It creates its own ``httpx.AsyncClient`` unless one
    is passed as ``http_client``; a borrowed client is left open for its owner. ``base_url`` overrides the region's
    OpenAPI URL, ``pulsar_url`` and ``websocket_url`` the region's push service URLs (native Pulsar and WebSocket;
    for the simulator or a proxy). Plain ``http://`` to a host that is not this machine draws an
    :class:`~lockcloud.InsecureTransportWarning`. ``push_transport`` is the transport of the push streams the
    client opens when none is named: :meth:`events` without ``transport=``, and the stream an enrollment opens for
    itself. ``"websocket"`` makes a client work with no ``pulsar-client`` installed. ``push_env`` is likewise the
    topic those streams read, ``{access_id}/out/{push_env}``: ``"event"`` (production) or ``"event-test"`` (Tuya's
    test channel).

    ``timeout`` bounds each attempt in total, answer included, in seconds (an ``httpx.Timeout`` sets httpx's
    per-phase limits, and the attempt's total is their sum); the retry policy's ``deadline`` bounds the whole call.
    ``retry`` sets the default :class:`RetryPolicy`; :meth:`with_options` changes either for some calls.
    ``rate_limit`` (requests per second) and ``max_in_flight`` limit the client's own pace, both off by default.
    ``token_store`` keeps the access token across restarts. Answers larger than ``max_response_bytes`` are refused.
    TLS verification is on unless ``verify=False`` is given explicitly (``verify`` also takes an ``ssl.SSLContext``).
    Every value is checked here: a bad one raises :class:`~lockcloud.ValidationError`.
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
        push_transport: PushTransport = "pulsar",
        push_env: str = PRODUCTION_ENV,
        http_client: httpx.AsyncClient | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        rate_limit: float | None = None,
        max_in_flight: int | None = None,
        token_store: TokenStore | None = None,
        refresh_margin: float = 60.0,
        use_nonce: bool = False,
        verify: bool | ssl.SSLContext = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.access_id = _credential(access_id, "access_id")
        self._access_secret = _credential(access_secret, "access_secret")
        if not isinstance(region, Region):
            raise ValidationError(f"region must be a lockcloud.Region, got {type(region).__name__}")
        self.region = region
        self.base_url = _http_url(base_url if base_url is not None else region.base_url, "base_url")
        if pulsar_url is not None and pulsar_url != "":
            validation.url(pulsar_url, "pulsar_url", schemes=("pulsar+ssl", "pulsar"))
        self.pulsar_url = pulsar_url or region.pulsar_url
        if websocket_url is not None and websocket_url != "":
            validation.url(websocket_url, "websocket_url", schemes=("wss", "ws"))
        self.websocket_url = websocket_url or region.websocket_url
        if push_transport not in ("pulsar", "websocket"):
            raise ValidationError(f"push_transport must be 'pulsar' or 'websocket', not {push_transport!r}")
        self.push_transport: PushTransport = push_transport
        if push_env not in (PRODUCTION_ENV, TEST_ENV):
            raise ValidationError(f"push_env must be {PRODUCTION_ENV!r} or {TEST_ENV!r}, not {push_env!r}")
        self.push_env = push_env
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise ValidationError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        phases, attempt_total = _timeouts(timeout)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValidationError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        margin = seconds(refresh_margin, "refresh_margin", allow_zero=True)
        if not isinstance(use_nonce, bool):
            raise ValidationError(f"use_nonce must be True or False, got {type(use_nonce).__name__}")
        tls = _verify(verify)
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise ValidationError(f"max_response_bytes must be a positive int, got {max_response_bytes!r}")
        limiter = (
            RateLimiter(rate_limit, max_in_flight)
            if rate_limit is not None or max_in_flight is not None
            else None
        )
        warn_if_plain(self.base_url, what="base_url")

        self._active_enrollments: set[str] = set()
        self._owns_http_client = http_client is None
        self._closed = False
        fast = None
        if http_client is None:
            # Here, not at `import lockcloud`: aiohttp costs about as much to import as httpx itself.
            from lockcloud._core.aiohttp_pool import AiohttpTransport

            fast = AiohttpTransport(verify=tls)
        self._http = http_client or httpx.AsyncClient(timeout=phases, transport=fast)
        self._clock = ServerClock()
        self._call_retry: RetryPolicy | None = None
        self._call_timeout: float | None = None
        self.tokens = TokenManager(
            self._token_call,
            self._clock,
            store=token_store,
            refresh_margin=margin,
            access_id=self.access_id,
            access_secret=self._access_secret,
            cloud=self.base_url,
        )
        auth = TuyaAuth(
            self.access_id,
            self._access_secret,
            self.tokens,
            self._clock,
            use_nonce=use_nonce,
            max_response_bytes=max_response_bytes,
        )
        self._transport = Transport(
            self._http,
            self.base_url,
            auth,
            self._clock,
            retry=retry or RetryPolicy(),
            timeout=attempt_total,
            max_response_bytes=max_response_bytes,
            limiter=limiter,
            fast=fast,
            phases=phases,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **options: Any) -> LockCloud:
        """A client from ``LOCKCLOUD_ACCESS_ID``, ``LOCKCLOUD_ACCESS_SECRET`` and optionally ``LOCKCLOUD_REGION``,
        ``LOCKCLOUD_BASE_URL``, ``LOCKCLOUD_PULSAR_URL``, ``LOCKCLOUD_WEBSOCKET_URL`` (what ``lockcloud sim serve``
        prints and the command line reads), ``LOCKCLOUD_PUSH_TRANSPORT`` (``pulsar`` or ``websocket``) and
        ``LOCKCLOUD_PUSH_ENV`` (``event`` or ``event-test``). Keyword ``options`` go to the constructor and win over the environment."""
        env = os.environ if environ is None else environ
        missing = [name for name in (ENV_ACCESS_ID, ENV_ACCESS_SECRET) if not env.get(name)]
        if missing:
            raise ValidationError(f"set {' and '.join(missing)} (or construct LockCloud(...) directly)")
        settings: dict[str, Any] = {}
        if env.get(ENV_REGION):
            settings["region"] = Region.from_name(env[ENV_REGION])
        if env.get(ENV_BASE_URL):
            settings["base_url"] = env[ENV_BASE_URL]
        if env.get(ENV_PULSAR_URL):
            settings["pulsar_url"] = env[ENV_PULSAR_URL]
        if env.get(ENV_WEBSOCKET_URL):
            settings["websocket_url"] = env[ENV_WEBSOCKET_URL]
        if env.get(ENV_PUSH_TRANSPORT):
            settings["push_transport"] = env[ENV_PUSH_TRANSPORT]
        if env.get(ENV_PUSH_ENV):
            settings["push_env"] = env[ENV_PUSH_ENV]
        settings.update(options)
        return cls(env[ENV_ACCESS_ID], env[ENV_ACCESS_SECRET], **settings)

    def __repr__(self) -> str:
        return f"LockCloud(access_id={self.access_id!r}, base_url={self.base_url!r})"

    def with_options(self, *, timeout: float | None = None, retry: RetryPolicy | None = None) -> LockCloud:
        """The same client (same connections, token and clock) with other defaults for the calls made through it::

            await cloud.with_options(timeout=3, retry=RetryPolicy.never()).remote_unlock.unlock(device)

        ``timeout`` is the total time per attempt in seconds. Closing the returned view does nothing; close the
        original.
        """
        view = copy.copy(self)
        for cached in ("unlock_methods", "remote_unlock", "access_codes", "history", "members", "status"):
            view.__dict__.pop(cached, None)
        view._owns_http_client = False
        if timeout is not None:
            view._call_timeout = seconds(timeout, "timeout")
        if retry is not None:
            if not isinstance(retry, RetryPolicy):
                raise ValidationError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
            view._call_retry = retry
        return view

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
        if not isinstance(method, str) or not method.isascii() or not method.isalpha():
            raise ValidationError("method must be an HTTP method name such as 'GET'")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValidationError("path must be a string starting with '/'")
        if params is not None and type(params) is not dict and not isinstance(params, Mapping):
            raise ValidationError(f"params must be a mapping, got {type(params).__name__}")
        if idempotent is not None and not isinstance(idempotent, bool):
            raise ValidationError(f"idempotent must be True, False or None, got {type(idempotent).__name__}")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValidationError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
        result, _ = await self._transport.request(
            method,
            path,
            params=params,
            json=json,
            idempotent=idempotent,
            retry=retry or self._call_retry,
            time_limit=self._call_timeout,
        )
        return result

    async def seal_pin(self, device_id: str, pin: str) -> SealedPin:
        """Fetch a fresh single-use ticket for ``device_id`` and encrypt ``pin`` with its key.

        The result goes into one open-door or enroll call (``ticket_id``, ``password``); the access secret that
        decrypts the ticket key never leaves the client. The ticket call is unsafe (each mints a ticket), so it is
        never replayed after it may have reached Tuya.
        """
        from lockcloud._core import validation as check
        from lockcloud.crypto import decrypt_ticket_key, encrypt_password
        from lockcloud.models import SealedPin

        device = check.device_id(device_id)
        digits = check.pin(pin)
        ticket = await self.remote_unlock.get_password_ticket(device)
        key = decrypt_ticket_key(ticket.ticket_key, self._access_secret)
        return SealedPin(ticket_id=ticket.ticket_id, password=encrypt_password(digits, key))

    async def _token_call(self, path: str, params: Mapping[str, str] | None) -> tuple[Any, Any]:
        # A grant is idempotent; a refresh is not (the refresh token works once), but a failed refresh falls back to a
        # new grant, so neither needs more than the transport's own rules.
        return await self._transport.request("GET", path, params=params, idempotent=path == TOKEN_PATH)

    @functools.cached_property
    def unlock_methods(self) -> UnlockMethods:
        """Unlocking methods: keys, enrollment, names, duress alarms, special attributes."""
        from lockcloud.resources.unlock_methods import UnlockMethods

        return UnlockMethods(self)

    @functools.cached_property
    def remote_unlock(self) -> RemoteUnlock:
        """Remote unlock: switches, tickets, opening and closing the door, media."""
        from lockcloud.resources.remote_unlock import RemoteUnlock

        return RemoteUnlock(self)

    @functools.cached_property
    def access_codes(self) -> AccessCodes:
        """Guest access codes: online temporary codes (with delivery to await), offline codes, the dynamic code."""
        from lockcloud.resources.access_codes import AccessCodes

        return AccessCodes(self)

    @functools.cached_property
    def history(self) -> History:
        """History: unlock records, legacy open logs and alarm logs, as iterators that page by themselves."""
        from lockcloud.resources.history import History

        return History(self)

    @functools.cached_property
    def members(self) -> Members:
        """Members of a lock's household: list, add, edit, give a key."""
        from lockcloud.resources.members import Members

        return Members(self)

    @functools.cached_property
    def status(self) -> Status:
        """Status: a typed snapshot of the lock's reported state (battery, door, bolt, last alarm)."""
        from lockcloud.resources.status import Status

        return Status(self)

    def events(self, **options: Unpack[EventsOptions]) -> EventStream:
        """A push-event stream for this project (``pulsar`` is imported only when it opens).

        ``transport="websocket"`` reads the same topic over Pulsar's WebSocket API (pure Python, port 8285)
        instead of Pulsar's own protocol (``"pulsar"``, which needs ``lockcloud[pulsar]``); without ``transport``
        the client's ``push_transport`` is used, and without ``env`` its ``push_env``. ``url`` defaults to the
        client's ``pulsar_url`` or ``websocket_url`` (the region's unless given); every keyword is one of
        :class:`lockcloud.events.EventsOptions` (the sources' and the stream's options). With
        ``relay="redis://..."`` the stream reads what ``lockcloud listen --relay`` forwards instead.
        """
        from lockcloud.events._options import events_stream

        if options.get("relay") is None:
            options.setdefault("transport", self.push_transport)
            options.setdefault("env", self.push_env)
            websocket = options["transport"] == "websocket"
            options.setdefault("url", self.websocket_url if websocket else self.pulsar_url)
        return events_stream(self.access_id, self._access_secret, options)

    def relay_forwarder(
        self, relay_url: str, **options: Unpack[RelayForwarderOptions]
    ) -> RedisRelayForwarder:
        """A forwarder of this project's push messages to the Redis stream at ``relay_url`` (``lockcloud[redis]``).

        It reads the project's subscription (``url`` defaults to the client's ``pulsar_url``) and relays every
        message; web workers read them with ``cloud.events(relay=relay_url)``. The keywords are those of
        :class:`lockcloud.events.RelayForwarderOptions`.
        """
        from lockcloud.events._options import relay_forwarder

        options.setdefault("url", self.pulsar_url)
        options.setdefault("env", self.push_env)
        return relay_forwarder(self.access_id, self._access_secret, relay_url, options)

    def enroll(self, device_id: str, **options: Unpack[EnrollOptions]) -> Enrollment:
        """Enroll a fingerprint, card, face ... as one conversation (see :mod:`lockcloud.enrollment`).

        ``async with cloud.enroll(device_id, user_id=..., user_type=..., unlock_type=...) as enrollment: async for
        progress in enrollment: ...`` then ``enrollment.result``; the keywords are those of
        :class:`lockcloud.enrollment.EnrollOptions`. Pass the open ``events`` stream your application already
        consumes (opened with ``firehose=False`` if nothing iterates it directly); several enrollments can share
        it. Without one, a stream is opened for this enrollment alone — on the project's one subscription, so
        avoid that while another consumer of the project's events is running (the events it does not want are
        left unacknowledged for that consumer, but they wait until this enrollment ends).
        """
        from lockcloud.resources.enrollment import Enrollment

        return Enrollment(self, device_id, **options)

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_http_client:
            await self._http.aclose()

    def __del__(self) -> None:
        # getattr: __init__ may have failed before these were set.
        if getattr(self, "_owns_http_client", False) and not getattr(self, "_closed", True):
            warnings.warn(
                f"{self!r} was never closed; use 'async with LockCloud(...)' or await cloud.aclose()",
                ResourceWarning,
                stacklevel=2,
                source=self,
            )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

"""An httpx transport on aiohttp's connection pool: the default under ``LockCloud``.

httpx stays the interface (``http_client=`` takes any ``httpx.AsyncClient``); only the sockets are aiohttp's, whose
pool holds up with hundreds of calls in flight where httpcore's does not. Failures are mapped to httpx exceptions by
what they say about the request: only errors raised while connecting become ``httpx.ConnectError`` /
``ConnectTimeout`` (never sent); a connection that breaks later becomes ``ReadError`` / ``ReadTimeout``, so an unsafe
call is never replayed on the strength of a misleading name. A refused certificate is chained as the ``ssl`` error.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

import aiohttp
import certifi
import httpx
from aiohttp import hdrs
from aiohttp.http import SERVER_SOFTWARE
from yarl import URL

from lockcloud._core.errors import ResponseTooLargeError
from lockcloud._core.wire import TOKEN_PATH

if TYPE_CHECKING:
    from multidict import CIMultiDict

__all__ = ["AiohttpTransport"]

# How many parsed URLs a transport keeps (see AiohttpTransport.exchange), and the one kind it never keeps.
_URLS_KEPT = 512
_REFRESH_PATH = TOKEN_PATH + "/"

# Raised while opening the connection, before a byte of the request went out.
_CONNECTING = (aiohttp.ClientConnectorError,)


def _ssl_context(verify: bool | ssl.SSLContext) -> ssl.SSLContext | bool:
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify:
        return ssl.create_default_context(cafile=certifi.where())
    return False


def _mapped(exc: BaseException, request: httpx.Request | None, *, connecting: bool) -> httpx.TransportError:
    reason = type(exc).__name__
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        error: httpx.TransportError = httpx.ConnectError(f"certificate refused ({reason})", request=request)
        error.__cause__ = exc.certificate_error
        return error
    if isinstance(exc, _CONNECTING):
        return httpx.ConnectError(reason, request=request)
    if isinstance(exc, aiohttp.ConnectionTimeoutError) or (connecting and isinstance(exc, TimeoutError)):
        return httpx.ConnectTimeout(reason, request=request)
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(reason, request=request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(reason, request=request)
    return httpx.ReadError(reason, request=request)


# The case-insensitive form of each set of skipped headers aiohttp was given (a session has one): built once.
_SKIPPED: dict[frozenset[str], CIMultiDict[None]] = {}


class _Request(aiohttp.ClientRequest):
    """aiohttp's request as it is, but for one cost: for every request aiohttp turns the session's
    ``skip_auto_headers`` into a sorted case-insensitive dict and copies the request's headers to look in both. The
    session's set never changes, so here its dict is built once and the two are looked in side by side: the same
    headers are added (none, for lockcloud's session), at a tenth of the cost."""

    def update_auto_headers(self, skip_auto_headers: Iterable[str] | None) -> None:
        skipped = _SKIPPED.get(skip_auto_headers) if type(skip_auto_headers) is frozenset else None
        if skipped is None:
            super().update_auto_headers(skip_auto_headers)
            if type(skip_auto_headers) is frozenset and self._skip_auto_headers is not None:
                _SKIPPED[skip_auto_headers] = self._skip_auto_headers
            return
        self._skip_auto_headers = skipped
        headers = self.headers
        for name, value in self.DEFAULT_HEADERS.items():
            if name not in headers and name not in skipped:
                headers[name] = value
        if hdrs.USER_AGENT not in headers and hdrs.USER_AGENT not in skipped:
            headers[hdrs.USER_AGENT] = SERVER_SOFTWARE


_KEEPS_SKIPPED = hasattr(aiohttp.ClientRequest, "_skip_auto_headers")


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = _mapped(exc, self._request, connecting=False)
            raise error from None

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """``httpx.AsyncClient(transport=AiohttpTransport(verify=...))``: HTTP/1.1 over one aiohttp session.

    ``max_connections`` caps open connections (None: no cap; limit concurrency with ``LockCloud(max_in_flight=)``).
    httpx's per-phase timeouts are honoured for connect and read.
    """

    def __init__(
        self,
        *,
        verify: bool | ssl.SSLContext = True,
        max_connections: int | None = None,
        keepalive_expiry: float = 30.0,
    ) -> None:
        self._ssl = _ssl_context(verify)
        self._max_connections = max_connections or 0
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None
        # httpx's phases as aiohttp's, converted once for the phases the transport keeps passing.
        self._phases: tuple[httpx.Timeout, aiohttp.ClientTimeout] | None = None
        # The parsed URL of each URL string :meth:`exchange` was given, kept: a client calls the same few endpoints
        # over and over, and a URL object kept also keeps what aiohttp reads from it (host, port, path) computed.
        self._urls: dict[str, URL] = {}

    def _client_timeout(self, phases: httpx.Timeout) -> aiohttp.ClientTimeout:
        if self._phases is None or self._phases[0] is not phases:
            converted = aiohttp.ClientTimeout(
                total=None, connect=phases.pool, sock_connect=phases.connect, sock_read=phases.read
            )
            self._phases = (phases, converted)
        return self._phases[1]

    def _open_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            ssl=self._ssl, limit=self._max_connections, keepalive_timeout=self._keepalive_expiry
        )
        # The request is httpx's as built: no cookies, redirects, decompression or quoting added here.
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            # Only where aiohttp keeps the skipped headers where _Request puts them (3.10 kept them elsewhere).
            request_class=_Request if _KEEPS_SKIPPED else aiohttp.ClientRequest,
        )
        # aiohttp silently resends GET, PUT and DELETE once when a reused connection drops; a PUT here may be an
        # enrollment. Replays are lockcloud's decision alone. No public switch exists; tests/core/
        # test_aiohttp_transport.py fails if this one stops working.
        if not hasattr(session, "_retry_connection"):
            raise RuntimeError("this aiohttp version cannot be told not to resend requests; pin aiohttp<4")
        session._retry_connection = False
        return session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session
        if session is None or session.closed:
            session = self._session = self._open_session()
        phases: dict[str, Any] = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=phases.get("pool"),
            sock_connect=phases.get("connect"),
            sock_read=phases.get("read"),
        )
        body = request.content or None
        try:
            response = await session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=body,
                allow_redirects=False,
                timeout=timeout,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = _mapped(exc, request, connecting=isinstance(exc, _CONNECTING))
            # Only the ssl error of a refused certificate stays attached; aiohttp's own exceptions are not needed.
            raise error from error.__cause__
        return httpx.Response(
            response.status,
            headers=[(key.decode("latin-1"), value.decode("latin-1")) for key, value in response.raw_headers],
            stream=_Body(response, request),
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("latin-1"),
            },
        )

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
        """One request without httpx objects around it: ``(status, body)``, the body read up to ``limit`` bytes.

        ``url`` must already be encoded. Failures raise the same httpx exceptions as :meth:`handle_async_request`
        (``request`` unset), and :class:`~lockcloud.ResponseTooLargeError` past the limit.
        """
        session = self._session
        if session is None or session.closed:
            session = self._session = self._open_session()
        target = self._urls.get(url)
        if target is None:
            target = URL(url, encoded=True)
            if _REFRESH_PATH not in url:  # a refresh call's path holds the refresh token: never kept
                if len(self._urls) >= _URLS_KEPT:
                    self._urls.clear()  # simpler than LRU, and as good for a working set that fits
                self._urls[url] = target
        try:
            async with session.request(
                method,
                target,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=self._client_timeout(phases),
            ) as response:
                declared = response.content_length
                if declared is not None:
                    if declared > limit:
                        raise ResponseTooLargeError(method=method, path=shown, limit=limit)
                    # aiohttp reads exactly the declared length, no more: the cap holds without counting.
                    return response.status, await response.read()
                parts: list[bytes] = []
                received = 0
                async for chunk in response.content.iter_any():
                    received += len(chunk)
                    if received > limit:
                        raise ResponseTooLargeError(method=method, path=shown, limit=limit)
                    parts.append(chunk)
                return response.status, b"".join(parts)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = _mapped(exc, None, connecting=isinstance(exc, _CONNECTING))
            raise error from error.__cause__

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

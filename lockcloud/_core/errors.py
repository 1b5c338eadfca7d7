"""Every exception lockcloud raises, in one tree.

::

    LockCloudError
    ├── ValidationError (also ValueError)      bad input, raised before anything is sent
    ├── CryptoError                            undecryptable ticket key, media file or push payload
    ├── DecodeError                            a push message that cannot be turned into an event (keeps .payload)
    ├── RemoteUnlockDisabledError              the lock's remote-unlock switch needed by a flow is off (names it)
    ├── BrokerError                            the local pulsar-lite broker did not start (simulator)
    ├── PortUnavailableError (also OSError)    lockcloud.sim: the simulator's port is taken (names host:port)
    ├── BrokerUnavailableError (also ConnectionError)  lockcloud.sim: its broker_url cannot be reached
    ├── EventStreamError                       the push stream could not subscribe, or failed for good
    │   ├── SubscribeError                     the broker refused or never answered: .reason .url .topic .fix
    │   │   ├── StreamAuthenticationError      the credentials were refused (or the message service is off)
    │   │   └── StreamSubscriptionError        the topic or subscription was refused (not the project's, busy)
    │   ├── RelayError                         the Redis relay of push events cannot be reached: .address
    │   └── SourceClosed                       lockcloud.events: a closed source's receive(); the stream just stops
    ├── TokenStoreError                        a shared token store (Redis, a lock file) could not be used
    ├── TransportError                         the HTTP exchange itself failed (names the httpx error)
    │   ├── ConnectError                       the request never left: safe to try again
    │   │   └── TLSVerificationError           the server's certificate was refused (names host and reason; not retried)
    │   ├── RequestTimeoutError (also TimeoutError)  a call timed out on every attempt allowed (or a download timed out)
    │   │   └── MediaDownloadTimeoutError      a media download outlasted its total timeout (names the host)
    │   ├── OutcomeUnknownError                an unsafe call (unlock, enroll, ticket) may have been executed
    │   └── UnexpectedResponseError            the server answered with something that is not a Tuya envelope
    │       ├── ResponseTooLargeError          an API answer went over the client's max_response_bytes
    │       └── MediaTooLargeError             a media download went over its max_bytes cap
    └── APIError                               Tuya answered success=false: .code .msg .tid .method .path .body
        ├── AuthenticationError
        │   ├── CredentialsError               1001 secret invalid, 1005 client_id invalid
        │   ├── SignatureError                 1004 sign invalid
        │   ├── TokenError                     1002 / 1010 / 1011 / 1012 access token missing, expired or invalid
        │   └── ClockSkewError                 1013 request time invalid
        ├── PermissionDeniedError              1106
        │   ├── ServiceNotSubscribedError      28841101 / 28841102 / 28841105 / 28841106
        │   └── PlanExpiredError               28841002 / 28841004
        ├── RateLimitedError                   1110 / 1199
        ├── InvalidParameterError              1100 / 1101 / 1102 / 1105 / 1108 / 1109
        ├── NotFoundError                      1000 data does not exist
        ├── DeviceError
        │   ├── DeviceOfflineError             2001
        │   ├── DeviceNotFoundError            2010
        │   └── UnsupportedError               2003 / 2004 / 2008 / 2009
        └── ServerError                        500 / 1111

Codes without a class of their own raise :class:`APIError` itself, with the raw body kept. Everything in the tree
is importable from ``lockcloud`` except the two marked with the package that exports them.

One warning (a ``UserWarning``), issued once per scheme and host: :class:`InsecureTransportWarning` for a plain
scheme (``http://``, ``ws://``, ``pulsar://``, ``redis://``) to a host that is not this machine; its subclass
``lockcloud.events.PlaintextPulsarWarning`` for ``pulsar://``. ``lockcloud.sim.SimulatedDisconnect`` is outside the tree on purpose: the simulator
raises it to stand for a dropped connection, so it is an ``httpx.RemoteProtocolError``, and the client turns it
into what a real one gives (:class:`TransportError` or :class:`OutcomeUnknownError`).

No exception message or repr ever contains the access secret, a token, a ticket key or a PIN.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "APIError",
    "AuthenticationError",
    "BrokerError",
    "ClockSkewError",
    "ConnectError",
    "CredentialsError",
    "CryptoError",
    "DecodeError",
    "DeviceError",
    "DeviceNotFoundError",
    "DeviceOfflineError",
    "EventStreamError",
    "InsecureTransportWarning",
    "InvalidParameterError",
    "LockCloudError",
    "MediaDownloadTimeoutError",
    "MediaTooLargeError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PlanExpiredError",
    "RateLimitedError",
    "RelayError",
    "RemoteUnlockDisabledError",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "ServerError",
    "ServiceNotSubscribedError",
    "SignatureError",
    "StreamAuthenticationError",
    "StreamSubscriptionError",
    "SubscribeError",
    "TLSVerificationError",
    "TokenError",
    "TokenStoreError",
    "TransportError",
    "UnexpectedResponseError",
    "UnsupportedError",
    "ValidationError",
    "error_for_code",
]


class LockCloudError(Exception):
    """Base of every error raised by lockcloud."""


class ValidationError(LockCloudError, ValueError):
    """An argument was rejected before any request was sent."""


class CryptoError(LockCloudError):
    """Ciphertext, key or container could not be decrypted or encrypted."""


class DecodeError(LockCloudError):
    """A push message could not be decoded; ``payload`` keeps the raw bytes for a dead-letter sink."""

    def __init__(self, reason: str, payload: bytes, properties: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.payload = payload
        self.properties = dict(properties or {})

    def __repr__(self) -> str:
        return f"DecodeError({self.reason!r}, payload=<{len(self.payload)} bytes>)"


class RemoteUnlockDisabledError(LockCloudError):
    """The remote-unlock method a flow needs is switched off on the lock.

    ``switch`` is the remote unlock type (``remoteUnlockWithoutPwd`` or ``remoteUnlockWithPwd``) to turn on with
    ``cloud.remote_unlock.set_method_enabled(device_id, switch, True)``.
    """

    def __init__(self, device_id: str, switch: str, cause: APIError | None = None) -> None:
        super().__init__(
            f"remote unlock method {switch!r} is switched off on device {device_id!r}; "
            f"turn it on with remote_unlock.set_method_enabled({device_id!r}, {switch!r}, True)"
        )
        self.device_id = device_id
        self.switch = switch
        self.cause = cause


class BrokerError(LockCloudError):
    """The local ``pulsar-lite`` broker of the simulator could not be found or did not come up."""


class EventStreamError(LockCloudError):
    """The push-event stream could not subscribe to the broker, or stopped for a reason it cannot recover from."""


class SubscribeError(EventStreamError):
    """The push stream could not subscribe. ``reason`` is one of ``refused``, ``unreachable``, ``tls``, ``auth``,
    ``busy``, ``timeout`` or ``failed``; ``url``, ``topic`` and ``subscription`` say where, ``fix`` what to do."""

    def __init__(self, what: str, *, reason: str, url: str, topic: str, subscription: str, fix: str) -> None:
        super().__init__(f"cannot subscribe to {topic!r} as {subscription!r} at {url}: {what}. {fix}")
        self.reason = reason
        self.url = url
        self.topic = topic
        self.subscription = subscription
        self.fix = fix


class StreamAuthenticationError(SubscribeError):
    """The message service refused the credentials (``reason`` ``auth``): a wrong access id or secret, or a project
    whose message service is not enabled. Raised by both push transports; retrying does not help."""


class StreamSubscriptionError(SubscribeError):
    """The message service refused the topic or the subscription (``reason`` ``refused`` or ``busy``): not the
    project's topic, or another consumer holds an exclusive subscription."""


class RelayError(EventStreamError):
    """The Redis relay of push events (``lockcloud listen --relay``, ``RedisRelaySource``) cannot be reached.
    ``address`` names the server (host and port, never the URL's password)."""

    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.address = address


class TokenStoreError(LockCloudError):
    """A token store shared between processes could not be used: its server is unreachable (the message names
    it), or another process held its renewal lock for longer than the store waits."""


class TransportError(LockCloudError):
    """The HTTP exchange failed. The httpx exception is named in the message but not chained: its request holds the
    access token."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: {message}")
        self.method = method
        self.path = path


class ConnectError(TransportError):
    """No connection could be made, so the request never reached the server."""


class TLSVerificationError(ConnectError):
    """The server's TLS certificate was refused (``host`` and ``reason`` say which and why).

    Nothing was sent. It is not retried: a certificate does not fix itself between attempts. Point ``verify`` at the
    right CA (an ``ssl.SSLContext``) rather than switching verification off.
    """

    def __init__(self, *, method: str, path: str, host: str, reason: str) -> None:
        super().__init__(f"TLS certificate of {host} refused: {reason}", method=method, path=path)
        self.host = host
        self.reason = reason


class InsecureTransportWarning(UserWarning):
    """Credentials or tokens would travel in clear: a plain scheme (``http://``, ``ws://``, ``pulsar://``,
    ``redis://``) to a host off this machine."""


class PlaintextPulsarWarning(InsecureTransportWarning):
    """A ``pulsar://`` (not ``pulsar+ssl://``) URL to a host off this machine: the Pulsar password goes in clear.

    Exported by :mod:`lockcloud.events`.
    """


class RequestTimeoutError(TransportError, builtins.TimeoutError):
    """An idempotent call timed out on every attempt its retry policy allowed, or a media download timed out
    (:class:`MediaDownloadTimeoutError` when it was the download's total ``timeout``).

    Named apart from the builtin so that ``from lockcloud import *`` cannot shadow ``TimeoutError`` (which
    ``asyncio.timeout`` raises); it is still a subclass of it.
    """


class MediaDownloadTimeoutError(RequestTimeoutError):
    """A media download did not finish within its ``timeout``: total seconds, however steadily the bytes came.

    ``host`` names the storage server and ``timeout`` the limit. The signed URL's query is never shown (it is a
    credential). Nothing was returned, and no file was written.
    """

    def __init__(self, *, path: str, host: str, timeout: float) -> None:
        super().__init__(
            f"media download from {host} did not finish within timeout={timeout:g} s", method="GET", path=path
        )
        self.host = host
        self.timeout = timeout


class OutcomeUnknownError(TransportError):
    """An unsafe call (unlock, door-operate, enroll, ticket) may have reached the server.

    It was sent, and then the connection broke or timed out before an answer came back, an HTTP 5xx came back
    without a Tuya envelope (a proxy cannot tell whether Tuya acted), an unreadable or oversized answer came back,
    or Tuya itself answered 500 / 1111 (a failure inside its servers, which may come after the lock acted; the
    :class:`ServerError` is chained). lockcloud never replays such a call: the door may or may not have opened.
    Check the lock's state before deciding to try again.
    """


class UnexpectedResponseError(TransportError):
    """The server answered, but not with a Tuya envelope (HTTP error page, malformed JSON)."""

    def __init__(self, message: str, *, method: str, path: str, status_code: int, body: bytes) -> None:
        super().__init__(message, method=method, path=path)
        self.status_code = status_code
        self.body = body


class ResponseTooLargeError(UnexpectedResponseError):
    """An OpenAPI answer went over ``max_response_bytes``; reading stopped there."""

    def __init__(self, *, method: str, path: str, limit: int) -> None:
        super().__init__(
            f"response larger than max_response_bytes={limit}",
            method=method,
            path=path,
            status_code=200,
            body=b"",
        )
        self.limit = limit


class MediaTooLargeError(UnexpectedResponseError):
    """A media download went over its ``max_bytes`` cap; nothing was returned or written."""

    def __init__(self, *, path: str, limit: int, status_code: int = 200) -> None:
        super().__init__(
            f"media file larger than max_bytes={limit}",
            method="GET",
            path=path,
            status_code=status_code,
            body=b"",
        )
        self.limit = limit


class APIError(LockCloudError):
    """Tuya answered ``success: false``.

    Attributes: ``code`` (Tuya's error code), ``msg`` (its message), ``tid`` (the request id to quote to Tuya
    support), ``method`` and ``path`` of the call (path without query), ``body`` (the whole decoded envelope).
    """

    codes: ClassVar[frozenset[int]] = frozenset()
    hint: ClassVar[str] = ""

    def __init__(
        self,
        code: int,
        msg: str,
        *,
        tid: str | None = None,
        method: str = "",
        path: str = "",
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.code = code
        self.msg = msg
        self.tid = tid
        self.method = method
        self.path = path
        self.body: dict[str, Any] = dict(body or {})
        text = f"{method} {path}: Tuya error {code}: {msg}".strip()
        if self.hint:
            text += f" ({self.hint})"
        if tid:
            text += f" [tid {tid}]"
        super().__init__(text)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code}, msg={self.msg!r}, tid={self.tid!r}, path={self.path!r})"
        )


class AuthenticationError(APIError):
    """The call was rejected while authenticating; nothing was executed."""


class CredentialsError(AuthenticationError):
    codes = frozenset({1001, 1005})
    hint = "check the access id and access secret of your cloud project"


class SignatureError(AuthenticationError):
    codes = frozenset({1004})
    hint = "the request signature did not match; check the access secret"


class TokenError(AuthenticationError):
    codes = frozenset({1002, 1010, 1011, 1012})


class ClockSkewError(AuthenticationError):
    codes = frozenset({1013})
    hint = "the request time differs too much from Tuya's clock; check the system clock"


class PermissionDeniedError(APIError):
    codes = frozenset({1106})
    hint = "the cloud project may not access this device; link the device's app account to the project"


class ServiceNotSubscribedError(PermissionDeniedError):
    codes = frozenset({28841101, 28841102, 28841105, 28841106})
    hint = (
        "the API is not subscribed or not authorised for this cloud project; subscribe to the "
        "'Smart Lock Open Service' and authorise it under the project's Service API tab"
    )


class PlanExpiredError(PermissionDeniedError):
    codes = frozenset({28841002, 28841004})
    hint = (
        "the cloud project's trial or plan has run out; extend or buy a plan in the Tuya developer platform"
    )


class RateLimitedError(APIError):
    codes = frozenset({1110, 1199})
    hint = "too many requests; lower the request rate or concurrency"


class InvalidParameterError(APIError):
    codes = frozenset({1100, 1101, 1102, 1105, 1108, 1109})


class NotFoundError(APIError):
    codes = frozenset({1000})


class DeviceError(APIError):
    """The device could not carry out the call."""


class DeviceOfflineError(DeviceError):
    codes = frozenset({2001})
    hint = "the lock or its gateway is offline"


class DeviceNotFoundError(DeviceError):
    codes = frozenset({2010})


class UnsupportedError(DeviceError):
    codes = frozenset({2003, 2004, 2008, 2009})
    hint = "this lock type does not support the call"


class ServerError(APIError):
    codes = frozenset({500, 1111})


def _leaf_classes() -> dict[int, type[APIError]]:
    by_code: dict[int, type[APIError]] = {}
    pending: list[type[APIError]] = [APIError]
    while pending:
        cls = pending.pop()
        for code in cls.codes:
            by_code[code] = cls
        pending.extend(cls.__subclasses__())
    return by_code


_CLASS_BY_CODE = _leaf_classes()


def error_for_code(
    code: int,
    msg: str,
    *,
    tid: str | None = None,
    method: str = "",
    path: str = "",
    body: Mapping[str, Any] | None = None,
) -> APIError:
    """The exception for a Tuya error code: its own class where one is defined, else :class:`APIError`."""
    cls = _CLASS_BY_CODE.get(code, APIError)
    return cls(code, msg, tid=tid, method=method, path=path, body=body)

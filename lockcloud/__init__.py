"""lockcloud: an asyncio client for smart locks on the Tuya cloud.

Start with :class:`LockCloud`. Errors are described in one place: :mod:`lockcloud._errors` (all importable from here).
"""

from lockcloud._auth import FileTokenStore, MemoryTokenStore, Token, TokenStore, TuyaAuth
from lockcloud._client import LockCloud
from lockcloud._errors import (
    APIError,
    AuthenticationError,
    ClockSkewError,
    ConnectError,
    CredentialsError,
    CryptoError,
    DecodeError,
    DeviceError,
    DeviceNotFoundError,
    DeviceOfflineError,
    InvalidParameterError,
    LockCloudError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    PlanExpiredError,
    RateLimitedError,
    RemoteUnlockDisabledError,
    ServerError,
    ServiceNotSubscribedError,
    SignatureError,
    TimeoutError,
    TokenError,
    TransportError,
    UnexpectedResponseError,
    UnsupportedError,
    ValidationError,
)
from lockcloud._transport import RetryPolicy
from lockcloud.regions import Region

__version__ = "0.1.0.dev0"

__all__ = [
    "APIError",
    "AuthenticationError",
    "ClockSkewError",
    "ConnectError",
    "CredentialsError",
    "CryptoError",
    "DecodeError",
    "DeviceError",
    "DeviceNotFoundError",
    "DeviceOfflineError",
    "FileTokenStore",
    "InvalidParameterError",
    "LockCloud",
    "LockCloudError",
    "MemoryTokenStore",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PlanExpiredError",
    "RateLimitedError",
    "Region",
    "RemoteUnlockDisabledError",
    "RetryPolicy",
    "ServerError",
    "ServiceNotSubscribedError",
    "SignatureError",
    "TimeoutError",
    "Token",
    "TokenError",
    "TokenStore",
    "TransportError",
    "TuyaAuth",
    "UnexpectedResponseError",
    "UnsupportedError",
    "ValidationError",
]

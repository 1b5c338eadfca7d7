"""lockcloud: an asyncio client for smart locks on the Tuya cloud.

Start with :class:`LockCloud`. Errors are described in one place: :mod:`lockcloud._core.errors` (all importable from here).
"""

from typing import TYPE_CHECKING, Any

from lockcloud._client import LockCloud
from lockcloud._core.auth import TuyaAuth
from lockcloud._core.errors import (
    AccessCodeDeliveryError,
    AccessCodeDeliveryTimeoutError,
    APIError,
    AuthenticationError,
    BrokerError,
    ClockSkewError,
    ConnectError,
    CredentialsError,
    CryptoError,
    DecodeError,
    DeviceError,
    DeviceNotFoundError,
    DeviceOfflineError,
    EventStreamError,
    InsecureTransportWarning,
    InvalidParameterError,
    LockCloudError,
    MediaDownloadTimeoutError,
    MediaTooLargeError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    PlanExpiredError,
    RateLimitedError,
    RelayError,
    RemoteUnlockDisabledError,
    RequestTimeoutError,
    ResponseTooLargeError,
    ServerError,
    ServiceNotSubscribedError,
    SignatureError,
    StreamAuthenticationError,
    StreamSubscriptionError,
    SubscribeError,
    TLSVerificationError,
    TokenError,
    TokenStoreError,
    TransportError,
    UnexpectedResponseError,
    UnsupportedError,
    ValidationError,
)
from lockcloud._core.retry import RetryPolicy
from lockcloud._core.tokens import (
    FileTokenStore,
    MemoryTokenStore,
    StoredRenewal,
    Token,
    TokenRenewal,
    TokenStore,
)
from lockcloud._version import __version__
from lockcloud.enums import (
    AccessCodeState,
    AlbumEventType,
    DeliveryStatus,
    EnrollmentOperation,
    LockRadio,
    MediaFileType,
    OfflineCodeKind,
    PasswordType,
    RemoteUnlockType,
    RevokeReason,
    SpecialAttribute,
    StoragePlan,
    UnlockMethodEvent,
    UnlockType,
    UserType,
    Weekday,
)
from lockcloud.models import (
    Album,
    AlbumEntry,
    DynamicCode,
    MediaFile,
    OfflineCode,
    PasswordTicket,
    RemoteUnlockMethod,
    Schedule,
    SealedPin,
    TemporaryCode,
    UnlockKey,
)
from lockcloud.regions import Region
from lockcloud.resources.enrollment import Enrollment, EnrollmentResult, EnrollmentStatus

if TYPE_CHECKING:
    from lockcloud._core.redis_tokens import RedisTokenStore as RedisTokenStore


def __getattr__(name: str) -> Any:
    # RedisTokenStore needs the optional redis package: imported on first use, never by `import lockcloud` (nor by a
    # star import, so it is left out of __all__).
    if name == "RedisTokenStore":
        from lockcloud._core.redis_tokens import RedisTokenStore

        return RedisTokenStore
    raise AttributeError(f"module 'lockcloud' has no attribute {name!r}")


__all__ = [
    "APIError",
    "AccessCodeDeliveryError",
    "AccessCodeDeliveryTimeoutError",
    "AccessCodeState",
    "Album",
    "AlbumEntry",
    "AlbumEventType",
    "AuthenticationError",
    "BrokerError",
    "ClockSkewError",
    "ConnectError",
    "CredentialsError",
    "CryptoError",
    "DecodeError",
    "DeliveryStatus",
    "DeviceError",
    "DeviceNotFoundError",
    "DeviceOfflineError",
    "DynamicCode",
    "Enrollment",
    "EnrollmentOperation",
    "EnrollmentResult",
    "EnrollmentStatus",
    "EventStreamError",
    "FileTokenStore",
    "InsecureTransportWarning",
    "InvalidParameterError",
    "LockCloud",
    "LockCloudError",
    "LockRadio",
    "MediaDownloadTimeoutError",
    "MediaFile",
    "MediaFileType",
    "MediaTooLargeError",
    "MemoryTokenStore",
    "NotFoundError",
    "OfflineCode",
    "OfflineCodeKind",
    "OutcomeUnknownError",
    "PasswordTicket",
    "PasswordType",
    "PermissionDeniedError",
    "PlanExpiredError",
    "RateLimitedError",
    "Region",
    "RelayError",
    "RemoteUnlockDisabledError",
    "RemoteUnlockMethod",
    "RemoteUnlockType",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "RevokeReason",
    "Schedule",
    "SealedPin",
    "ServerError",
    "ServiceNotSubscribedError",
    "SignatureError",
    "SpecialAttribute",
    "StoragePlan",
    "StoredRenewal",
    "StreamAuthenticationError",
    "StreamSubscriptionError",
    "SubscribeError",
    "TLSVerificationError",
    "TemporaryCode",
    "Token",
    "TokenError",
    "TokenRenewal",
    "TokenStore",
    "TokenStoreError",
    "TransportError",
    "TuyaAuth",
    "UnexpectedResponseError",
    "UnlockKey",
    "UnlockMethodEvent",
    "UnlockType",
    "UnsupportedError",
    "UserType",
    "ValidationError",
    "Weekday",
    "__version__",
]

"""lockcloud: an asyncio client for smart locks on the Tuya cloud.

Start with :class:`LockCloud`. Errors are described in one place: :mod:`lockcloud._core.errors` (all importable from here).
"""

from typing import TYPE_CHECKING, Any

from lockcloud._client import LockCloud
from lockcloud._core.auth import TuyaAuth
from lockcloud._core.errors import (
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
    AlbumEventType,
    EnrollmentOperation,
    MediaFileType,
    PasswordType,
    RemoteUnlockType,
    RevokeReason,
    SpecialAttribute,
    StoragePlan,
    UnlockMethodEvent,
    UnlockType,
    UserType,
)
from lockcloud.history_models import (
    AlarmKind,
    BatteryState,
    DoorState,
    HistoryRecord,
    HistoryStats,
    LockStatus,
    Member,
    MemberKey,
    MemberRole,
    RecordType,
    UnlockMethod,
)
from lockcloud.models import (
    Album,
    AlbumEntry,
    MediaFile,
    PasswordTicket,
    RemoteUnlockMethod,
    SealedPin,
    UnlockKey,
)
from lockcloud.regions import Region
from lockcloud.resources.enrollment import Enrollment, EnrollmentResult, EnrollmentStatus
from lockcloud.resources.history import HistoryPages

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
    "AlarmKind",
    "Album",
    "AlbumEntry",
    "AlbumEventType",
    "AuthenticationError",
    "BatteryState",
    "BrokerError",
    "ClockSkewError",
    "ConnectError",
    "CredentialsError",
    "CryptoError",
    "DecodeError",
    "DeviceError",
    "DeviceNotFoundError",
    "DeviceOfflineError",
    "DoorState",
    "Enrollment",
    "EnrollmentOperation",
    "EnrollmentResult",
    "EnrollmentStatus",
    "EventStreamError",
    "FileTokenStore",
    "HistoryPages",
    "HistoryRecord",
    "HistoryStats",
    "InsecureTransportWarning",
    "InvalidParameterError",
    "LockCloud",
    "LockCloudError",
    "LockStatus",
    "MediaDownloadTimeoutError",
    "MediaFile",
    "MediaFileType",
    "MediaTooLargeError",
    "Member",
    "MemberKey",
    "MemberRole",
    "MemoryTokenStore",
    "NotFoundError",
    "OutcomeUnknownError",
    "PasswordTicket",
    "PasswordType",
    "PermissionDeniedError",
    "PlanExpiredError",
    "RateLimitedError",
    "RecordType",
    "Region",
    "RelayError",
    "RemoteUnlockDisabledError",
    "RemoteUnlockMethod",
    "RemoteUnlockType",
    "RequestTimeoutError",
    "ResponseTooLargeError",
    "RetryPolicy",
    "RevokeReason",
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
    "Token",
    "TokenError",
    "TokenRenewal",
    "TokenStore",
    "TokenStoreError",
    "TransportError",
    "TuyaAuth",
    "UnexpectedResponseError",
    "UnlockKey",
    "UnlockMethod",
    "UnlockMethodEvent",
    "UnlockType",
    "UnsupportedError",
    "UserType",
    "ValidationError",
    "__version__",
]

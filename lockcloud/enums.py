"""Every enumerated value of the two lock API documents.

All of them are *open*: a value Tuya adds later decodes to a pseudo-member whose ``is_known`` is false and whose
``value`` is the raw value, instead of failing (:class:`OpenStrEnum`, :class:`OpenIntEnum`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Self

__all__ = [
    "AccessCodeState",
    "AlbumEventType",
    "DeliveryStatus",
    "EnrollmentOperation",
    "LockRadio",
    "MediaFileType",
    "OfflineCodeKind",
    "OpenIntEnum",
    "OpenStrEnum",
    "PasswordType",
    "RemoteUnlockType",
    "RevokeReason",
    "SpecialAttribute",
    "StoragePlan",
    "UnlockMethodEvent",
    "UnlockType",
    "UserType",
    "Weekday",
]


class OpenStrEnum(enum.StrEnum):
    """A string enum that turns unknown values into pseudo-members instead of raising.

    ``Enum("newValue")`` returns a member whose ``name`` is ``"UNKNOWN"``, whose ``value`` is the raw string and whose
    ``is_known`` is false, so new values from Tuya flow through decoding and round-trip unchanged.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            # The documents type some of these as Integer while their samples show strings (``orderCode``).
            return cls(str(value))
        if not isinstance(value, str):
            return None
        alias = cls._aliases().get(value)
        if alias is not None:
            return alias
        member = str.__new__(cls, value)
        member._name_ = "UNKNOWN"
        member._value_ = value
        return member

    @classmethod
    def _aliases(cls) -> Mapping[str, Self]:
        """Other spellings of known members; override to map them."""
        return {}

    @property
    def is_known(self) -> bool:
        return self._name_ != "UNKNOWN"


class OpenIntEnum(enum.IntEnum):
    """An int enum that keeps unknown values as pseudo-members (see :class:`OpenStrEnum`)."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return cls(int(value))
            return None
        member = int.__new__(cls, value)
        member._name_ = "UNKNOWN"
        member._value_ = value
        return member

    @property
    def is_known(self) -> bool:
        return self._name_ != "UNKNOWN"


class UserType(OpenIntEnum):
    """Who a key belongs to (``user_type``)."""

    HOME_USER = 1
    #: Not a member of the home; the documents say to use this for Wi-Fi locks.
    NON_HOME_USER = 2


# The DP-code spelling (``unlock_*``) of each unlock type. The sync, rename and duress-removal endpoints use it; the
# others use the plain spelling that is each member's value.
_DP_CODES: dict[str, str] = {
    "FINGERPRINT": "unlock_fingerprint",
    "PASSWORD": "unlock_password",
    "CARD": "unlock_card",
    "FACE": "unlock_face",
    "REMOTE_CONTROL": "unlock_telecontrol_kit",
    "HAND": "unlock_hand",
    "FINGER_VEIN": "unlock_finger_vein",
}


class UnlockType(OpenStrEnum):
    """An unlocking method, in either of the two spellings the documents use.

    ``UnlockType("fingerprint")`` and ``UnlockType("unlock_fingerprint")`` are the same member. Send
    :attr:`plain` to endpoints that take ``fingerprint``/``card``/``remoteControl`` and :attr:`dp_code` to those that
    take ``unlock_fingerprint``/``unlock_card``/``unlock_telecontrol_kit``.

    Palm print and finger vein appear only as DP codes in the documents, so their value is the DP code; no plain
    spelling is invented for them.
    """

    FINGERPRINT = "fingerprint"
    PASSWORD = "password"
    CARD = "card"
    FACE = "face"
    REMOTE_CONTROL = "remoteControl"
    HAND = "unlock_hand"
    FINGER_VEIN = "unlock_finger_vein"

    @classmethod
    def _aliases(cls) -> Mapping[str, Self]:
        return {code: cls[name] for name, code in _DP_CODES.items() if code != cls[name].value}

    @property
    def plain(self) -> str:
        """The ``fingerprint`` / ``remoteControl`` spelling (assigned keys, enroll, delete, cancel, duress on)."""
        return str(self.value)

    @property
    def dp_code(self) -> str:
        """The ``unlock_fingerprint`` / ``unlock_telecontrol_kit`` spelling (sync, rename, duress off).

        An unknown value is passed through unchanged: it cannot be translated.
        """
        if not self.is_known:
            return str(self.value)
        return _DP_CODES[self.name]


class RemoteUnlockType(OpenStrEnum):
    """The lock's remote-unlock switches (``remote_unlock_type``)."""

    WITHOUT_PASSWORD = "remoteUnlockWithoutPwd"
    WITH_PASSWORD = "remoteUnlockWithPwd"


class PasswordType(OpenStrEnum):
    """How a password in a request body is protected (``password_type``)."""

    #: Encrypted with the key of a password ticket.
    TICKET = "ticket"


class RevokeReason(OpenIntEnum):
    """Why a pending remote unlock is revoked (``type`` of the revoke call)."""

    REJECT = 1
    CANCEL = 2


class MediaFileType(OpenIntEnum):
    """Which latest cover image to fetch (``file_type``)."""

    REMOTE_UNLOCK = 1
    ALERT = 2


class SpecialAttribute(OpenIntEnum):
    """Special attributes of an unlocking method (``attribute``)."""

    VOICE = 1
    PHOTO_CAPTURE = 2


class AlbumEventType(OpenIntEnum):
    """What an album entry records (``eventType``, 0-28 in the document)."""

    ANTI_PRY_ALERT = 0
    REMOTE_UNLOCK_REQUEST = 1
    FINGERPRINT_ATTEMPT_FAILED = 2
    PASSWORD_ATTEMPT_FAILED = 3
    CARD_ATTEMPT_FAILED = 4
    FACE_RECOGNITION_FAILED = 5
    PALM_PRINT_RECOGNITION_FAILED = 6
    FINGER_VEIN_RECOGNITION_FAILED = 7
    UNLOCK_WITH_FINGERPRINT = 8
    UNLOCK_WITH_PASSWORD = 9
    UNLOCK_WITH_CARD = 10
    UNLOCK_WITH_FACE = 11
    UNLOCK_WITH_PALM_PRINT = 12
    UNLOCK_WITH_FINGER_VEIN = 13
    UNLOCK_WITH_TEMPORARY_PASSWORD = 14
    UNLOCK_WITH_DYNAMIC_PASSWORD = 15
    REMOTE_UNLOCK = 16
    TEMPORARY_PASSWORD_UNLOCK_REPORT = 17
    DOORBELL_REQUEST = 18
    DURESS_ALARM = 19
    LOW_BATTERY = 20
    MECHANICAL_KEY_ATTEMPT = 21
    HIGH_TEMPERATURE = 22
    DOORBELL_AND_REMOTE_UNLOCK = 23
    LOITERING = 24
    LOCK_TAMPERING = 25
    UNLOCK_WITH_SPECIAL_FINGERPRINT = 26
    UNLOCK_IN_ARM_MODE = 27
    UNLOCK_WITH_REMOTE_CONTROL = 28


class StoragePlan(OpenStrEnum):
    """The cloud storage plan an album query used (``orderCode``)."""

    CLOUD_STORAGE_7_DAYS = "doorlock_cloud_storage_7day"
    CLOUD_STORAGE_30_DAYS = "doorlock_cloud_storage_30day"
    FREE_STORAGE_3_DAYS = "cloud_free_storage_3day"


class EnrollmentOperation(OpenIntEnum):
    """``operate`` of the ``doorUnlockMethodStatus`` push message."""

    START = 1
    CANCEL = 2


class UnlockMethodEvent(OpenStrEnum):
    """``event`` of the ``doorUnlockMethodStatus`` push message."""

    ENTRY = "unlockMethodEntry"
    DELETE = "unlockMethodDelete"


# -- guest access codes (cloud.access_codes) --------------------------------------------------------------------


class LockRadio(OpenStrEnum):
    """How a lock reaches the cloud; it decides the PIN length of a temporary code and what ``phase`` means."""

    WIFI = "wifi"
    ZIGBEE = "zigbee"
    BLUETOOTH = "bluetooth"

    @property
    def pin_length(self) -> int:
        """Digits of an online temporary code on this radio: 7 on Wi-Fi locks, 6 on Zigbee and Bluetooth ones."""
        return 7 if self is LockRadio.WIFI else 6


class AccessCodeState(OpenStrEnum):
    """One state for a temporary code, whatever the radio's own ``phase`` numbers are.

    ``UNKNOWN`` members (``is_known`` false) keep a phase no document names, spelt ``"phase-<n>"``.
    """

    #: Created in the cloud, not yet on the lock (Zigbee "to be created", Wi-Fi/Bluetooth "to be sent").
    PENDING_DELIVERY = "pending_delivery"
    #: On the lock and usable inside its window.
    ACTIVE = "active"
    #: Frozen: on the lock but refused until unfrozen.
    FROZEN = "frozen"
    #: On the lock, but its window has ended.
    EXPIRED = "expired"
    #: Being removed from the lock.
    DELETING = "deleting"
    DELETED = "deleted"
    #: The lock refused it (see the code's ``delivery_status`` for why, on Zigbee locks).
    FAILED = "failed"


class DeliveryStatus(OpenIntEnum):
    """What a Zigbee lock answered to a temporary code (``delivery_status``)."""

    IN_PROGRESS = 1
    SUCCEEDED = 2
    FAILED = 3
    ALREADY_EXISTS = 4
    CAPACITY_REACHED = 5
    OVERLAPPING = 6


class Weekday(OpenIntEnum):
    """A day of a weekly schedule; the value is its bit in ``working_day`` (bit 0 is Sunday)."""

    SUNDAY = 1
    MONDAY = 2
    TUESDAY = 4
    WEDNESDAY = 8
    THURSDAY = 16
    FRIDAY = 32
    SATURDAY = 64


class OfflineCodeKind(OpenStrEnum):
    """The ``type`` of an offline code request."""

    MULTIPLE = "multiple"
    ONCE = "once"
    CLEAR_ONE = "clear_one"
    CLEAR_ALL = "clear_all"

"""Guest access codes: ``cloud.access_codes`` (defined in :mod:`lockcloud.resources.access_codes`)."""

from lockcloud.resources.access_codes import (
    DEFAULT_DELIVERY_TIMEOUT,
    MAX_CODE_NAME_LENGTH,
    AccessCodes,
    CodeDelivery,
)

__all__ = ["DEFAULT_DELIVERY_TIMEOUT", "MAX_CODE_NAME_LENGTH", "AccessCodes", "CodeDelivery"]

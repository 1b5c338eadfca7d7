"""Remote unlock: ``cloud.remote_unlock`` (defined in :mod:`lockcloud.resources.remote_unlock`)."""

from lockcloud.resources.remote_unlock import (
    DEFAULT_MAX_MEDIA_BYTES,
    DEFAULT_MEDIA_TIMEOUT,
    MediaSource,
    RemoteUnlock,
)

__all__ = ["DEFAULT_MAX_MEDIA_BYTES", "DEFAULT_MEDIA_TIMEOUT", "MediaSource", "RemoteUnlock"]

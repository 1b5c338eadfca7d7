"""Typed results of the lock endpoints.

Models are frozen attrs classes with snake_case fields, structured by the shared converter, which accepts camelCase
or snake_case keys and ignores keys it does not know. Fields holding keys (``ticket_key``, ``file_key``,
``media_key``) are left out of ``repr``.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs
import cattrs

from lockcloud._converter import structure
from lockcloud._errors import UnexpectedResponseError
from lockcloud.enums import AlbumEventType, RemoteUnlockType, StoragePlan, UnlockType

__all__ = [
    "Album",
    "AlbumEntry",
    "MediaFile",
    "PasswordTicket",
    "RemoteUnlockMethod",
    "UnlockKey",
]


@attrs.frozen
class UnlockKey:
    """One unlocking method (a fingerprint, card, password ...) of a lock.

    ``hijack`` (duress alarm on) is only reported for keys assigned to a user.
    """

    unlock_no: int
    unlock_type: UnlockType
    hijack: bool | None = None


@attrs.frozen
class PasswordTicket:
    """A single-use temporary key for one remote-unlock call.

    ``ticket_key`` is encrypted with the access secret (:func:`lockcloud.crypto.decrypt_ticket_key`).
    ``expire_time`` is the remaining validity in seconds at the time it was issued.
    """

    ticket_id: str
    ticket_key: str = attrs.field(repr=False)
    expire_time: int | None = None


@attrs.frozen
class RemoteUnlockMethod:
    """A remote-unlock switch of a lock and whether it is on."""

    remote_unlock_type: RemoteUnlockType
    open: bool


def _join_url(file_url: str, file_path: str | None) -> str:
    # Tuya sometimes gives the bucket root in file_url and the object in file_path.
    if not file_path:
        return file_url
    if urlsplit(file_url).path.strip("/"):
        return file_url
    return file_url.rstrip("/") + "/" + file_path.lstrip("/")


@attrs.frozen
class MediaFile:
    """The latest cover image of a remote unlock or an alert; download it with ``remote_unlock.download_media``."""

    file_url: str
    file_key: str = attrs.field(repr=False)
    bucket: str | None = None
    file_path: str | None = None

    @property
    def download_url(self) -> str:
        """``file_url``, with ``file_path`` appended when ``file_url`` is only the bucket's root."""
        return _join_url(self.file_url, self.file_path)


@attrs.frozen
class AlbumEntry:
    """One cover image (and, for some events, a video) in a lock's album.

    ``event_type`` keeps values that are not in the document (``event_type.is_known`` is then false).
    """

    event_type: AlbumEventType
    file_url: str | None = None
    file_key: str | None = attrs.field(default=None, repr=False)
    file_id: int | None = None
    file_path: str | None = None
    media_path: str | None = None
    media_key: str | None = attrs.field(default=None, repr=False)
    media_bucket: str | None = None
    upload_time: _dt.datetime | None = None

    @property
    def download_url(self) -> str | None:
        """The cover image's URL, or ``None`` when the entry has none."""
        if not self.file_url:
            return None
        return _join_url(self.file_url, self.file_path)


@attrs.frozen
class Album:
    """The result of the album query: entries, the event types present, and the storage plan used."""

    album_list: list[AlbumEntry] = attrs.field(factory=list)
    event_types: list[AlbumEventType] = attrs.field(factory=list)
    order_code: StoragePlan | None = None

    @property
    def entries(self) -> list[AlbumEntry]:
        return self.album_list

    @property
    def storage_plan(self) -> StoragePlan | None:
        return self.order_code


T = TypeVar("T")

_SECRET_KEYS = frozenset({"ticket_key", "ticketKey", "file_key", "fileKey", "media_key", "mediaKey"})


def _redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<redacted>" if k in _SECRET_KEYS else _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    return value


def bool_result(result: Any) -> bool:
    """The result of a call documented as Boolean or "Object": the envelope already said success, so only an
    explicit ``false`` is reported as False."""
    return result is not False


def decode_result(value: Any, cls: type[T], *, method: str, path: str) -> T:
    """Structure an envelope's ``result`` into ``cls``, or raise :class:`UnexpectedResponseError`.

    The error's ``body`` keeps the result with every key field redacted; the message names the fields that did not
    fit but never their values (one of them could be a ticket key).
    """
    try:
        return structure(value, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError, KeyError, AttributeError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            details = "; ".join(cattrs.transform_error(exc, path=cls.__name__))
        else:
            details = type(exc).__name__
        body = json.dumps(_redacted(value), default=str).encode()[:2048]
        raise UnexpectedResponseError(
            f"the result does not fit {cls.__name__}: {details}",
            method=method,
            path=path,
            status_code=200,
            body=body,
        ) from None

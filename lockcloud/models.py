"""Typed results of the lock endpoints.

Models are frozen attrs classes with snake_case fields, structured by the shared converter, which accepts camelCase
or snake_case keys and ignores keys it does not know. Fields holding keys (``ticket_key``, ``file_key``,
``media_key``) are left out of ``repr``.
"""

from __future__ import annotations

import datetime as _dt
import json
import typing
from typing import Any, TypeVar
from urllib.parse import urlsplit

import attrs

from lockcloud._core.converter import fast_structure, structure
from lockcloud._core.errors import UnexpectedResponseError
from lockcloud.enums import AlbumEventType, RemoteUnlockType, StoragePlan, UnlockType

__all__ = [
    "Album",
    "AlbumEntry",
    "MediaFile",
    "PasswordTicket",
    "RemoteUnlockMethod",
    "SealedPin",
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
class SealedPin:
    """A PIN encrypted with the key of a fresh ticket, for exactly one call (:meth:`LockCloud.seal_pin`)."""

    ticket_id: str
    password: str = attrs.field(repr=False)


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
# An error keeps a redacted sample of what did not fit, and names the first few problems, then counts the rest:
# a 100,000-item answer must not build a 20 MB message.
_SAMPLE_ITEMS = 20
_SAMPLE_DEPTH = 8
_SHOWN_PROBLEMS = 5


def _redacted(value: Any, depth: int = 0) -> Any:
    if depth >= _SAMPLE_DEPTH and isinstance(value, dict | list):
        return "..."
    if isinstance(value, dict):
        items = list(value.items())
        sample = {
            str(k): "<redacted>" if k in _SECRET_KEYS else _redacted(v, depth + 1)
            for k, v in items[:_SAMPLE_ITEMS]
        }
        if len(items) > _SAMPLE_ITEMS:
            sample["..."] = f"{len(items) - _SAMPLE_ITEMS} more keys"
        return sample
    if isinstance(value, list):
        sample_list = [_redacted(item, depth + 1) for item in value[:_SAMPLE_ITEMS]]
        if len(value) > _SAMPLE_ITEMS:
            sample_list.append(f"... {len(value) - _SAMPLE_ITEMS} more items")
        return sample_list
    if isinstance(value, str) and len(value) > 200:
        return value[:200] + f"... ({len(value)} characters)"
    return value


def _location(exc: BaseException) -> str:
    for note in getattr(exc, "__notes__", ()):
        name = getattr(note, "name", None)
        if isinstance(name, str):
            return f".{name}"
        index = getattr(note, "index", None)
        if index is not None:
            return f"[{index}]"
    return ""


def _problems(exc: BaseException, root: str) -> str:
    """``Model[3].field: ValueError; ...`` for the first few leaves of cattrs' error tree, then how many more."""
    shown: list[str] = []
    total = 0
    pending: list[tuple[BaseException, str]] = [(exc, root)]
    while pending:
        current, where = pending.pop()
        if isinstance(current, BaseExceptionGroup):
            pending.extend((sub, where + _location(sub)) for sub in reversed(current.exceptions))
            continue
        total += 1
        if len(shown) < _SHOWN_PROBLEMS:
            shown.append(f"{where}: {type(current).__name__}")
    text = "; ".join(shown)
    return text + (f"; and {total - len(shown)} more" if total > len(shown) else "")


def bool_result(result: Any) -> bool:
    """The result of a call documented as Boolean or "Object": the envelope already said success, so only an
    explicit ``false`` is reported as False."""
    return result is not False


def decode_result(value: Any, cls: type[T], *, method: str, path: str) -> T:
    """Structure an envelope's ``result`` into ``cls``, or raise :class:`UnexpectedResponseError`.

    The error's ``body`` keeps a sample of the result with every key field redacted; the message names the first
    fields that did not fit but never their values (one of them could be a ticket key), then counts the rest.
    """
    origin = typing.get_origin(cls)
    args = typing.get_args(cls)
    name = f"list[{getattr(args[0], '__name__', args[0])}]" if origin is list and args else cls.__name__
    details: str
    if origin is list:
        if not isinstance(value, list):
            # A string or an object iterated as a list would fail once per character or key.
            details = f"expected a list, got {type(value).__name__}"
        else:
            items, details = _structure_items(value, args[0] if args else Any, name)
            if not details:
                return items  # type: ignore[return-value]
    else:
        try:
            return structure(value, cls)
        except RecursionError:
            details = "nested too deeply"
        except ExceptionGroup as exc:  # cattrs' BaseValidationError (cattrs is imported on first use)
            details = _problems(exc, name)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
            details = type(exc).__name__
    try:
        body = json.dumps(_redacted(value), default=str).encode()[:2048]
    except (ValueError, RecursionError):
        body = b""
    raise UnexpectedResponseError(
        f"the result does not fit {name}: {details}",
        method=method,
        path=path,
        status_code=200,
        body=body,
    )


_STRUCTURE_FAILURES = (
    ExceptionGroup,  # cattrs' BaseValidationError
    RecursionError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    OverflowError,
)


def _structure_items(value: list[Any], item_type: Any, name: str) -> tuple[list[Any], str]:
    """Each item with the fast converter; the first few failures explained in detail, the rest counted."""
    items: list[Any] = []
    shown: list[str] = []
    failed = 0
    for index, item in enumerate(value):
        try:
            items.append(fast_structure(item, item_type))
        except _STRUCTURE_FAILURES:
            failed += 1
            if len(shown) < _SHOWN_PROBLEMS:
                shown.append(_item_problem(item, item_type, f"{name}[{index}]"))
    if not failed:
        return items, ""
    text = "; ".join(shown)
    if failed > len(shown):
        text += f"; and {failed - len(shown)} more of {len(value)} items"
    return [], text


def _item_problem(item: Any, item_type: Any, where: str) -> str:
    try:
        structure(item, item_type)
    except ExceptionGroup as exc:  # cattrs' BaseValidationError
        return _problems(exc, where)
    except RecursionError:
        return f"{where}: nested too deeply"
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        return f"{where}: {type(exc).__name__}"
    return f"{where}: does not fit"

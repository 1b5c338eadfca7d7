"""Remote unlock: switches, tickets, opening and closing the door, media.

Reach it as ``cloud.remote_unlock``. The raw endpoints are here one method each; the flows people want sit on top:

* :meth:`RemoteUnlock.open_door` — unlock with a PIN: fetch a ticket, decrypt its key, encrypt the PIN, open;
* :meth:`RemoteUnlock.open_door_without_password` — password-free open (v1.0, or v1.1 for a channel);
* :meth:`RemoteUnlock.unlock` / :meth:`RemoteUnlock.lock` / :meth:`RemoteUnlock.operate_door` — door-operate;
* :meth:`RemoteUnlock.download_media` / :meth:`RemoteUnlock.download_media_to` — fetch and decrypt a cover image.

Every flow fetches its own ticket and spends it on exactly one call; a ticket is never reused, and no call that can
open a door is replayed once it may have reached Tuya (:class:`~lockcloud.OutcomeUnknownError` instead).

When an unlock call is refused, the flow checks the lock's remote-unlock switches (one cheap, idempotent GET, made
only on that failure path). If the switch the flow needs is off, :class:`~lockcloud.RemoteUnlockDisabledError`
naming it is raised, chained to Tuya's error; otherwise Tuya's error is raised unchanged. Tuya documents no error code
for "switch off", so the switch list is the evidence, not a guessed code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from lockcloud._core import validation as check
from lockcloud._core.errors import (
    APIError,
    AuthenticationError,
    DeviceNotFoundError,
    DeviceOfflineError,
    LockCloudError,
    PermissionDeniedError,
    RateLimitedError,
    RemoteUnlockDisabledError,
    ValidationError,
)
from lockcloud._core.media import download
from lockcloud._core.validation import seconds
from lockcloud.crypto import MediaDecryptor
from lockcloud.enums import MediaFileType, PasswordType, RemoteUnlockType, RevokeReason
from lockcloud.models import (
    Album,
    AlbumEntry,
    MediaFile,
    PasswordTicket,
    RemoteUnlockMethod,
)
from lockcloud.resources._base import Resource

__all__ = ["DEFAULT_MAX_MEDIA_BYTES", "DEFAULT_MEDIA_TIMEOUT", "MediaSource", "RemoteUnlock"]

#: Default cap on a media download (encrypted size); cover images are far smaller.
DEFAULT_MAX_MEDIA_BYTES = 16 * 1024 * 1024
#: Default total time for one media download, in seconds: a full-size file at about 300 KB/s.
DEFAULT_MEDIA_TIMEOUT = 60.0

#: What the download methods accept: a model from :meth:`RemoteUnlock.latest_media` / :meth:`RemoteUnlock.albums`,
#: or a ``(url, file_key)`` pair.
MediaSource = MediaFile | AlbumEntry | tuple[str, str]

# Refusals that say nothing about the lock's switches: looking at the switch list would not explain them.
_NOT_A_SWITCH_PROBLEM = (
    AuthenticationError,
    PermissionDeniedError,
    RateLimitedError,
    DeviceOfflineError,
    DeviceNotFoundError,
)


class RemoteUnlock(Resource):
    """The remote-unlock endpoints and flows of one :class:`~lockcloud.LockCloud` (``RemoteUnlock(cloud)``)."""

    # -- switches --------------------------------------------------------------------------------------------------

    async def list_methods(self, device_id: str) -> list[RemoteUnlockMethod]:
        """The lock's remote-unlock switches and whether each is on (GET ``.../door-lock/remote-unlocks``).

        The document shows one object; locks answer with a list. Both come back as a list.
        """
        device = check.device_id(device_id)
        path = f"/v1.0/devices/{device}/door-lock/remote-unlocks"
        result = await self._get_raw(path)
        if result is None:
            return []
        items = [result] if isinstance(result, dict) else result
        return await self._decode(items, list[RemoteUnlockMethod], method="GET", path=path)

    async def set_method_enabled(
        self, device_id: str, remote_unlock_type: RemoteUnlockType | str, enabled: bool
    ) -> bool:
        """Turn a remote-unlock switch on or off (POST ``.../door-lock/remote-unlock/config``).

        Idempotent: it sets the switch to a given value, so a replay leaves the same state.
        """
        device = check.device_id(device_id)
        body = {
            "remote_unlock_type": check.remote_unlock_type(remote_unlock_type).value,
            "open": check.flag(enabled, "enabled"),
        }
        path = f"/v1.0/devices/{device}/door-lock/remote-unlock/config"
        return await self._call("POST", path, json=body, cast_to=bool, unsafe=False)

    # -- raw endpoints ---------------------------------------------------------------------------------------------

    async def get_password_ticket(self, device_id: str) -> PasswordTicket:
        """A new single-use ticket (POST ``/v1.0/smart-lock/devices/{device_id}/password-ticket``).

        Unsafe: each call mints a ticket, so a timeout after sending raises
        :class:`~lockcloud.OutcomeUnknownError` rather than minting another behind the caller's back.
        """
        device = check.device_id(device_id)
        path = f"/v1.0/smart-lock/devices/{device}/password-ticket"
        return await self._call("POST", path, cast_to=PasswordTicket, unsafe=True)

    async def open_door_with_ticket(self, device_id: str, *, ticket_id: str, password: str) -> bool:
        """Unlock with an already encrypted PIN (POST ``.../door-lock/open-door``). Unsafe: never replayed.

        ``password`` is :func:`lockcloud.crypto.encrypt_password` of the PIN with the ticket's key;
        :meth:`open_door` does all of this.
        """
        device = check.device_id(device_id)
        body = {
            "password": check.encrypted_password(password),
            "password_type": PasswordType.TICKET.value,
            "ticket_id": check.ticket_id(ticket_id),
        }
        path = f"/v1.0/devices/{device}/door-lock/open-door"
        return await self._call("POST", path, json=body, cast_to=bool, unsafe=True)

    async def open_door_password_free(
        self, device_id: str, *, ticket_id: str, channel_id: int | None = None
    ) -> bool:
        """Unlock without a password: v1.0, or v1.1 when ``channel_id`` is given. Unsafe: never replayed."""
        device = check.device_id(device_id)
        body: dict[str, Any] = {"ticket_id": check.ticket_id(ticket_id)}
        if channel_id is None:
            path = f"/v1.0/devices/{device}/door-lock/password-free/open-door"
        else:
            body["channel_id"] = check.channel_id(channel_id)
            path = f"/v1.1/devices/{device}/door-lock/password-free/open-door"
        return await self._call("POST", path, json=body, cast_to=bool, unsafe=True)

    async def door_operate(self, device_id: str, *, ticket_id: str, open: bool) -> bool:
        """Open (``open=True``) or close the door without a password (POST ``.../password-free/door-operate``).

        Unsafe: never replayed.
        """
        device = check.device_id(device_id)
        body = {"ticket_id": check.ticket_id(ticket_id), "open": check.flag(open, "open")}
        path = f"/v1.0/smart-lock/devices/{device}/password-free/door-operate"
        return await self._call("POST", path, json=body, cast_to=bool, unsafe=True)

    async def revoke(self, device_id: str, reason: RevokeReason | int) -> bool:
        """Revoke a pending password-free unlock: 1 reject, 2 cancel (PUT ``.../open-door/cancel``).

        Unsafe: it acts on whatever request is pending at the time, so a late replay could reject a newer one.
        """
        device = check.device_id(device_id)
        body = {"type": check.revoke_reason(reason).value}
        path = f"/v1.0/devices/{device}/door-lock/password-free/open-door/cancel"
        return await self._call("PUT", path, json=body, cast_to=bool, unsafe=True)

    # -- flows -----------------------------------------------------------------------------------------------------

    async def open_door(self, device_id: str, *, pin: str) -> bool:
        """Unlock with the lock's 6-digit PIN: ticket, decrypt its key, encrypt the PIN, open-door.

        Raises :class:`~lockcloud.RemoteUnlockDisabledError` when the lock's ``remoteUnlockWithPwd`` switch is off,
        :class:`~lockcloud.OutcomeUnknownError` when the open-door call was sent but no answer came back.
        """
        device = check.device_id(device_id)
        digits = check.open_door_pin(pin)
        sealed = await self._cloud.seal_pin(device, digits)
        try:
            return await self.open_door_with_ticket(
                device, ticket_id=sealed.ticket_id, password=sealed.password
            )
        except APIError as error:
            await self._raise_if_switched_off(device, RemoteUnlockType.WITH_PASSWORD, error)
            raise

    async def open_door_without_password(self, device_id: str, *, channel_id: int | None = None) -> bool:
        """Unlock without a PIN with a fresh ticket (v1.1 with ``channel_id`` for access-control devices).

        Raises :class:`~lockcloud.RemoteUnlockDisabledError` when ``remoteUnlockWithoutPwd`` is off.
        """
        device = check.device_id(device_id)
        channel = None if channel_id is None else check.channel_id(channel_id)
        ticket = await self.get_password_ticket(device)
        try:
            return await self.open_door_password_free(device, ticket_id=ticket.ticket_id, channel_id=channel)
        except APIError as error:
            await self._raise_if_switched_off(device, RemoteUnlockType.WITHOUT_PASSWORD, error)
            raise

    async def operate_door(self, device_id: str, *, open: bool) -> bool:
        """Open or close the door through door-operate with a fresh ticket.

        When opening is refused and ``remoteUnlockWithoutPwd`` is off, raises
        :class:`~lockcloud.RemoteUnlockDisabledError`. A refused close is reported as Tuya's error: the documents
        do not say that closing depends on that switch.
        """
        device = check.device_id(device_id)
        wanted = check.flag(open, "open")
        ticket = await self.get_password_ticket(device)
        try:
            return await self.door_operate(device, ticket_id=ticket.ticket_id, open=wanted)
        except APIError as error:
            if wanted:
                await self._raise_if_switched_off(device, RemoteUnlockType.WITHOUT_PASSWORD, error)
            raise

    async def unlock(self, device_id: str) -> bool:
        """Open the door (door-operate, ``open: true``)."""
        return await self.operate_door(device_id, open=True)

    async def lock(self, device_id: str) -> bool:
        """Close the door (door-operate, ``open: false``)."""
        return await self.operate_door(device_id, open=False)

    async def _raise_if_switched_off(self, device_id: str, switch: RemoteUnlockType, error: APIError) -> None:
        if isinstance(error, _NOT_A_SWITCH_PROBLEM):
            return
        try:
            methods = await self.list_methods(device_id)
        except LockCloudError:
            # Locks that cannot list their switches (Wi-Fi locks) leave Tuya's own error as the answer.
            return
        if any(m.remote_unlock_type is switch and not m.open for m in methods):
            raise RemoteUnlockDisabledError(device_id, switch.value, cause=error) from error

    # -- media -----------------------------------------------------------------------------------------------------

    async def latest_media(
        self, device_id: str, file_type: MediaFileType | int = MediaFileType.REMOTE_UNLOCK
    ) -> MediaFile | None:
        """The latest cover image of a remote unlock (1) or an alert (2); ``None`` when there is none.

        GET ``.../door-lock/latest/media/url?file_type=``.
        """
        device = check.device_id(device_id)
        kind = check.media_file_type(file_type)
        path = f"/v1.0/devices/{device}/door-lock/latest/media/url"
        result = await self._get_raw(path, params={"file_type": str(kind.value)})
        if not result:
            return None
        media = await self._decode(result, MediaFile, method="GET", path=path)
        return media if media.file_url else None

    async def albums(self, device_id: str) -> Album:
        """The lock's album of cover images and videos (GET ``/v1.0/smart-lock/devices/{id}/albums-media``).

        Keys may be camelCase (the field table) or snake_case (the sample); event types beyond 0-28 are kept.
        """
        device = check.device_id(device_id)
        path = f"/v1.0/smart-lock/devices/{device}/albums-media"
        return await self._decode(await self._get_raw(path) or {}, Album, method="GET", path=path)

    async def download_media(
        self,
        media: MediaSource,
        *,
        max_bytes: int = DEFAULT_MAX_MEDIA_BYTES,
        # A parameter rather than the caller's own asyncio.timeout: the default protects every caller, and the
        # error it raises names the storage host.
        timeout: float = DEFAULT_MEDIA_TIMEOUT,  # noqa: ASYNC109
    ) -> bytes:
        """Download and decrypt a media file into memory.

        The storage URL is not a Tuya OpenAPI call: it is fetched over ``cloud.http_client`` without signing and
        without retries. More than ``max_bytes`` downloaded raises :class:`~lockcloud.MediaTooLargeError`; a
        download still running after ``timeout`` seconds in total (a server sending a byte now and then) raises
        :class:`~lockcloud.MediaDownloadTimeoutError`.
        """
        url, file_key = _media_source(media)
        limit = check.max_bytes(max_bytes)
        total = seconds(timeout, "timeout")
        decryptor = MediaDecryptor(file_key)
        parts: list[bytes] = []

        async def collect(chunk: bytes) -> None:
            parts.append(decryptor.feed(chunk))

        await download(self._cloud.http_client, url, limit, collect, time_limit=total)
        parts.append(decryptor.finish())
        return b"".join(parts)

    async def download_media_to(
        self,
        path: str | os.PathLike[str],
        media: MediaSource,
        *,
        max_bytes: int = DEFAULT_MAX_MEDIA_BYTES,
        timeout: float = DEFAULT_MEDIA_TIMEOUT,  # noqa: ASYNC109
    ) -> int:
        """Download and decrypt a media file into ``path``, chunk by chunk; returns the bytes written.

        The plaintext goes to ``<path>.part`` first and replaces ``path`` only once the whole file decrypted, so a
        failed download (too large, corrupt, cut off, past its ``timeout``) leaves no partial file behind.
        ``max_bytes`` and ``timeout`` are as for :meth:`download_media`.
        """
        url, file_key = _media_source(media)
        limit = check.max_bytes(max_bytes)
        total = seconds(timeout, "timeout")
        target = Path(path)
        partial = target.with_name(target.name + ".part")
        decryptor = MediaDecryptor(file_key)
        written = 0
        # Opened here, not in a worker thread: with no await before the try, a cancellation cannot leak the handle.
        handle: IO[bytes] = partial.open("wb")
        try:

            async def write(chunk: bytes) -> None:
                nonlocal written
                plain = decryptor.feed(chunk)
                if plain:
                    await asyncio.to_thread(handle.write, plain)
                    written += len(plain)

            await download(self._cloud.http_client, url, limit, write, time_limit=total)
            tail = decryptor.finish()
            await asyncio.to_thread(handle.write, tail)
            written += len(tail)
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(os.replace, partial, target)
        except BaseException:
            await asyncio.to_thread(handle.close)
            with contextlib.suppress(OSError):
                await asyncio.to_thread(partial.unlink)
            raise
        return written


def _media_source(media: MediaSource) -> tuple[str, str]:
    if isinstance(media, MediaFile):
        url: str | None = media.download_url
        key: str | None = media.file_key
    elif isinstance(media, AlbumEntry):
        url, key = media.download_url, media.file_key
    elif isinstance(media, tuple) and len(media) == 2:
        url, key = media
    else:
        raise ValidationError("media must be a MediaFile, an AlbumEntry or a (url, file_key) pair")
    if not isinstance(url, str) or not url:
        raise ValidationError("the media has no file URL to download")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ValidationError("the media file URL must be an absolute http(s) URL")
    if not isinstance(key, str) or not key:
        raise ValidationError("the media has no file_key to decrypt it with")
    return url, key

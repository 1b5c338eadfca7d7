"""Latest media (#19), albums (#20) and the unsigned, capped media download with decryption."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from lockcloud._client import LockCloud
from lockcloud._core.errors import (
    ConnectError,
    CryptoError,
    MediaTooLargeError,
    RequestTimeoutError,
    UnexpectedResponseError,
    ValidationError,
)
from lockcloud.crypto import encrypt_media
from lockcloud.enums import AlbumEventType, MediaFileType, StoragePlan
from lockcloud.models import AlbumEntry, MediaFile

DEVICE = "6cdb36b2e489885fa57lzm"
LATEST_PATH = f"/v1.0/devices/{DEVICE}/door-lock/latest/media/url"
ALBUMS_PATH = f"/v1.0/smart-lock/devices/{DEVICE}/albums-media"
STORAGE = "https://ty-eu-storage.cos.test"
FILE_KEY = "u8kstrtjm7qun83q"
IMAGE = bytes(range(256)) * 40  # 10 KiB of "JPEG"


# -- 19. latest media ----------------------------------------------------------------------------------------------


async def test_latest_media_decodes_the_sample(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.get(LATEST_PATH).respond(
        json=wire.ok(
            {
                "bucket": "ty-cn-storage60-1254153901",
                "file_key": FILE_KEY,
                "file_path": "/3039e1-30532026.jpg",
                "file_url": "https://ty-cn-storage60-1254153901.cos.tuyacn.com",
            }
        )
    )
    media = await cloud.remote_unlock.latest_media(DEVICE)
    assert wire.sent_query(route) == {"file_type": "1"}
    assert media is not None
    assert media.bucket == "ty-cn-storage60-1254153901"
    assert media.download_url == "https://ty-cn-storage60-1254153901.cos.tuyacn.com/3039e1-30532026.jpg"
    assert FILE_KEY not in repr(media)


async def test_latest_media_alert_camel_case_full_url(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    route = api.get(LATEST_PATH).respond(
        json=wire.ok({"fileUrl": f"{STORAGE}/a/b.jpg?sign=x", "fileKey": FILE_KEY, "filePath": "/a/b.jpg"})
    )
    media = await cloud.remote_unlock.latest_media(DEVICE, MediaFileType.ALERT)
    assert wire.sent_query(route) == {"file_type": "2"}
    assert media is not None
    assert media.download_url == f"{STORAGE}/a/b.jpg?sign=x"


@pytest.mark.parametrize("result", [None, {}, {"file_url": "", "file_key": ""}])
async def test_latest_media_none(cloud: LockCloud, api: respx.MockRouter, wire: Any, result: Any) -> None:
    api.get(LATEST_PATH).respond(json=wire.ok(result))
    assert await cloud.remote_unlock.latest_media(DEVICE) is None


# -- 20. albums ----------------------------------------------------------------------------------------------------


async def test_albums_snake_case_sample(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    route = api.get(ALBUMS_PATH).respond(
        json=wire.ok(
            {
                "album_list": [
                    {
                        "event_type": 0,
                        "file_id": 109167468,
                        "file_key": "76679d2579c74eb7",
                        "file_url": "",
                        "upload_time": 1630051337,
                    }
                ],
                "event_types": [0],
                "order_code": "cloud_free_storage_3day",
            }
        )
    )
    album = await cloud.remote_unlock.albums(DEVICE)
    assert route.calls.last.request.url.query == b""
    [entry] = album.entries
    assert entry.event_type is AlbumEventType.ANTI_PRY_ALERT
    assert entry.file_id == 109167468
    assert entry.upload_time == dt.datetime(2021, 8, 27, 8, 2, 17, tzinfo=dt.UTC)
    assert entry.download_url is None
    assert "76679d2579c74eb7" not in repr(album)
    assert album.event_types == [AlbumEventType.ANTI_PRY_ALERT]
    assert album.storage_plan is StoragePlan.FREE_STORAGE_3_DAYS


async def test_albums_camel_case_table_and_unknown_event_types(
    cloud: LockCloud, api: respx.MockRouter, wire: Any
) -> None:
    api.get(ALBUMS_PATH).respond(
        json=wire.ok(
            {
                "albumList": [
                    {
                        "eventType": 16,
                        "fileUrl": f"{STORAGE}/c.jpg",
                        "fileKey": FILE_KEY,
                        "mediaPath": "/v.mp4",
                        "mediaKey": "mk",
                        "mediaBucket": "vb",
                        "uploadTime": 1630051337,
                    },
                    {"eventType": 41, "fileUrl": f"{STORAGE}/d.jpg", "fileKey": FILE_KEY, "newField": [1]},
                ],
                "eventTypes": [16, 41],
                "orderCode": "doorlock_cloud_storage_90day",
            }
        )
    )
    album = await cloud.remote_unlock.albums(DEVICE)
    first, second = album.entries
    assert first.event_type is AlbumEventType.REMOTE_UNLOCK
    assert (first.media_path, first.media_key, first.media_bucket) == ("/v.mp4", "mk", "vb")
    assert first.download_url == f"{STORAGE}/c.jpg"
    assert second.event_type == 41
    assert not second.event_type.is_known
    assert [t.is_known for t in album.event_types] == [True, False]
    assert album.order_code == "doorlock_cloud_storage_90day"
    assert album.order_code is not None
    assert not album.order_code.is_known


async def test_albums_empty(cloud: LockCloud, api: respx.MockRouter, wire: Any) -> None:
    api.get(ALBUMS_PATH).respond(json=wire.ok(None))
    album = await cloud.remote_unlock.albums(DEVICE)
    assert album.entries == []
    assert album.storage_plan is None


async def test_every_documented_event_type_is_known() -> None:
    assert [AlbumEventType(v).is_known for v in range(29)] == [True] * 29
    assert not AlbumEventType(29).is_known


# -- downloads -----------------------------------------------------------------------------------------------------


@pytest.fixture
def storage(api: respx.MockRouter) -> respx.Route:
    return api.get(f"{STORAGE}/img.jpg").respond(content=encrypt_media(IMAGE, FILE_KEY))


async def test_download_media_is_unsigned_and_decrypted(cloud: LockCloud, storage: respx.Route) -> None:
    data = await cloud.remote_unlock.download_media(
        MediaFile(file_url=f"{STORAGE}/img.jpg", file_key=FILE_KEY)
    )
    assert data == IMAGE
    headers = storage.calls.last.request.headers
    for signed in ("sign", "client_id", "access_token", "t"):
        assert signed not in headers


async def test_download_media_from_bucket_root_and_path(cloud: LockCloud, storage: respx.Route) -> None:
    media = MediaFile(file_url=STORAGE, file_key=FILE_KEY, file_path="/img.jpg")
    assert await cloud.remote_unlock.download_media(media) == IMAGE


async def test_download_media_from_album_entry_and_pair(cloud: LockCloud, storage: respx.Route) -> None:
    entry = AlbumEntry(
        event_type=AlbumEventType.REMOTE_UNLOCK, file_url=f"{STORAGE}/img.jpg", file_key=FILE_KEY
    )
    assert await cloud.remote_unlock.download_media(entry) == IMAGE
    assert await cloud.remote_unlock.download_media((f"{STORAGE}/img.jpg", FILE_KEY)) == IMAGE
    assert storage.call_count == 2


async def test_download_over_the_cap_by_content_length(cloud: LockCloud, api: respx.MockRouter) -> None:
    pulled: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        pulled.append(b"x")
        yield b"x" * 2048

    api.get(f"{STORAGE}/big.jpg").mock(
        return_value=httpx.Response(200, headers={"content-length": "2048"}, content=body())
    )
    with pytest.raises(MediaTooLargeError) as info:
        await cloud.remote_unlock.download_media((f"{STORAGE}/big.jpg", FILE_KEY), max_bytes=1024)
    assert info.value.limit == 1024
    # Refused on the declared length, before reading any of the body.
    assert pulled == []


async def test_download_over_the_cap_without_content_length(cloud: LockCloud, api: respx.MockRouter) -> None:
    blob = encrypt_media(IMAGE, FILE_KEY)
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(blob), 1000):
            sent.append(start)
            yield blob[start : start + 1000]

    api.get(f"{STORAGE}/stream.jpg").mock(return_value=httpx.Response(200, content=chunks()))
    with pytest.raises(MediaTooLargeError):
        await cloud.remote_unlock.download_media((f"{STORAGE}/stream.jpg", FILE_KEY), max_bytes=4096)
    # It stopped reading soon after the cap rather than draining the whole body.
    assert len(sent) < len(blob) // 1000


async def test_download_exactly_at_the_cap(cloud: LockCloud, api: respx.MockRouter) -> None:
    blob = encrypt_media(b"tiny", FILE_KEY)
    api.get(f"{STORAGE}/t.jpg").respond(content=blob)
    assert (
        await cloud.remote_unlock.download_media((f"{STORAGE}/t.jpg", FILE_KEY), max_bytes=len(blob))
        == b"tiny"
    )


async def test_download_http_error(cloud: LockCloud, api: respx.MockRouter) -> None:
    api.get(f"{STORAGE}/gone.jpg").respond(403, text="<Error>AccessDenied</Error>")
    with pytest.raises(UnexpectedResponseError) as info:
        await cloud.remote_unlock.download_media((f"{STORAGE}/gone.jpg?sig=SECRETSIG", FILE_KEY))
    assert info.value.status_code == 403
    assert b"AccessDenied" in info.value.body
    assert "SECRETSIG" not in str(info.value)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [(httpx.ConnectError("refused"), ConnectError), (httpx.ReadTimeout("slow"), RequestTimeoutError)],
)
async def test_download_transport_errors(
    cloud: LockCloud, api: respx.MockRouter, exc: Exception, expected: type[Exception]
) -> None:
    api.get(f"{STORAGE}/x.jpg").mock(side_effect=exc)
    with pytest.raises(expected):
        await cloud.remote_unlock.download_media((f"{STORAGE}/x.jpg", FILE_KEY))


async def test_download_wrong_key_or_corrupt(cloud: LockCloud, api: respx.MockRouter) -> None:
    api.get(f"{STORAGE}/bad.jpg").respond(content=encrypt_media(IMAGE, FILE_KEY)[:-7])
    with pytest.raises(CryptoError):
        await cloud.remote_unlock.download_media((f"{STORAGE}/bad.jpg", FILE_KEY))


@pytest.mark.parametrize(
    "media",
    [
        AlbumEntry(event_type=AlbumEventType.ANTI_PRY_ALERT, file_url="", file_key=FILE_KEY),
        AlbumEntry(event_type=AlbumEventType.ANTI_PRY_ALERT, file_url=f"{STORAGE}/a.jpg", file_key=None),
        ("relative/path.jpg", FILE_KEY),
        ("ftp://host/a.jpg", FILE_KEY),
        ("https://host/a.jpg",),
        "https://host/a.jpg",
    ],
)
async def test_download_bad_source_rejected_before_sending(
    cloud: LockCloud, api: respx.MockRouter, media: Any
) -> None:
    with pytest.raises(ValidationError):
        await cloud.remote_unlock.download_media(media)
    assert api.calls.call_count == 0


@pytest.mark.parametrize("max_bytes", [0, -5, True, 1.5])
async def test_download_bad_cap(cloud: LockCloud, api: respx.MockRouter, max_bytes: Any) -> None:
    with pytest.raises(ValidationError):
        await cloud.remote_unlock.download_media((f"{STORAGE}/a.jpg", FILE_KEY), max_bytes=max_bytes)
    assert api.calls.call_count == 0


async def test_download_bad_key_length_before_sending(cloud: LockCloud, api: respx.MockRouter) -> None:
    with pytest.raises(CryptoError):
        await cloud.remote_unlock.download_media((f"{STORAGE}/a.jpg", "short"))
    assert api.calls.call_count == 0


async def test_download_media_to_file(cloud: LockCloud, storage: respx.Route, tmp_path: Path) -> None:
    target = tmp_path / "cover.jpg"
    written = await cloud.remote_unlock.download_media_to(target, (f"{STORAGE}/img.jpg", FILE_KEY))
    assert written == len(IMAGE)
    assert target.read_bytes() == IMAGE
    assert os.listdir(tmp_path) == ["cover.jpg"]


async def test_download_media_to_streams_chunks(
    cloud: LockCloud, api: respx.MockRouter, tmp_path: Path
) -> None:
    blob = encrypt_media(IMAGE, FILE_KEY)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(blob), 777):
            yield blob[start : start + 777]

    api.get(f"{STORAGE}/s.jpg").mock(return_value=httpx.Response(200, content=chunks()))
    target = tmp_path / "s.jpg"
    assert await cloud.remote_unlock.download_media_to(str(target), (f"{STORAGE}/s.jpg", FILE_KEY)) == len(
        IMAGE
    )
    assert target.read_bytes() == IMAGE


@pytest.mark.parametrize("failure", ["corrupt", "too-large", "http"])
async def test_download_media_to_leaves_nothing_on_failure(
    cloud: LockCloud, api: respx.MockRouter, tmp_path: Path, failure: str
) -> None:
    blob = encrypt_media(IMAGE, FILE_KEY)
    route = api.get(f"{STORAGE}/f.jpg")
    if failure == "corrupt":
        route.respond(content=blob[:-16])
    elif failure == "http":
        route.respond(404)
    else:
        route.respond(content=blob)
    target = tmp_path / "f.jpg"
    target.write_bytes(b"previous")
    with pytest.raises((CryptoError, MediaTooLargeError, UnexpectedResponseError)):
        await cloud.remote_unlock.download_media_to(target, (f"{STORAGE}/f.jpg", FILE_KEY), max_bytes=2048)
    assert os.listdir(tmp_path) == ["f.jpg"]
    assert target.read_bytes() == b"previous"

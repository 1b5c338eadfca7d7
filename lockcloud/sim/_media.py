"""Media: the latest-media and album calls over what the locks' cameras captured
(:meth:`~lockcloud.sim._scenario.Scenario.capture`), and where the encrypted objects live.

Objects are stored in Tuya's encrypted container under ``media/<device id>/<file>`` and served, unsigned like a
pre-signed bucket URL, at ``/<object name>`` of the simulator's own URL space.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from lockcloud.sim import _call
from lockcloud.sim._call import Call, Handler, Outcome, fail
from lockcloud.sim._model import SimLock

if TYPE_CHECKING:
    from lockcloud.sim._world import World

__all__ = ["ALERT_EVENTS", "HANDLERS", "MEDIA_PREFIX", "REMOTE_UNLOCK_EVENTS", "AlbumKeyStyle"]

#: Media objects live under this first path segment of the simulator's URL space.
MEDIA_PREFIX = "media"

#: Album event types whose photo is a remote-unlock cover (file_type 1) or an alert cover (file_type 2).
REMOTE_UNLOCK_EVENTS = frozenset({1, 16, 18, 23})
ALERT_EVENTS = frozenset({0, 2, 3, 4, 5, 6, 7, 19, 21, 22, 24, 25})

#: The album's keys as in the document's sample (snake_case) or its field table (camelCase).
AlbumKeyStyle = Literal["snake", "camel"]


def latest_media(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    file_type = _call.integer(call.query.get("file_type"), "file_type")
    if file_type not in (1, 2):
        raise fail(1101, "file_type must be 1 (remote unlock) or 2 (alert)")
    events = REMOTE_UNLOCK_EVENTS if file_type == 1 else ALERT_EVENTS
    candidates = [media for media in lock.media if media.event_type in events]
    if not candidates:
        return Outcome(None, detail={"file_type": file_type})
    media = candidates[-1]
    result = {
        "bucket": media.bucket,
        "file_key": media.file_key,
        "file_path": "/" + media.object_name,
        # Like Tuya's sample: the bucket's root (here the server's root) in file_url, the object in file_path.
        "file_url": call.base_url,
    }
    return Outcome(result, detail={"file_type": file_type, "file_id": media.file_id})


def albums(world: World, lock: SimLock, call: Call) -> Outcome:
    _call.require_applicable(lock, call.action)
    entries = []
    for media in sorted(lock.media, key=lambda m: (m.upload_time, m.file_id), reverse=True):
        entry: dict[str, Any] = {
            "event_type": media.event_type,
            "file_id": media.file_id,
            "file_key": media.file_key,
            "file_url": f"{call.base_url}/{media.object_name}",
            "upload_time": media.upload_time,
        }
        if media.video_object is not None:
            entry.update(
                media_path=f"{call.base_url}/{media.video_object}",
                media_key=media.video_key,
                media_bucket=media.bucket,
            )
        entries.append(entry)
    result = {
        "album_list": entries,
        "event_types": sorted({media.event_type for media in lock.media}),
        "order_code": "cloud_free_storage_3day",
    }
    if world.album_keys == "camel":
        result = _camel_keys(result)
    return Outcome(result, detail={"entries": len(entries)})


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(key): _camel_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel_keys(item) for item in value]
    return value


HANDLERS: Mapping[str, Handler] = {"latest_media": latest_media, "albums": albums}
